//! Peer exchange (BEP 11, `ut_pex`) on one connection: we advertise it in
//! the extended handshake (never for private torrents, BEP 27), tell the peer
//! which peers we are connected to, and add the peers it tells us about to
//! the torrent's known peers with their source recorded.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use ferro_pex::{PeerFlags, PexConfig, PexMessage, PexState};
use ferro_wire::{ExtendedHandshake, Message};

use crate::picker::PeerKey;
use crate::torrent::{State, TorrentShared};

/// The id we ask peers to send ut_pex messages under (BEP 10 `m`).
pub(crate) const UT_PEX_ID: u8 = 1;

/// Limit violations (messages too frequent, too long, bogus addresses)
/// after which the peer is disconnected.
pub(crate) const MAX_VIOLATIONS: u32 = 5;

/// Known addresses learned from PEX kept per torrent, a share of all known
/// ones: peers lying through PEX cannot fill the list and leave no room for
/// what trackers and the DHT find.
pub(crate) const MAX_KNOWN_FROM_PEX: usize = 1000;

/// Whether PEX runs for this torrent: on in the config, and never for a
/// private torrent (BEP 27: its peers come from its tracker only).
fn enabled(shared: &TorrentShared) -> bool {
    shared.config.pex && !shared.info.is_private()
}

/// Adds ut_pex to our extended handshake when PEX runs for this torrent.
pub(crate) fn advertise(ext: ExtendedHandshake, shared: &TorrentShared) -> ExtendedHandshake {
    if enabled(shared) {
        ext.with_extension("ut_pex", UT_PEX_ID)
    } else {
        ext
    }
}

/// One connection's exchange, once the peer's extended handshake said it
/// speaks ut_pex.
#[derive(Debug, Default)]
pub(crate) struct PexLink {
    /// The peer's id for ut_pex and our exchange state with it.
    link: Option<(u8, PexState)>,
    /// Our address as the peer sees it (`yourip`), to never learn ourselves.
    our_ip: Option<std::net::IpAddr>,
    /// Messages that did not decode; they count as violations too.
    undecodable: u32,
    /// The exchange state while a later handshake has turned ut_pex off:
    /// turning it on again resumes it, so its violations are not forgotten.
    parked: Option<PexState>,
}

impl PexLink {
    /// Reads the peer's extended handshake: starts the exchange when both
    /// sides speak ut_pex and the torrent is public.
    pub(crate) fn on_handshake(
        &mut self,
        shared: &TorrentShared,
        h: &ExtendedHandshake,
        now: Instant,
    ) {
        self.our_ip = h.yourip;
        if !enabled(shared) {
            return;
        }
        match h.extension_id("ut_pex") {
            Some(id) if self.link.is_none() => {
                let cfg = PexConfig {
                    interval: shared.config.pex_interval,
                    ..PexConfig::default()
                };
                // The first message may go at once (BEP 11 limits the
                // rate, one a minute, not the start): a new peer hears of the
                // swarm now instead of a minute later.
                let first = now.checked_sub(cfg.interval).unwrap_or(now);
                let state = self
                    .parked
                    .take()
                    .unwrap_or_else(|| PexState::new(cfg, first));
                self.link = Some((id, state));
            }
            Some(id) => {
                if let Some((theirs, _)) = &mut self.link {
                    *theirs = id;
                }
            }
            // BEP 10: id 0 (or absence) in a later handshake disables it.
            None => {
                if let Some((_, state)) = self.link.take() {
                    self.parked = Some(state);
                }
            }
        }
    }

    /// Our next ut_pex message to the peer `me`, if one is due.
    pub(crate) fn poll(
        &mut self,
        shared: &TorrentShared,
        me: PeerKey,
        now: Instant,
    ) -> Option<Message> {
        let (id, state) = self.link.as_mut()?;
        if now < state.next_send() {
            return None;
        }
        let swarm = swarm_for(&shared.lock(), me);
        let msg = state.poll_message(now, &swarm)?;
        Some(Message::Extended {
            id: *id,
            payload: Bytes::from(msg.encode()),
        })
    }

    /// Handles a ut_pex message from the peer. Returns an error reason when
    /// the peer broke the limits too often and must be disconnected.
    pub(crate) fn on_message(
        &mut self,
        shared: &TorrentShared,
        payload: &[u8],
        now: Instant,
    ) -> Result<(), String> {
        let Some((_, state)) = self.link.as_mut() else {
            // We did not agree on ut_pex (private torrent, or the peer did
            // not advertise it): ignore, as BEP 10 does unknown messages.
            return Ok(());
        };
        let update = match PexMessage::decode(payload) {
            Ok(msg) => state.on_message(now, &msg),
            Err(e) => {
                tracing::debug!(error = %e, "bad ut_pex message");
                self.undecodable += 1;
                Default::default()
            }
        };
        let violations = state.violations() + self.undecodable;
        if violations > MAX_VIOLATIONS {
            return Err(format!("{violations} ut_pex violations"));
        }
        let ours = |a: &SocketAddr| {
            a.port() == shared.listen_port
                && (a.ip().is_loopback()
                    || a.ip() == shared.config.listen_addr
                    || Some(a.ip()) == self.our_ip)
        };
        let mut learned: Vec<SocketAddr> = update
            .added
            .iter()
            .map(|(a, _)| *a)
            .filter(|a| !ours(a))
            .collect();
        let room = MAX_KNOWN_FROM_PEX.saturating_sub(shared.lock().known_pex.len());
        learned.truncate(room);
        if !learned.is_empty() {
            shared.add_known_from(learned, PeerSource::Pex);
        }
        Ok(())
    }
}

/// Where a known peer address came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeerSource {
    /// A tracker, `--peer`, an incoming connection, or a magnet's `x.pe`.
    Other,
    /// Another peer's ut_pex message (BEP 11).
    Pex,
}

/// The peers `me` may be told about: every other connected peer whose
/// listen address we know, with its flags (BEP 11 `added.f`).
pub(crate) fn swarm_for(st: &State, me: PeerKey) -> BTreeMap<SocketAddr, PeerFlags> {
    st.peers
        .iter()
        .filter(|(k, _)| **k != me)
        .filter_map(|(_, p)| {
            let listen = p.listen?;
            let mut flags = PeerFlags::default();
            if p.is_seed {
                flags = flags | PeerFlags::SEED;
            }
            if p.outgoing {
                // We reached it, so it accepts connections.
                flags = flags | PeerFlags::REACHABLE;
            }
            Some((listen, flags))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_swarm_round_trips() {
        // What `poll` sends decodes back to the same peers and flags.
        let swarm = BTreeMap::from([
            ("127.0.0.1:6881".parse().unwrap(), PeerFlags::SEED),
            ("[::1]:6882".parse().unwrap(), PeerFlags::REACHABLE),
        ]);
        let now = Instant::now();
        let mut state = PexState::new(PexConfig::default(), now);
        let msg = state
            .poll_message(now + std::time::Duration::from_secs(60), &swarm)
            .unwrap();
        let back = PexMessage::decode(&msg.encode()).unwrap();
        let got: BTreeMap<_, _> = back.added.into_iter().collect();
        assert_eq!(got, swarm);
    }
}
