#!/usr/bin/python3
"""A libtorrent peer that finds its swarm through the DHT alone, for
ferro-client's DHT interop tests (loopback only: no public bootstrap routers,
the only DHT node it is told about is --dht-node on 127.0.0.1).

  --torrent FILE --save DIR   seed FILE from DIR (announced to the DHT)
  --magnet URI --save DIR     download a bare magnet link (peers from the DHT)

Prints on stdout: LISTENING <port> (TCP and DHT UDP port), FINISHED once
every piece is verified (seeding), PROGRESS <0..1> <peers> once a second.
Exits by itself after --timeout seconds (a leecher also once complete).
"""
import argparse
import os
import sys
import time

try:
    import libtorrent as lt
except ImportError as e:  # the Rust test turns this into a clear failure
    print(f"error: python3-libtorrent is not installed ({e})", file=sys.stderr)
    sys.exit(3)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lt_loopback import loopback_settings  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--torrent")
    ap.add_argument("--magnet")
    ap.add_argument("--save", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--dht-node", required=True)
    ap.add_argument("--timeout", type=float, default=90)
    a = ap.parse_args()

    ses = lt.session(
        loopback_settings(
            a.port,
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
    )
    host, port = a.dht_node.rsplit(":", 1)
    ses.add_dht_node((host, int(port)))
    if a.torrent:
        params = lt.add_torrent_params()
        params.ti = lt.torrent_info(a.torrent)
    else:
        params = lt.parse_magnet_uri(a.magnet)
    params.save_path = a.save
    h = ses.add_torrent(params)
    print("LISTENING %d" % ses.listen_port(), flush=True)
    deadline = time.time() + a.timeout
    next_tick = 0.0
    finished = False
    while time.time() < deadline:
        ses.pop_alerts()
        st = h.status()
        if st.is_seeding and not finished:
            finished = True
            print("FINISHED", flush=True)
            if a.magnet:
                return
        if time.time() >= next_tick:
            next_tick = time.time() + 1
            print("PROGRESS %.3f %d" % (st.progress, st.num_peers), flush=True)
            # Re-announce now and then so a late bootstrap does not wait long.
            h.force_dht_announce()
        time.sleep(0.1)


if __name__ == "__main__":
    main()
