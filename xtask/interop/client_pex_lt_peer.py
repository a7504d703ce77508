#!/usr/bin/python3
"""A libtorrent peer for ferro-client's PEX interop tests (loopback only).

Like client_lt_peer.py, but keeps seed-to-seed links
(close_redundant_connections off) and prints the peers it is connected to:
  LISTENING <port>
  FINISHED                       (every piece is verified)
  PEERS <ip:port:source> ...     (once a second; source is "pex" when the
                                  peer was learned by peer exchange, else a number)
Exits by itself after --timeout seconds. --no-pex leaves libtorrent's ut_pex
plugin out.
"""
import argparse
import os
import sys
import time

import libtorrent as lt

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lt_loopback import connect_peers, loopback_settings  # noqa: E402

# libtorrent's peer_info source bit for peers learned through ut_pex.
PEX_SOURCE = int(getattr(lt.peer_info, "pex", 4))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--torrent", required=True)
    ap.add_argument("--save", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--seed", action="store_true")
    ap.add_argument("--peer", action="append", default=[])
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--no-pex", action="store_true",
                    help="no ut_pex plugin: this peer neither sends nor hears PEX")
    a = ap.parse_args()

    settings = loopback_settings(
        a.port,
        min_announce_interval=1,
        close_redundant_connections=False,
    )
    if a.no_pex:
        # No default plugins, so no ut_pex; ut_metadata is added back.
        ses = lt.session(settings, 0)
        ses.add_extension("ut_metadata")
    else:
        ses = lt.session(settings)
    ti = lt.torrent_info(a.torrent)
    h = ses.add_torrent({"ti": ti, "save_path": a.save})
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
        if time.time() >= next_tick:
            next_tick = time.time() + 1
            peers = []
            for p in h.get_peer_info():
                src = "pex" if int(p.source) & PEX_SOURCE else str(int(p.source))
                peers.append("%s:%d:%s" % (p.ip[0], p.ip[1], src))
            print("PEERS " + " ".join(peers), flush=True)
            # Keep dialing the given peers that are not connected yet.
            connected = {"%s:%d" % (p.ip[0], p.ip[1]) for p in h.get_peer_info()}
            connect_peers(h, [p for p in a.peer if p not in connected])
        time.sleep(0.1)


if __name__ == "__main__":
    main()
