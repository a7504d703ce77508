//! Peer exchange (BEP 11, `ut_pex`), sans-IO.
//!
//! - [`PexMessage`]: the message codec (`added`, `added.f`, `added6`,
//!   `added6.f`, `dropped`, `dropped6`, compact forms) with typed [`PeerFlags`].
//! - [`PexState`]: one connection's exchange. Outgoing, it computes what changed
//!   since our last message to that peer, at most one message a minute and at
//!   most 50 added and 50 dropped peers per message. Incoming, it enforces the
//!   same limits on the peer: excess entries are trimmed and messages sent too
//!   often are ignored, and both are counted against the peer.
//!
//! BEP 27: a client must not use PEX on private torrents; that choice is the
//! caller's (ferro-client never creates a `PexState` for them).
//!
//! ```
//! use std::collections::BTreeMap;
//! use std::time::Instant;
//! use ferro_pex::{PexConfig, PexMessage, PexState, PeerFlags};
//!
//! let now = Instant::now();
//! let mut ours = PexState::new(PexConfig::default(), now);
//! let swarm = BTreeMap::from([("127.0.0.1:6881".parse()?, PeerFlags::SEED)]);
//! let msg = ours.poll_message(now + std::time::Duration::from_secs(60), &swarm).unwrap();
//! let wire = msg.encode();
//!
//! let mut theirs = PexState::new(PexConfig::default(), now);
//! let update = theirs.on_message(now, &PexMessage::decode(&wire)?);
//! assert_eq!(update.added, [("127.0.0.1:6881".parse()?, PeerFlags::SEED)]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

mod message;
mod state;

pub use message::{Error, PeerFlags, PexMessage};
pub use state::{PexConfig, PexState, PexUpdate};
