#!/usr/bin/python3
"""A libtorrent leecher given only a magnet link, for ferro-client's interop
tests (loopback only): fetches the metadata (BEP 9) from the --peer it dials
and downloads into --save.
Prints one line per event on stdout:
  LISTENING <port>
  METADATA                (the info dictionary arrived)
  FINISHED                (every piece is verified)
  PROGRESS <0..1> <peers>  (once a second)
Exits by itself after --timeout seconds, or once complete.
"""
import argparse
import os
import sys
import time

import libtorrent as lt

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lt_loopback import loopback_settings  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--magnet", required=True)
    ap.add_argument("--save", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--peer", action="append", default=[])
    ap.add_argument("--timeout", type=float, default=60)
    a = ap.parse_args()

    ses = lt.session(loopback_settings(a.port))
    params = lt.parse_magnet_uri(a.magnet)
    params.save_path = a.save
    h = ses.add_torrent(params)
    print("LISTENING %d" % ses.listen_port(), flush=True)
    deadline = time.time() + a.timeout
    next_tick = 0.0
    have_metadata = False
    while time.time() < deadline:
        ses.pop_alerts()
        st = h.status()
        if st.has_metadata and not have_metadata:
            have_metadata = True
            print("METADATA", flush=True)
        if st.is_seeding:
            print("FINISHED", flush=True)
            return
        if time.time() >= next_tick:
            next_tick = time.time() + 1
            print("PROGRESS %.3f %d" % (st.progress, st.num_peers), flush=True)
            # Keep dialing the given peers: the first attempt may race their start.
            if st.num_peers == 0:
                for p in a.peer:
                    host, port = p.rsplit(":", 1)
                    h.connect_peer((host, int(port)))
        time.sleep(0.1)


if __name__ == "__main__":
    main()
