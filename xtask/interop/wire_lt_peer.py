#!/usr/bin/python3
"""A libtorrent seeder on 127.0.0.1 for ferro-wire's interop test.

Usage: wire_lt_peer.py WORKDIR [--timeout SECONDS] [--size BYTES]

Creates a small file and a torrent for it in WORKDIR, seeds it from a
libtorrent session listening on 127.0.0.1 (an ephemeral port), and prints

    info_hash <40 hex digits>
    port <tcp port>
    ready

on stdout. It exits when stdin closes or after --timeout seconds, whichever
comes first. DHT, LSD, UPnP, NAT-PMP and uTP are off; nothing leaves loopback.
"""

import argparse
import os
import select
import sys
import time

try:
    import libtorrent as lt
except ImportError as e:  # the Rust test turns this into a clear failure
    print(f"error: python3-libtorrent is not installed ({e})", file=sys.stderr)
    sys.exit(3)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lt_loopback import loopback_settings  # noqa: E402


def make_torrent(workdir, size):
    data_dir = os.path.join(workdir, "seed")
    os.makedirs(data_dir, exist_ok=True)
    path = os.path.join(data_dir, "wire_payload.bin")
    with open(path, "wb") as f:
        f.write(os.urandom(size))
    fs = lt.file_storage()
    lt.add_files(fs, path)
    ct = lt.create_torrent(fs, 16 * 1024)
    lt.set_piece_hashes(ct, data_dir)
    torrent = os.path.join(workdir, "wire_payload.torrent")
    with open(torrent, "wb") as f:
        f.write(lt.bencode(ct.generate()))
    return torrent, data_dir


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("workdir")
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--size", type=int, default=200 * 1024)
    args = ap.parse_args()
    deadline = time.monotonic() + args.timeout

    torrent, data_dir = make_torrent(args.workdir, args.size)
    settings = loopback_settings(
        alert_mask=0,
    )
    ses = lt.session(settings)
    ti = lt.torrent_info(torrent)
    h = ses.add_torrent({"ti": ti, "save_path": data_dir})

    # Wait (bounded) until the data is checked and we seed.
    while time.monotonic() < deadline:
        st = h.status()
        if st.is_seeding:
            break
        time.sleep(0.05)
    else:
        print("error: libtorrent never started seeding", file=sys.stderr)
        sys.exit(4)

    print(f"info_hash {ti.info_hash()}", flush=True)
    print(f"port {ses.listen_port()}", flush=True)
    print("ready", flush=True)

    # Serve until stdin closes (the test's guard dropped us) or the timeout.
    while time.monotonic() < deadline:
        r, _, _ = select.select([sys.stdin], [], [], 0.2)
        if r and not sys.stdin.buffer.read1(4096):
            break
    del ses


if __name__ == "__main__":
    main()
