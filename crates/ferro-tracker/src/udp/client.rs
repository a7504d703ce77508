//! The BEP 15 client as a sans-IO state machine.
//!
//! Feed it the current [`Instant`], the datagrams that arrive and the expiry of
//! the deadline it reports; it hands back datagrams to send and [`UdpEvent`]s.
//! It never touches a socket or reads a clock, so tests step it with a fake clock.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use ferro_core::InfoHash;

use super::packet::{self, MAX_SCRAPE_HASHES, Request, Response, UdpAnnounce};
use crate::{AnnounceRequest, AnnounceResponse, Error, Peer, ScrapeResponse};

/// Timing knobs; the defaults are BEP 15's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpConfig {
    /// First retransmission timeout; BEP 15 says 15 s and doubles it each try.
    pub base_timeout: Duration,
    /// Highest retry exponent: the timeout after the n-th send is
    /// `base_timeout · 2^n` for n = 0..=max_retries (BEP 15: 8).
    pub max_retries: u32,
    /// How long a connection id may be reused (BEP 15: one minute).
    pub connection_id_lifetime: Duration,
}

impl Default for UdpConfig {
    fn default() -> Self {
        UdpConfig {
            base_timeout: Duration::from_secs(15),
            max_retries: 8,
            connection_id_lifetime: Duration::from_secs(60),
        }
    }
}

/// The request a [`UdpClient`] works on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UdpOperation {
    /// An announce.
    Announce(AnnounceRequest),
    /// A scrape of up to 74 torrents.
    Scrape(Vec<InfoHash>),
}

/// What finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UdpEvent {
    /// The announce succeeded.
    Announced(AnnounceResponse),
    /// The scrape succeeded.
    Scraped(ScrapeResponse),
    /// The operation failed: an `error` reply, or no answer after all retries.
    Failed(Error),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Connecting,
    Requesting,
}

#[derive(Debug)]
struct InFlight {
    op: UdpOperation,
    phase: Phase,
    transaction_id: u32,
    /// Retry exponent n of the current send.
    attempt: u32,
    /// Total datagrams sent for this operation.
    sends: u32,
    deadline: Option<Instant>,
    /// A datagram is due (first send or retransmission).
    send_due: bool,
}

/// One UDP tracker's client side: connection-id cache, one operation at a time.
#[derive(Debug)]
pub struct UdpClient {
    config: UdpConfig,
    ipv6: bool,
    connection: Option<(u64, Instant)>,
    current: Option<InFlight>,
    events: VecDeque<UdpEvent>,
}

impl UdpClient {
    /// A client for a tracker reached over IPv4 (`ipv6 = false`) or IPv6, which
    /// decides the compact peer width in announce replies.
    pub fn new(config: UdpConfig, ipv6: bool) -> Self {
        UdpClient {
            config,
            ipv6,
            connection: None,
            current: None,
            events: VecDeque::new(),
        }
    }

    /// Whether an operation is outstanding.
    pub fn is_busy(&self) -> bool {
        self.current.is_some()
    }

    /// Starts an operation; fails with [`Error::Busy`] if one is outstanding, or
    /// [`Error::TooManyHashes`] for a scrape that cannot fit one datagram.
    pub fn start(&mut self, op: UdpOperation, now: Instant) -> Result<(), Error> {
        if self.current.is_some() {
            return Err(Error::Busy);
        }
        if let UdpOperation::Scrape(h) = &op
            && (h.len() > MAX_SCRAPE_HASHES || h.is_empty())
        {
            return Err(Error::TooManyHashes(h.len(), MAX_SCRAPE_HASHES));
        }
        let phase = if self.connection_valid(now) {
            Phase::Requesting
        } else {
            Phase::Connecting
        };
        self.current = Some(InFlight {
            op,
            phase,
            transaction_id: rand::random(),
            attempt: 0,
            sends: 0,
            deadline: None,
            send_due: true,
        });
        Ok(())
    }

    fn connection_valid(&self, now: Instant) -> bool {
        matches!(self.connection, Some((_, at)) if now.saturating_duration_since(at) < self.config.connection_id_lifetime)
    }

    /// The next datagram to send, if one is due. Call after [`start`](Self::start),
    /// [`handle_datagram`](Self::handle_datagram) and [`handle_timeout`](Self::handle_timeout).
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Vec<u8>> {
        let connection = self.connection;
        let base = self.config.base_timeout;
        let cur = self.current.as_mut()?;
        if !cur.send_due {
            return None;
        }
        cur.send_due = false;
        cur.sends += 1;
        // BEP 15: wait 15 · 2^n seconds for the reply to the n-th send.
        let timeout = base.saturating_mul(1u32 << cur.attempt.min(31));
        cur.deadline = Some(now + timeout);
        let tid = cur.transaction_id;
        let req = match (cur.phase, connection) {
            (Phase::Requesting, Some((connection_id, _))) => match &cur.op {
                UdpOperation::Announce(a) => Request::Announce(UdpAnnounce {
                    connection_id,
                    transaction_id: tid,
                    info_hash: a.info_hash,
                    peer_id: a.peer_id,
                    downloaded: a.downloaded,
                    left: a.left,
                    uploaded: a.uploaded,
                    event: a.event,
                    ip: packet::ip_field(a.ip),
                    key: a.key.unwrap_or(0),
                    num_want: a
                        .numwant
                        .map(|n| i32::try_from(n).unwrap_or(i32::MAX))
                        .unwrap_or(-1),
                    port: a.port,
                }),
                UdpOperation::Scrape(h) => Request::Scrape {
                    connection_id,
                    transaction_id: tid,
                    info_hashes: h.clone(),
                },
            },
            _ => {
                cur.phase = Phase::Connecting;
                Request::Connect {
                    transaction_id: tid,
                }
            }
        };
        Some(req.encode())
    }

    /// The instant at which [`handle_timeout`](Self::handle_timeout) must be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.current.as_ref().and_then(|c| c.deadline)
    }

    /// Advances timers: retransmits, or gives up after `max_retries`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let max = self.config.max_retries;
        let valid = self.connection_valid(now);
        let Some(cur) = self.current.as_mut() else {
            return;
        };
        match cur.deadline {
            Some(d) if now >= d => {}
            _ => return,
        }
        if cur.attempt >= max {
            let attempts = cur.sends;
            self.current = None;
            self.events
                .push_back(UdpEvent::Failed(Error::UdpGaveUp { attempts }));
            return;
        }
        cur.attempt += 1;
        cur.deadline = None;
        cur.send_due = true;
        // A fresh transaction id per send, so a late reply to an old send
        // cannot be confused with the current one.
        cur.transaction_id = rand::random();
        // BEP 15: a connection id older than a minute must not be used; go
        // back to connecting.
        if cur.phase == Phase::Requesting && !valid {
            cur.phase = Phase::Connecting;
        }
    }

    /// Feeds a datagram received from the tracker's address. A reply with an
    /// unknown transaction id or an undecodable body is rejected with an error
    /// and otherwise ignored: the request stays outstanding (it may still be
    /// answered, or time out).
    pub fn handle_datagram(&mut self, buf: &[u8], now: Instant) -> Result<(), Error> {
        let resp = Response::decode(buf, self.ipv6)?;
        let Some(cur) = self.current.as_mut() else {
            return Err(Error::UdpUnsolicited(resp.transaction_id()));
        };
        if resp.transaction_id() != cur.transaction_id {
            return Err(Error::UdpTransaction {
                expected: cur.transaction_id,
                got: resp.transaction_id(),
            });
        }
        match (cur.phase, resp) {
            (_, Response::Error { message, .. }) => {
                self.current = None;
                self.events
                    .push_back(UdpEvent::Failed(Error::TrackerFailure(message)));
            }
            (Phase::Connecting, Response::Connect { connection_id, .. }) => {
                self.connection = Some((connection_id, now));
                cur.phase = Phase::Requesting;
                cur.attempt = 0;
                cur.send_due = true;
                cur.deadline = None;
                cur.transaction_id = rand::random();
            }
            (
                Phase::Requesting,
                Response::Announce {
                    interval,
                    leechers,
                    seeders,
                    peers,
                    ..
                },
            ) if matches!(cur.op, UdpOperation::Announce(_)) => {
                self.current = None;
                self.events.push_back(UdpEvent::Announced(AnnounceResponse {
                    interval: Duration::from_secs(u64::from(interval)),
                    complete: Some(seeders),
                    incomplete: Some(leechers),
                    peers: peers.into_iter().map(Peer::from).collect(),
                    ..AnnounceResponse::default()
                }));
            }
            (Phase::Requesting, Response::Scrape { stats, .. }) => {
                let UdpOperation::Scrape(hashes) = &cur.op else {
                    return Err(Error::UdpAction(packet::Action::Scrape as u32));
                };
                let files = hashes.iter().copied().zip(stats).collect();
                self.current = None;
                self.events
                    .push_back(UdpEvent::Scraped(ScrapeResponse { files }));
            }
            (_, other) => {
                let action = match other {
                    Response::Connect { .. } => 0,
                    Response::Announce { .. } => 1,
                    Response::Scrape { .. } => 2,
                    Response::Error { .. } => 3,
                };
                return Err(Error::UdpAction(action));
            }
        }
        Ok(())
    }

    /// The next finished operation's outcome.
    pub fn poll_event(&mut self) -> Option<UdpEvent> {
        self.events.pop_front()
    }

    /// Forgets the cached connection id (e.g. after the tracker's address changed).
    pub fn reset_connection(&mut self) {
        self.connection = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Event, PeerId};
    use std::net::SocketAddr;

    fn announce() -> AnnounceRequest {
        AnnounceRequest::new(InfoHash([3; 20]), PeerId([4; 20]), 6881, 100)
    }

    fn tid(req: &[u8]) -> u32 {
        u32::from_be_bytes(req[12..16].try_into().unwrap())
    }

    fn connect_reply(req: &[u8], cid: u64) -> Vec<u8> {
        Response::Connect {
            transaction_id: tid(req),
            connection_id: cid,
        }
        .encode()
    }

    #[test]
    fn connect_then_announce_then_reuse_connection_id() {
        let t0 = Instant::now();
        let mut c = UdpClient::new(UdpConfig::default(), false);
        c.start(UdpOperation::Announce(announce()), t0).unwrap();
        let req = c.poll_transmit(t0).unwrap();
        assert_eq!(
            Request::decode(&req).unwrap(),
            Request::Connect {
                transaction_id: tid(&req)
            }
        );
        assert_eq!(c.poll_transmit(t0), None);
        assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(15)));
        c.handle_datagram(&connect_reply(&req, 0xabc), t0).unwrap();
        let req = c.poll_transmit(t0).unwrap();
        let Request::Announce(a) = Request::decode(&req).unwrap() else {
            panic!("expected announce")
        };
        assert_eq!(
            (a.connection_id, a.event, a.num_want, a.port),
            (0xabc, Event::Started, -1, 6881)
        );
        let peer: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let reply = Response::Announce {
            transaction_id: a.transaction_id,
            interval: 900,
            leechers: 1,
            seeders: 2,
            peers: vec![peer],
        };
        c.handle_datagram(&reply.encode(), t0).unwrap();
        let Some(UdpEvent::Announced(r)) = c.poll_event() else {
            panic!("no event")
        };
        assert_eq!(r.addrs(), [peer]);
        assert_eq!(
            (r.complete, r.incomplete, r.interval),
            (Some(2), Some(1), Duration::from_secs(900))
        );
        assert!(!c.is_busy());

        // Within a minute: straight to the scrape, same connection id.
        let t1 = t0 + Duration::from_secs(59);
        c.start(UdpOperation::Scrape(vec![InfoHash([3; 20])]), t1)
            .unwrap();
        let req = c.poll_transmit(t1).unwrap();
        let Request::Scrape { connection_id, .. } = Request::decode(&req).unwrap() else {
            panic!("expected scrape")
        };
        assert_eq!(connection_id, 0xabc);
        let st = ScrapeStatsFixture::one();
        c.handle_datagram(
            &Response::Scrape {
                transaction_id: tid(&req),
                stats: vec![st],
            }
            .encode(),
            t1,
        )
        .unwrap();
        assert_eq!(
            c.poll_event(),
            Some(UdpEvent::Scraped(ScrapeResponse {
                files: vec![(InfoHash([3; 20]), st)]
            }))
        );

        // After a minute: connect again.
        let t2 = t0 + Duration::from_secs(61);
        c.start(UdpOperation::Announce(announce()), t2).unwrap();
        let req = c.poll_transmit(t2).unwrap();
        assert!(matches!(
            Request::decode(&req).unwrap(),
            Request::Connect { .. }
        ));
    }

    struct ScrapeStatsFixture;
    impl ScrapeStatsFixture {
        fn one() -> crate::ScrapeStats {
            crate::ScrapeStats {
                complete: 1,
                downloaded: 2,
                incomplete: 3,
            }
        }
    }

    #[test]
    fn wrong_transaction_id_is_rejected_and_request_stays_outstanding() {
        let t0 = Instant::now();
        let mut c = UdpClient::new(UdpConfig::default(), false);
        c.start(UdpOperation::Announce(announce()), t0).unwrap();
        let req = c.poll_transmit(t0).unwrap();
        let bad = Response::Connect {
            transaction_id: tid(&req).wrapping_add(1),
            connection_id: 1,
        }
        .encode();
        assert!(matches!(
            c.handle_datagram(&bad, t0),
            Err(Error::UdpTransaction { .. })
        ));
        assert!(c.is_busy());
        assert!(matches!(
            c.handle_datagram(&[1, 2, 3], t0),
            Err(Error::UdpTruncated { .. })
        ));
        assert_eq!(c.poll_event(), None);
        // The right reply still works.
        c.handle_datagram(&connect_reply(&req, 5), t0).unwrap();
        assert!(c.poll_transmit(t0).is_some());
    }

    #[test]
    fn retransmits_with_doubling_timeouts_then_gives_up() {
        let cfg = UdpConfig {
            base_timeout: Duration::from_millis(10),
            max_retries: 3,
            ..UdpConfig::default()
        };
        let t0 = Instant::now();
        let mut c = UdpClient::new(cfg, false);
        c.start(UdpOperation::Announce(announce()), t0).unwrap();
        let mut now = t0;
        let mut waits = Vec::new();
        let mut tids = Vec::new();
        for _ in 0..10 {
            if let Some(req) = c.poll_transmit(now) {
                tids.push(tid(&req));
            }
            let Some(d) = c.poll_timeout() else { break };
            waits.push(d - now);
            // Early timer calls do nothing.
            c.handle_timeout(now);
            now = d;
            c.handle_timeout(now);
        }
        let ms = |n| Duration::from_millis(n);
        assert_eq!(waits, [ms(10), ms(20), ms(40), ms(80)]);
        assert_eq!(tids.len(), 4);
        assert_eq!(
            c.poll_event(),
            Some(UdpEvent::Failed(Error::UdpGaveUp { attempts: 4 }))
        );
        assert!(!c.is_busy());
    }

    #[test]
    fn error_action_and_busy_and_unsolicited() {
        let t0 = Instant::now();
        let mut c = UdpClient::new(UdpConfig::default(), false);
        let stray = Response::Connect {
            transaction_id: 1,
            connection_id: 1,
        }
        .encode();
        assert!(matches!(
            c.handle_datagram(&stray, t0),
            Err(Error::UdpUnsolicited(1))
        ));
        c.start(UdpOperation::Announce(announce()), t0).unwrap();
        assert_eq!(
            c.start(UdpOperation::Announce(announce()), t0),
            Err(Error::Busy)
        );
        let req = c.poll_transmit(t0).unwrap();
        let err = Response::Error {
            transaction_id: tid(&req),
            message: "banned".into(),
        }
        .encode();
        c.handle_datagram(&err, t0).unwrap();
        assert_eq!(
            c.poll_event(),
            Some(UdpEvent::Failed(Error::TrackerFailure("banned".into())))
        );
        assert!(matches!(
            c.start(UdpOperation::Scrape(vec![InfoHash([0; 20]); 75]), t0),
            Err(Error::TooManyHashes(75, 74))
        ));
    }

    #[test]
    fn ipv6_tracker_gets_18_byte_peers() {
        let t0 = Instant::now();
        let mut c = UdpClient::new(UdpConfig::default(), true);
        c.start(UdpOperation::Announce(announce()), t0).unwrap();
        let req = c.poll_transmit(t0).unwrap();
        c.handle_datagram(&connect_reply(&req, 9), t0).unwrap();
        let req = c.poll_transmit(t0).unwrap();
        let peer: SocketAddr = "[::1]:7000".parse().unwrap();
        let reply = Response::Announce {
            transaction_id: tid(&req),
            interval: 1,
            leechers: 0,
            seeders: 0,
            peers: vec![peer],
        };
        c.handle_datagram(&reply.encode(), t0).unwrap();
        let Some(UdpEvent::Announced(r)) = c.poll_event() else {
            panic!()
        };
        assert_eq!(r.addrs(), [peer]);
    }
}
