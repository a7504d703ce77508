//! Peer wire protocol.
#![deny(missing_docs)]
