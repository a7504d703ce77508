//! The extension protocol on one connection (BEP 10): our extended
//! handshake, the peer's, and dispatch of extension messages to ut_metadata
//! (BEP 9, [`crate::metadata`]) and ut_pex (BEP 11, [`crate::pex`]).

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use ferro_wire::{ExtendedHandshake, Message};

use super::Peer;
use crate::Error;

/// Bounds for the peer's `reqq` (BEP 10): at least one request, and never
/// more than we would keep in flight anyway.
const REQQ_RANGE: (u32, u32) = (1, 4096);

impl Peer {
    /// Our extended handshake (BEP 10): listen port, client name, `reqq`,
    /// the address we see the peer at, and the extensions we speak.
    pub(super) fn extended_handshake(&self) -> Result<Message, Error> {
        let mut ext = ExtendedHandshake {
            p: Some(self.shared.listen_port),
            v: Some(concat!("Ferro ", env!("CARGO_PKG_VERSION")).to_owned()),
            reqq: Some(self.shared.config.max_request_queue),
            ..ExtendedHandshake::default()
        };
        ext.yourip = Some(self.addr.ip());
        let ext = crate::metadata::advertise(ext, crate::metadata::servable(&self.shared.info));
        let ext = crate::pex::advertise(ext, &self.shared);
        Ok(ext.to_message()?)
    }

    /// An extension message: the peer's extended handshake (id 0) or a
    /// message under one of the ids we advertised.
    pub(super) fn on_extended(&mut self, id: u8, payload: Bytes) -> Result<(), Error> {
        if id == ferro_wire::EXTENDED_HANDSHAKE_ID {
            if let Ok(h) = ExtendedHandshake::from_bytes(&payload) {
                self.on_extended_handshake(&h);
            }
        } else if id == crate::pex::UT_PEX_ID {
            self.pex
                .on_message(&self.shared, &payload, Instant::now())
                .map_err(|r| self.fail(r))?;
        } else if id == crate::metadata::UT_METADATA_ID
            && let Some(theirs) = self.ut_metadata
            && let Some(m) = crate::metadata::answer(
                crate::metadata::servable(&self.shared.info),
                &payload,
                theirs,
            )
        {
            self.send(&m);
        }
        Ok(())
    }

    fn on_extended_handshake(&mut self, h: &ExtendedHandshake) {
        self.ut_metadata = h.extension_id("ut_metadata");
        self.pex.on_handshake(&self.shared, h, Instant::now());
        if let Some(q) = h.reqq {
            self.reqq = q.clamp(REQQ_RANGE.0, REQQ_RANGE.1);
        }
        if let Some(port) = h.p
            && port != 0
            && !self.listen_seen
        {
            self.listen_seen = true;
            // Where the peer listens, for reconnecting later.
            let listen = SocketAddr::new(self.addr.ip(), port);
            // Through add_known: bounded like every other source.
            self.shared.add_known([listen]);
            self.set_slot(|s| s.listen = Some(listen));
        }
    }
}
