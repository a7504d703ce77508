#!/usr/bin/python3
"""libtorrent downloading a torrent from its web seeds alone, for ferro-webseed's
interop tests.

  webseed_lt.py FILE.torrent SAVE_PATH TIMEOUT_SECS

Adds the torrent (its url-list names the web seed, e.g. nginx on 127.0.0.1)
with no peers, waits until libtorrent has every piece or TIMEOUT_SECS pass,
and prints JSON: finished, progress, pieces, web seeds. The session listens
on 127.0.0.1 only with DHT, LSD, UPnP, NAT-PMP and uTP off; the process
exits by itself within a hard timeout.
"""
import json
import os
import sys
import time

import libtorrent as lt

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lt_loopback import hard_timeout, loopback_settings  # noqa: E402


def main():
    torrent, save_path, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3])
    hard_timeout(timeout + 15, "hard timeout")
    settings = loopback_settings(
        alert_mask=lt.alert.category_t.error_notification | lt.alert.category_t.status_notification,
    )
    ses = lt.session(settings)
    ti = lt.torrent_info(torrent)
    h = ses.add_torrent({"ti": ti, "save_path": save_path})
    deadline = time.time() + timeout
    finished = False
    while time.time() < deadline:
        s = h.status()
        if s.is_seeding or s.is_finished:
            finished = True
            break
        for a in ses.pop_alerts():
            print("alert:", a.message(), file=sys.stderr)
        time.sleep(0.1)
    s = h.status()
    print(json.dumps({
        "finished": finished,
        "progress": s.progress,
        "pieces": sum(1 for p in s.pieces if p),
        "num_pieces": ti.num_pieces(),
        "web_seeds": [w["url"] for w in ti.web_seeds()],
    }))
    ses.remove_torrent(h)
    del ses
    sys.exit(0 if finished else 1)


main()
