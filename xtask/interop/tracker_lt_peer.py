#!/usr/bin/python3
"""A libtorrent peer for ferro-tracker's interop tests (loopback only).

--seed: makes a payload and a .torrent announcing to --tracker, then seeds it.
Otherwise: leeches --torrent into --workdir.
Prints one line per event on stdout:
  INFOHASH <hex>          (seed mode, once the torrent file is written)
  TRACKER_REPLY <n>       (peers in a tracker reply; the tracker never lists us)
  PEERS <ip:port,...>     (connected peers, once a second)
  FINISHED                (the torrent is complete)
Exits by itself after --timeout seconds, or when <workdir>/stop exists.
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
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--tracker")
    ap.add_argument("--torrent", required=True)
    ap.add_argument("--seed", action="store_true")
    ap.add_argument("--size", type=int, default=1 << 20)
    ap.add_argument("--timeout", type=float, default=60)
    a = ap.parse_args()

    save = os.path.join(a.workdir, "data")
    os.makedirs(save, exist_ok=True)
    if a.seed:
        payload = os.path.join(save, "payload.bin")
        with open(payload, "wb") as f:
            f.write(os.urandom(a.size))
        fs = lt.file_storage()
        lt.add_files(fs, payload)
        # v1 only: aria2 1.36 does not know BEP 52 hybrid torrents and would
        # announce a different info-hash.
        ct = lt.create_torrent(fs, 64 * 1024, flags=lt.create_torrent.v1_only)
        ct.add_tracker(a.tracker)
        lt.set_piece_hashes(ct, save)
        with open(a.torrent, "wb") as f:
            f.write(lt.bencode(ct.generate()))

    settings = loopback_settings(
        a.port,
        min_announce_interval=1,
        alert_mask=lt.alert.category_t.all_categories,
    )
    ses = lt.session(settings)
    ti = lt.torrent_info(a.torrent)
    print("INFOHASH %s" % str(ti.info_hashes().v1), flush=True)
    h = ses.add_torrent({"ti": ti, "save_path": save})
    deadline = time.time() + a.timeout
    next_tick = 0.0
    finished = False
    while time.time() < deadline and not os.path.exists(os.path.join(a.workdir, "stop")):
        for al in ses.pop_alerts():
            if isinstance(al, lt.tracker_reply_alert):
                print("TRACKER_REPLY %d" % al.num_peers, flush=True)
            elif isinstance(al, lt.tracker_error_alert):
                print("TRACKER_ERROR %s" % al.message(), flush=True)
        st = h.status()
        if st.is_seeding and not finished:
            finished = True
            print("FINISHED", flush=True)
        if time.time() >= next_tick:
            next_tick = time.time() + 1.0
            peers = ["%s:%d" % p.ip for p in h.get_peer_info()]
            print("PEERS %s" % ",".join(peers), flush=True)
            # Re-announce often so the tracker's newest peers reach us quickly.
            h.force_reannounce(0, -1, lt.reannounce_flags_t.ignore_min_interval)
        ses.wait_for_alert(200)
    return 0


if __name__ == "__main__":
    sys.exit(main())
