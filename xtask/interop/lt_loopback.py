"""The settings every libtorrent session of Ferro's interop tests starts from.

Loopback only: it listens on and connects from 127.0.0.1. DHT (bootstrap
emptied), LSD, UPnP, NAT-PMP and the IP notifier are off, and so is uTP
(TCP is the subject; on loopback uTP is also several times slower). Every peer
shares 127.0.0.1, so several connections per IP are allowed. The settings go
to the session constructor, so nothing is contacted even briefly.
"""

import os
import signal
import sys

import libtorrent as lt


def loopback_settings(port=0, host="127.0.0.1", **extra):
    """Safe loopback settings; `extra` overrides or adds keys (e.g. enable_dht=True).

    `host` is the one address it listens on and connects from (a 127.0.0.0/8
    address, or a 10.77.0.x one inside the interop matrix's private network
    namespace, which has no route out).
    """
    settings = {
        "listen_interfaces": "%s:%d" % (host, port),
        "outgoing_interfaces": host,
        "enable_dht": False,
        "dht_bootstrap_nodes": "",
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_ip_notifier": False,
        "enable_incoming_utp": False,
        "enable_outgoing_utp": False,
        "allow_multiple_connections_per_ip": True,
    }
    settings.update(extra)
    return settings


def loopback_session(port=0, **extra):
    """A libtorrent session with `loopback_settings(port, **extra)`."""
    return lt.session(loopback_settings(port, **extra))


def addr(text):
    """("host", port) from "host:port"."""
    host, port = text.rsplit(":", 1)
    return (host, int(port))


def connect_peers(handle, peers):
    """Dials every "host:port" of `peers` for the torrent `handle`."""
    for p in peers:
        handle.connect_peer(addr(p))


def hard_timeout(seconds, what="timeout"):
    """Ends the process (exit 3, `what` on stderr) after `seconds`, whatever it is doing."""
    signal.signal(signal.SIGALRM, lambda *_: (print(what, file=sys.stderr), os._exit(3)))
    signal.alarm(int(seconds))
