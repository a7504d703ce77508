//! Bencode.
#![deny(missing_docs)]
