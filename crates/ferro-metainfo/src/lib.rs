//! Metainfo.
#![deny(missing_docs)]
