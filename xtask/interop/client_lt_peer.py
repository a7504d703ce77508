#!/usr/bin/python3
"""A libtorrent peer for ferro-client's interop tests (loopback only).

Seeds (--seed: the data must already be in --save) or leeches --torrent into
--save, announcing to the torrent's trackers and dialing each --peer.
Prints one line per event on stdout:
  LISTENING <port>
  FINISHED                (every piece is verified)
  PROGRESS <0..1> <peers>  (once a second)
Exits by itself after --timeout seconds, when <save>/../stop exists, or
(--exit-on-finish) once complete.
"""
import argparse
import os
import time

import sys
import libtorrent as lt

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lt_loopback import connect_peers, loopback_settings  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--torrent", required=True)
    ap.add_argument("--save", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--seed", action="store_true")
    ap.add_argument("--peer", action="append", default=[])
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--exit-on-finish", action="store_true")
    a = ap.parse_args()

    settings = loopback_settings(
        a.port,
        min_announce_interval=1,
    )
    ses = lt.session(settings)
    ti = lt.torrent_info(a.torrent)
    params = {"ti": ti, "save_path": a.save}
    h = ses.add_torrent(params)
    print("LISTENING %d" % ses.listen_port(), flush=True)
    connect_peers(h, a.peer)
    stop = os.path.join(os.path.dirname(os.path.abspath(a.save)), "stop")
    deadline = time.time() + a.timeout
    next_tick = 0.0
    finished = False
    while time.time() < deadline and not os.path.exists(stop):
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
            # Keep dialing the given peers: the first attempt may race their start.
            if not finished and st.num_peers == 0:
                connect_peers(h, a.peer)
        time.sleep(0.1)


if __name__ == "__main__":
    main()
