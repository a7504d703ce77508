//! HTTP web seeding (BEP 19). It will own the mapping from a torrent's `url-list` entries and magnet `ws=` parameters to per-file URLs, the translation of a piece into HTTP Range requests across file boundaries, and per-URL backoff; the transfer itself runs on reqwest with rustls.
#![deny(missing_docs)]
