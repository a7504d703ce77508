//! BEP 15 packets: every request and response, encoded and decoded.
//!
//! All integers are big-endian. Requests start with `connection_id` (or the
//! protocol id for `connect`), `action`, `transaction_id`; responses start
//! with `action`, `transaction_id`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use ferro_core::{InfoHash, PeerId, compact};

use crate::{Error, Event, ScrapeStats};

/// The magic constant that opens a `connect` request (BEP 15).
pub const PROTOCOL_ID: u64 = 0x0417_2710_1980;
/// BEP 15: "up to about 74 torrents can be scraped at once" (a scrape must
/// fit one datagram).
pub const MAX_SCRAPE_HASHES: usize = 74;
/// The largest datagram either side builds or accepts; also the receive buffer size.
pub const MAX_PACKET: usize = 2048;

/// The `action` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Action {
    /// 0: obtain a connection id.
    Connect = 0,
    /// 1: announce.
    Announce = 1,
    /// 2: scrape.
    Scrape = 2,
    /// 3: error (responses only).
    Error = 3,
}

/// A client→tracker datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `connect`.
    Connect {
        /// Transaction id.
        transaction_id: u32,
    },
    /// `announce` (98 bytes).
    Announce(UdpAnnounce),
    /// `scrape`.
    Scrape {
        /// From a `connect` response.
        connection_id: u64,
        /// Transaction id.
        transaction_id: u32,
        /// Up to [`MAX_SCRAPE_HASHES`] torrents.
        info_hashes: Vec<InfoHash>,
    },
}

/// The fields of a BEP 15 announce request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpAnnounce {
    /// From a `connect` response.
    pub connection_id: u64,
    /// Transaction id.
    pub transaction_id: u32,
    /// The torrent.
    pub info_hash: InfoHash,
    /// The announcing client.
    pub peer_id: PeerId,
    /// Bytes downloaded.
    pub downloaded: u64,
    /// Bytes left.
    pub left: u64,
    /// Bytes uploaded.
    pub uploaded: u64,
    /// The event.
    pub event: Event,
    /// IPv4 address to report; 0 means "the sender's".
    pub ip: u32,
    /// Client key.
    pub key: u32,
    /// Peers wanted; -1 means the tracker's default.
    pub num_want: i32,
    /// The client's listening port.
    pub port: u16,
}

/// A tracker→client datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// `connect` answer.
    Connect {
        /// Echo of the request's transaction id.
        transaction_id: u32,
        /// The id to use for the next minute.
        connection_id: u64,
    },
    /// `announce` answer.
    Announce {
        /// Echo of the request's transaction id.
        transaction_id: u32,
        /// Seconds until the next announce.
        interval: u32,
        /// Leechers.
        leechers: u32,
        /// Seeders.
        seeders: u32,
        /// Peers: 6-byte entries over IPv4, 18-byte entries over IPv6 (BEP 15 "IPv6").
        peers: Vec<SocketAddr>,
    },
    /// `scrape` answer, stats in request order.
    Scrape {
        /// Echo of the request's transaction id.
        transaction_id: u32,
        /// One entry per requested info-hash.
        stats: Vec<ScrapeStats>,
    },
    /// `error` answer.
    Error {
        /// Echo of the request's transaction id.
        transaction_id: u32,
        /// Human-readable message.
        message: String,
    },
}

impl Response {
    /// The transaction id the response carries.
    pub fn transaction_id(&self) -> u32 {
        match self {
            Response::Connect { transaction_id, .. }
            | Response::Announce { transaction_id, .. }
            | Response::Scrape { transaction_id, .. }
            | Response::Error { transaction_id, .. } => *transaction_id,
        }
    }
}

/// A cursor over a datagram that never reads out of bounds.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    action: u32,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        match end.and_then(|e| self.buf.get(self.pos..e)) {
            Some(s) => {
                self.pos += n;
                Ok(s)
            }
            None => Err(Error::UdpTruncated {
                action: self.action,
                len: self.buf.len(),
                need: self.pos + n,
            }),
        }
    }
    fn u16(&mut self) -> Result<u16, Error> {
        let mut a = [0u8; 2];
        a.copy_from_slice(self.take(2)?);
        Ok(u16::from_be_bytes(a))
    }
    fn u32(&mut self) -> Result<u32, Error> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.take(4)?);
        Ok(u32::from_be_bytes(a))
    }
    fn u64(&mut self) -> Result<u64, Error> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_be_bytes(a))
    }
    fn id20(&mut self) -> Result<[u8; 20], Error> {
        let mut a = [0u8; 20];
        a.copy_from_slice(self.take(20)?);
        Ok(a)
    }
    fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or_default()
    }
}

impl Request {
    /// Encodes the request as one datagram.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(98);
        match self {
            Request::Connect { transaction_id } => {
                out.extend_from_slice(&PROTOCOL_ID.to_be_bytes());
                out.extend_from_slice(&(Action::Connect as u32).to_be_bytes());
                out.extend_from_slice(&transaction_id.to_be_bytes());
            }
            Request::Announce(a) => {
                out.extend_from_slice(&a.connection_id.to_be_bytes());
                out.extend_from_slice(&(Action::Announce as u32).to_be_bytes());
                out.extend_from_slice(&a.transaction_id.to_be_bytes());
                out.extend_from_slice(a.info_hash.as_bytes());
                out.extend_from_slice(a.peer_id.as_bytes());
                out.extend_from_slice(&a.downloaded.to_be_bytes());
                out.extend_from_slice(&a.left.to_be_bytes());
                out.extend_from_slice(&a.uploaded.to_be_bytes());
                out.extend_from_slice(&a.event.to_udp().to_be_bytes());
                out.extend_from_slice(&a.ip.to_be_bytes());
                out.extend_from_slice(&a.key.to_be_bytes());
                out.extend_from_slice(&a.num_want.to_be_bytes());
                out.extend_from_slice(&a.port.to_be_bytes());
            }
            Request::Scrape {
                connection_id,
                transaction_id,
                info_hashes,
            } => {
                out.extend_from_slice(&connection_id.to_be_bytes());
                out.extend_from_slice(&(Action::Scrape as u32).to_be_bytes());
                out.extend_from_slice(&transaction_id.to_be_bytes());
                for h in info_hashes.iter().take(MAX_SCRAPE_HASHES) {
                    out.extend_from_slice(h.as_bytes());
                }
            }
        }
        out
    }

    /// Decodes a client datagram (the tracker side). Trailing bytes after an
    /// announce are BEP 41 options and are ignored.
    pub fn decode(buf: &[u8]) -> Result<Request, Error> {
        let mut r = Reader {
            buf,
            pos: 0,
            action: u32::MAX,
        };
        let connection_id = r.u64()?;
        let action = r.u32()?;
        r.action = action;
        let transaction_id = r.u32()?;
        match action {
            0 => {
                if connection_id != PROTOCOL_ID {
                    return Err(Error::UdpProtocolId(connection_id));
                }
                Ok(Request::Connect { transaction_id })
            }
            1 => Ok(Request::Announce(UdpAnnounce {
                connection_id,
                transaction_id,
                info_hash: InfoHash(r.id20()?),
                peer_id: PeerId(r.id20()?),
                downloaded: r.u64()?,
                left: r.u64()?,
                uploaded: r.u64()?,
                event: Event::from_udp(r.u32()?),
                ip: r.u32()?,
                key: r.u32()?,
                num_want: r.u32()? as i32,
                port: r.u16()?,
            })),
            2 => {
                let rest = r.rest();
                if rest.is_empty() || !rest.len().is_multiple_of(20) {
                    return Err(Error::Malformed(format!(
                        "UDP scrape carries {} bytes of info-hashes, not a positive multiple of 20",
                        rest.len()
                    )));
                }
                let n = rest.len() / 20;
                if n > MAX_SCRAPE_HASHES {
                    return Err(Error::TooManyHashes(n, MAX_SCRAPE_HASHES));
                }
                let info_hashes = rest
                    .chunks_exact(20)
                    .filter_map(|c| InfoHash::from_slice(c).ok())
                    .collect();
                Ok(Request::Scrape {
                    connection_id,
                    transaction_id,
                    info_hashes,
                })
            }
            other => Err(Error::UdpAction(other)),
        }
    }
}

impl Response {
    /// Encodes the response. Announce peers are written in their own family's
    /// compact form; a tracker sends only the family of the socket it answers on.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(20);
        match self {
            Response::Connect {
                transaction_id,
                connection_id,
            } => {
                out.extend_from_slice(&(Action::Connect as u32).to_be_bytes());
                out.extend_from_slice(&transaction_id.to_be_bytes());
                out.extend_from_slice(&connection_id.to_be_bytes());
            }
            Response::Announce {
                transaction_id,
                interval,
                leechers,
                seeders,
                peers,
            } => {
                out.extend_from_slice(&(Action::Announce as u32).to_be_bytes());
                out.extend_from_slice(&transaction_id.to_be_bytes());
                out.extend_from_slice(&interval.to_be_bytes());
                out.extend_from_slice(&leechers.to_be_bytes());
                out.extend_from_slice(&seeders.to_be_bytes());
                for p in peers {
                    compact::encode_one(p, &mut out);
                }
            }
            Response::Scrape {
                transaction_id,
                stats,
            } => {
                out.extend_from_slice(&(Action::Scrape as u32).to_be_bytes());
                out.extend_from_slice(&transaction_id.to_be_bytes());
                for s in stats {
                    out.extend_from_slice(&s.complete.to_be_bytes());
                    out.extend_from_slice(&s.downloaded.to_be_bytes());
                    out.extend_from_slice(&s.incomplete.to_be_bytes());
                }
            }
            Response::Error {
                transaction_id,
                message,
            } => {
                out.extend_from_slice(&(Action::Error as u32).to_be_bytes());
                out.extend_from_slice(&transaction_id.to_be_bytes());
                out.extend_from_slice(message.as_bytes());
            }
        }
        out
    }

    /// Decodes a tracker datagram. `ipv6` says whether it came over IPv6, which
    /// makes announce peers 18 bytes each instead of 6 (BEP 15, "IPv6").
    pub fn decode(buf: &[u8], ipv6: bool) -> Result<Response, Error> {
        let mut r = Reader {
            buf,
            pos: 0,
            action: u32::MAX,
        };
        let action = r.u32()?;
        r.action = action;
        let transaction_id = r.u32()?;
        match action {
            0 => Ok(Response::Connect {
                transaction_id,
                connection_id: r.u64()?,
            }),
            1 => {
                let interval = r.u32()?;
                let leechers = r.u32()?;
                let seeders = r.u32()?;
                let rest = r.rest();
                let peers = if ipv6 {
                    compact::decode_v6(rest)?
                } else {
                    compact::decode_v4(rest)?
                };
                Ok(Response::Announce {
                    transaction_id,
                    interval,
                    leechers,
                    seeders,
                    peers,
                })
            }
            2 => {
                let rest = r.rest();
                if !rest.len().is_multiple_of(12) {
                    return Err(Error::Malformed(format!(
                        "UDP scrape reply carries {} bytes of stats, not a multiple of 12",
                        rest.len()
                    )));
                }
                let mut stats = Vec::with_capacity(rest.len() / 12);
                let mut s = Reader {
                    buf: rest,
                    pos: 0,
                    action,
                };
                for _ in 0..rest.len() / 12 {
                    stats.push(ScrapeStats {
                        complete: s.u32()?,
                        downloaded: s.u32()?,
                        incomplete: s.u32()?,
                    });
                }
                Ok(Response::Scrape {
                    transaction_id,
                    stats,
                })
            }
            3 => Ok(Response::Error {
                transaction_id,
                message: String::from_utf8_lossy(r.rest()).into_owned(),
            }),
            other => Err(Error::UdpAction(other)),
        }
    }
}

/// The UDP announce `ip` field for an optional explicit address: IPv4 only, 0 otherwise.
pub fn ip_field(ip: Option<IpAddr>) -> u32 {
    match ip {
        Some(IpAddr::V4(v4)) => u32::from(v4),
        _ => u32::from(Ipv4Addr::UNSPECIFIED),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn connect_request_bytes() {
        let b = Request::Connect {
            transaction_id: 0x01020304,
        }
        .encode();
        assert_eq!(
            b,
            [
                0, 0, 0x04, 0x17, 0x27, 0x10, 0x19, 0x80, 0, 0, 0, 0, 1, 2, 3, 4
            ]
        );
        assert_eq!(
            Request::decode(&b).unwrap(),
            Request::Connect {
                transaction_id: 0x01020304
            }
        );
        let mut bad = b.clone();
        bad[0] = 1;
        assert!(matches!(
            Request::decode(&bad),
            Err(Error::UdpProtocolId(_))
        ));
    }

    #[test]
    fn announce_request_is_98_bytes() {
        let a = UdpAnnounce {
            connection_id: 7,
            transaction_id: 9,
            info_hash: InfoHash([1; 20]),
            peer_id: PeerId([2; 20]),
            downloaded: 3,
            left: 4,
            uploaded: 5,
            event: Event::Started,
            ip: 0,
            key: 6,
            num_want: -1,
            port: 6881,
        };
        let b = Request::Announce(a.clone()).encode();
        assert_eq!(b.len(), 98);
        assert_eq!(Request::decode(&b).unwrap(), Request::Announce(a.clone()));
        // BEP 41 options after the fixed part are ignored.
        let mut ext = b.clone();
        ext.extend_from_slice(&[2, 3, b'/', b'a', b'b', 0]);
        assert_eq!(Request::decode(&ext).unwrap(), Request::Announce(a));
        for n in 0..98 {
            assert!(
                matches!(Request::decode(&b[..n]), Err(Error::UdpTruncated { .. })),
                "{n}"
            );
        }
    }

    #[test]
    fn responses_decode_and_reject_garbage() {
        let r = Response::Announce {
            transaction_id: 1,
            interval: 60,
            leechers: 2,
            seeders: 3,
            peers: vec!["127.0.0.1:6881".parse().unwrap()],
        };
        assert_eq!(Response::decode(&r.encode(), false).unwrap(), r);
        // The same bytes over IPv6: 6 bytes of peers is not a multiple of 18.
        assert!(matches!(
            Response::decode(&r.encode(), true),
            Err(Error::Compact(_))
        ));
        let r6 = Response::Announce {
            transaction_id: 1,
            interval: 60,
            leechers: 2,
            seeders: 3,
            peers: vec!["[::1]:6881".parse().unwrap()],
        };
        assert_eq!(Response::decode(&r6.encode(), true).unwrap(), r6);
        assert!(matches!(
            Response::decode(&[0, 0, 0, 9, 0, 0, 0, 0], false),
            Err(Error::UdpAction(9))
        ));
        assert!(matches!(
            Response::decode(&[0, 0, 0, 0, 1], false),
            Err(Error::UdpTruncated { .. })
        ));
        assert!(matches!(
            Response::decode(&[0, 0, 0, 0, 0, 0, 0, 1, 0], false),
            Err(Error::UdpTruncated { .. })
        ));
        assert!(matches!(
            Response::decode(&[0, 0, 0, 2, 0, 0, 0, 1, 0], false),
            Err(Error::Malformed(_))
        ));
        let e = Response::Error {
            transaction_id: 5,
            message: "nope".into(),
        };
        assert_eq!(Response::decode(&e.encode(), false).unwrap(), e);
    }

    fn arb_stats() -> impl Strategy<Value = ScrapeStats> {
        (any::<u32>(), any::<u32>(), any::<u32>()).prop_map(|(complete, downloaded, incomplete)| {
            ScrapeStats {
                complete,
                downloaded,
                incomplete,
            }
        })
    }

    fn arb_event() -> impl Strategy<Value = Event> {
        prop_oneof![
            Just(Event::None),
            Just(Event::Completed),
            Just(Event::Started),
            Just(Event::Stopped)
        ]
    }

    proptest! {
        #[test]
        fn request_round_trip(cid: u64, tid: u32, ih: [u8; 20], pid: [u8; 20], d: u64, l: u64, u: u64,
                              ev in arb_event(), ip: u32, key: u32, nw: i32, port: u16,
                              hashes in proptest::collection::vec(any::<[u8; 20]>(), 1..=74)) {
            let reqs = [
                Request::Connect { transaction_id: tid },
                Request::Announce(UdpAnnounce { connection_id: cid, transaction_id: tid, info_hash: InfoHash(ih),
                    peer_id: PeerId(pid), downloaded: d, left: l, uploaded: u, event: ev, ip, key, num_want: nw, port }),
                Request::Scrape { connection_id: cid, transaction_id: tid,
                    info_hashes: hashes.into_iter().map(InfoHash).collect() },
            ];
            for r in reqs {
                prop_assert_eq!(Request::decode(&r.encode()).unwrap(), r);
            }
        }

        #[test]
        fn response_round_trip(tid: u32, cid: u64, i: u32, le: u32, se: u32,
                               v4 in proptest::collection::vec(any::<([u8; 4], u16)>(), 0..50),
                               v6 in proptest::collection::vec(any::<([u8; 16], u16)>(), 0..50),
                               stats in proptest::collection::vec(arb_stats(), 0..74),
                               msg in ".{0,40}") {
            let p4: Vec<SocketAddr> = v4.into_iter().map(|(ip, port)| SocketAddr::from((ip, port))).collect();
            let p6: Vec<SocketAddr> = v6.into_iter().map(|(ip, port)| SocketAddr::from((ip, port))).collect();
            for (r, v6) in [
                (Response::Connect { transaction_id: tid, connection_id: cid }, false),
                (Response::Announce { transaction_id: tid, interval: i, leechers: le, seeders: se, peers: p4 }, false),
                (Response::Announce { transaction_id: tid, interval: i, leechers: le, seeders: se, peers: p6 }, true),
                (Response::Scrape { transaction_id: tid, stats }, false),
                (Response::Error { transaction_id: tid, message: msg }, false),
            ] {
                prop_assert_eq!(Response::decode(&r.encode(), v6).unwrap(), r);
            }
        }

        #[test]
        fn decoders_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300), v6: bool) {
            let _ = Request::decode(&b);
            let _ = Response::decode(&b, v6);
        }
    }
}
