#!/usr/bin/python3
"""libtorrent DHT nodes on 127.0.0.1 for ferro-dht's interop test.

Usage: dht_lt_nodes.py FERRO_PORT [--sessions N] [--timeout SECONDS]

Starts N libtorrent sessions (DHT on, no bootstrap routers, loopback-friendly
DHT settings; LSD, UPnP, NAT-PMP, uTP off) listening on ephemeral ports of
127.0.0.1, tells each about the Ferro node at 127.0.0.1:FERRO_PORT and about
each other, and prints

    ports <p1> <p2> ...
    ready

Then it reads commands, one a line, on stdin:

    nodes                      -> "nodes <count per session ...> ferro <0|1 per session>"
    announce <hex>             -> session 0 adds a torrent with that info-hash (no
                                  metadata, no trackers), so libtorrent announces it to
                                  the DHT on its listen port; "announced <port>"
    get_peers <i> <hex>        -> session i looks the info-hash up; "peers <ip:port> ..."
    quit

It exits on "quit", when stdin closes, or after --timeout seconds.
"""

import argparse
import select
import shutil
import os
import sys
import tempfile
import time
import warnings

try:
    import libtorrent as lt
except ImportError as e:  # the Rust test turns this into a clear failure
    print(f"error: python3-libtorrent is not installed ({e})", file=sys.stderr)
    sys.exit(3)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lt_loopback import loopback_settings  # noqa: E402


def say(line):
    print(line, flush=True)


def make_session():
    settings = loopback_settings(
        enable_dht=True,
        dht_restrict_routing_ips=False,
        dht_restrict_search_ips=False,
        dht_prefer_verified_node_ids=False,
        dht_ignore_dark_internet=False,
        dht_enforce_node_id=False,
        # Everyone shares 127.0.0.1: do not rate-limit or block it.
        dht_block_ratelimit=100000,
        dht_announce_interval=5,
        dht_upload_rate_limit=1000000,
        alert_mask=lt.alert.category_t.dht_notification | lt.alert.category_t.dht_operation_notification | lt.alert.category_t.status_notification,
    )
    return lt.session(settings)


def wait_port(ses, deadline):
    while time.monotonic() < deadline:
        port = ses.listen_port()
        if port:
            return port
        time.sleep(0.05)
    raise SystemExit("libtorrent did not start listening")


def live_nodes(ses):
    """The (ip, port) endpoints in the session's DHT routing table."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dht_state() is deprecated but exact
        state = ses.dht_state()
    out = []
    for n in state.get(b"nodes", []):
        if len(n) == 6:
            out.append((".".join(str(b) for b in n[:4]), int.from_bytes(n[4:6], "big")))
    return out


def get_peers(ses, info_hash, wait=15.0):
    ses.dht_get_peers(info_hash)
    found = set()
    end = time.monotonic() + wait
    while time.monotonic() < end:
        ses.wait_for_alert(200)
        for a in ses.pop_alerts():
            if isinstance(a, lt.dht_get_peers_reply_alert) and a.info_hash == info_hash:
                for ip, port in a.peers():
                    found.add(f"{ip}:{port}")
        if found:
            # Give the rest of the lookup a moment, then answer.
            time.sleep(0.5)
            for a in ses.pop_alerts():
                if isinstance(a, lt.dht_get_peers_reply_alert) and a.info_hash == info_hash:
                    for ip, port in a.peers():
                        found.add(f"{ip}:{port}")
            break
    return sorted(found)


def main():
    workdir = tempfile.mkdtemp(prefix="ferro-dht-interop-")
    try:
        serve(workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def serve(workdir):
    ap = argparse.ArgumentParser()
    ap.add_argument("ferro_port", type=int)
    ap.add_argument("--sessions", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=90.0)
    args = ap.parse_args()
    deadline = time.monotonic() + args.timeout

    sessions = [make_session() for _ in range(args.sessions)]
    ports = [wait_port(s, deadline) for s in sessions]
    for s in sessions:
        s.add_dht_node(("127.0.0.1", args.ferro_port))
        for p in ports:
            s.add_dht_node(("127.0.0.1", p))
    say("ports " + " ".join(str(p) for p in ports))
    say("ready")

    while time.monotonic() < deadline:
        ready, _, _ = select.select([sys.stdin], [], [], 0.2)
        for s in sessions:
            s.pop_alerts()  # keep the alert queues short
        if not ready:
            continue
        line = sys.stdin.readline()
        if not line:
            return
        cmd = line.split()
        if not cmd:
            continue
        if cmd[0] == "quit":
            return
        if cmd[0] == "nodes":
            tables = [live_nodes(s) for s in sessions]
            counts = " ".join(str(len(t)) for t in tables)
            ferro = " ".join(
                "1" if any(int(n[1]) == args.ferro_port for n in t) else "0" for t in tables
            )
            say(f"nodes {counts} ferro {ferro}")
        elif cmd[0] == "announce":
            # session.dht_announce() cannot be called from the 2.0.8 Python
            # bindings (its flags type is not exported), so add the torrent:
            # libtorrent announces every public torrent to the DHT.
            atp = lt.add_torrent_params()
            atp.info_hashes = lt.info_hash_t(lt.sha1_hash(bytes.fromhex(cmd[1])))
            atp.save_path = workdir
            sessions[0].add_torrent(atp)
            say(f"announced {ports[0]}")
        elif cmd[0] == "get_peers":
            ih = lt.sha1_hash(bytes.fromhex(cmd[2]))
            say("peers " + " ".join(get_peers(sessions[int(cmd[1])], ih)))
        else:
            say(f"error unknown command {cmd[0]}")


if __name__ == "__main__":
    main()
