#!/usr/bin/python3
"""libtorrent's view of .torrent files, for ferro-metainfo's interop tests.

  metainfo_lt.py create PATH OUT.torrent PIECE_SIZE v1|hybrid
      make a torrent of PATH with libtorrent; print its v1 info-hash
  metainfo_lt.py load FILE.torrent
      print libtorrent's view as JSON: v1 info-hash, name, files, sizes
  metainfo_lt.py check FILE.torrent SAVE_PATH
      add the torrent to a session over existing data, let libtorrent hash
      it, and print JSON with the number of pieces it found valid

The session (check) listens on 127.0.0.1 only with DHT, LSD, UPnP, NAT-PMP
and uTP off; nothing talks to the network. Every command exits by itself
within a hard timeout.
"""
import json
import os
import sys
import time

import libtorrent as lt

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lt_loopback import hard_timeout, loopback_settings  # noqa: E402

HARD_TIMEOUT = 60
hard_timeout(HARD_TIMEOUT)


def create(path, out, piece_size, kind):
    fs = lt.file_storage()
    lt.add_files(fs, path)
    flags = lt.create_torrent.v1_only if kind == "v1" else 0
    t = lt.create_torrent(fs, int(piece_size), flags=flags)
    t.set_creator("libtorrent interop")
    lt.set_piece_hashes(t, os.path.dirname(os.path.abspath(path)))
    data = lt.bencode(t.generate())
    with open(out, "wb") as f:
        f.write(data)
    print(str(lt.torrent_info(data).info_hashes().v1))


def view(ti):
    fs = ti.files()
    return {
        "info_hash": str(ti.info_hashes().v1),
        "name": ti.name(),
        "total_size": ti.total_size(),
        "num_pieces": ti.num_pieces(),
        "piece_length": ti.piece_length(),
        "files": [
            {"path": fs.file_path(i), "size": fs.file_size(i), "pad": bool(fs.file_flags(i) & lt.file_storage.flag_pad_file)}
            for i in range(fs.num_files())
        ],
        # (tier, url) sorted: libtorrent shuffles URLs within a tier (BEP 12).
        "trackers": sorted([t.tier, t.url] for t in ti.trackers()),
        "web_seeds": [w["url"] for w in ti.web_seeds()],
        "private": ti.priv(),
    }


def load(path):
    print(json.dumps(view(lt.torrent_info(path))))


def check(path, save_path):
    settings = loopback_settings(
        alert_mask=0,
    )
    ses = lt.session(settings)
    ti = lt.torrent_info(path)
    h = ses.add_torrent({"ti": ti, "save_path": save_path})
    deadline = time.time() + HARD_TIMEOUT - 10
    done = (lt.torrent_status.seeding, lt.torrent_status.finished, lt.torrent_status.downloading)
    # Wait for the check of the files to end: seeding if every piece
    # verified, downloading if some did not.
    while time.time() < deadline and h.status().state not in done:
        time.sleep(0.1)
    st = h.status()
    print(json.dumps({"info_hash": str(h.info_hashes().v1), "num_pieces": st.num_pieces, "state": str(st.state)}))
    ses.remove_torrent(h)


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"create": create, "load": load, "check": check}[cmd](*args)
