//! The BitTorrent client that composes Ferro's protocol crates. It will own the session (listener, DHT, torrents, persisted state), torrents (metadata, piece picker, peers from every source, choker, tracker announcer), one task per peer connection, disk storage with hashing off the async threads, and resume data.
#![deny(missing_docs)]
