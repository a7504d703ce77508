#!/usr/bin/python3
"""libtorrent as one party of a `cargo xtask interop` matrix case (loopback only).

  --create DIR --out FILE [--tracker URL] [--web-seed URL] [--pad] [--piece-length N]
      write a .torrent of DIR (BEP 47 padding files with --pad) and exit.
  --torrent FILE | --magnet URI, --save DIR, --port N
      seed (the data is in DIR) or leech; dial every --peer (again while not
      connected); with --dht-node HOST:PORT the DHT is on (loopback rules,
      public bootstrap emptied) and the torrent is announced to it.

Prints on stdout: LISTENING <port>, FINISHED (every piece verified), once a
second PROGRESS <0..1> <peers>, and PEX <ip:port> for each connected peer
that libtorrent learned through ut_pex (BEP 11).
Exits by itself after --timeout seconds, or with --exit-on-finish once complete.
"""
import argparse
import os
import sys
import time

try:
    import libtorrent as lt
except ImportError as e:  # the Rust side turns this into a clear failure
    print(f"error: python3-libtorrent is not installed ({e})", file=sys.stderr)
    sys.exit(3)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lt_loopback import addr, connect_peers, loopback_settings  # noqa: E402

PEX_SOURCE = int(getattr(lt.peer_info, "pex", 4))


def create(a):
    fs = lt.file_storage()
    lt.add_files(fs, a.create)
    # A v1 torrent (Ferro speaks BEP 3, not BEP 52); canonical_files puts a
    # BEP 47 padding file after every file so each starts on a piece boundary.
    flags = lt.create_torrent.v1_only
    if a.pad:
        flags |= lt.create_torrent.canonical_files
    t = lt.create_torrent(fs, a.piece_length, flags=flags)
    for url in a.tracker:
        t.add_tracker(url)
    for url in a.web_seed:
        t.add_url_seed(url)
    lt.set_piece_hashes(t, os.path.dirname(os.path.abspath(a.create)))
    with open(a.out, "wb") as f:
        f.write(lt.bencode(t.generate()))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--create")
    ap.add_argument("--out")
    ap.add_argument("--pad", action="store_true")
    ap.add_argument("--piece-length", type=int, default=262144)
    ap.add_argument("--tracker", action="append", default=[])
    ap.add_argument("--web-seed", action="append", default=[])
    ap.add_argument("--torrent")
    ap.add_argument("--magnet")
    ap.add_argument("--save")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--peer", action="append", default=[])
    ap.add_argument("--dht-node")
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--exit-on-finish", action="store_true")
    a = ap.parse_args()
    if a.create:
        create(a)
        return

    extra = dict(
        min_announce_interval=1,
        # Seeds keep their links to seeds, so PEX has something to tell.
        close_redundant_connections=False,
    )
    if a.dht_node:
        extra.update(
            enable_dht=True,
            dht_restrict_routing_ips=False,
            dht_restrict_search_ips=False,
            dht_prefer_verified_node_ids=False,
            dht_ignore_dark_internet=False,
            dht_enforce_node_id=False,
            dht_block_ratelimit=100000,
            dht_announce_interval=5,
            dht_upload_rate_limit=1000000,
        )
    ses = lt.session(loopback_settings(a.port, a.bind, **extra))
    if a.dht_node:
        ses.add_dht_node(addr(a.dht_node))
    if a.torrent:
        params = lt.add_torrent_params()
        params.ti = lt.torrent_info(a.torrent)
    else:
        params = lt.parse_magnet_uri(a.magnet)
    params.save_path = a.save
    h = ses.add_torrent(params)
    print("LISTENING %d" % ses.listen_port(), flush=True)
    connect_peers(h, a.peer)
    deadline = time.time() + a.timeout
    next_tick = 0.0
    finished = False
    pex_seen = set()
    while time.time() < deadline:
        ses.pop_alerts()
        st = h.status()
        if st.is_seeding and not finished:
            finished = True
            print("FINISHED", flush=True)
            if a.exit_on_finish:
                return
        if time.time() >= next_tick:
            next_tick = time.time() + 1
            print("PROGRESS %.3f %d" % (st.progress, st.num_peers), flush=True)
            for p in h.get_peer_info():
                key = "%s:%d" % (p.ip[0], p.ip[1])
                if int(p.source) & PEX_SOURCE and key not in pex_seen:
                    pex_seen.add(key)
                    print("PEX %s" % key, flush=True)
            if not finished and st.num_peers == 0:
                connect_peers(h, a.peer)
            if a.dht_node:
                h.force_dht_announce()
        time.sleep(0.1)


if __name__ == "__main__":
    main()
