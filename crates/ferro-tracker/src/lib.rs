//! Trackers.
#![deny(missing_docs)]
