//! The UDP side of the server (BEP 15), sans-IO: datagram in, datagram out.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::Error;
use crate::server::http::canonical_ip;
use crate::server::swarm::{PeerAnnounce, Swarms};
use crate::udp::packet::{Request, Response};

/// Issues and checks connection ids without storing them: an id is a keyed
/// hash of the client's IP and the current minute, so it is accepted in the
/// minute it was issued and the next one (BEP 15: valid for at least a minute
/// after issue, from the same address only).
#[derive(Debug)]
pub struct ConnectionIds {
    key: RandomState,
    epoch: Instant,
    period: Duration,
}

impl ConnectionIds {
    /// Ids valid for between one and two `period`s (BEP 15 uses a minute).
    pub fn new(epoch: Instant, period: Duration) -> Self {
        ConnectionIds {
            key: RandomState::new(),
            epoch,
            period: period.max(Duration::from_millis(1)),
        }
    }

    fn slot(&self, now: Instant) -> u128 {
        now.saturating_duration_since(self.epoch).as_nanos() / self.period.as_nanos().max(1)
    }

    fn id(&self, ip: IpAddr, slot: u128) -> u64 {
        self.key.hash_one((ip, slot))
    }

    /// A connection id for `ip`.
    pub fn issue(&self, ip: IpAddr, now: Instant) -> u64 {
        self.id(ip, self.slot(now))
    }

    /// Whether `id` was issued to `ip` in this period or the last.
    pub fn check(&self, ip: IpAddr, id: u64, now: Instant) -> bool {
        let s = self.slot(now);
        self.id(ip, s) == id || (s > 0 && self.id(ip, s - 1) == id)
    }
}

/// Answers one datagram from `src`, or `None` to stay silent (garbage; we do
/// not answer what we cannot parse, so spoofed junk earns no reply).
pub fn handle_datagram(
    swarms: &mut Swarms,
    ids: &ConnectionIds,
    src: SocketAddr,
    buf: &[u8],
    now: Instant,
) -> Option<Vec<u8>> {
    let ip = canonical_ip(src.ip());
    let req = match Request::decode(buf) {
        Ok(r) => r,
        Err(Error::UdpTruncated { .. } | Error::UdpProtocolId(_) | Error::UdpAction(_)) => {
            return None;
        }
        Err(e) => {
            // Parsed far enough to have a transaction id: say what was wrong.
            let tid = buf.get(12..16).and_then(|b| <[u8; 4]>::try_from(b).ok())?;
            return Some(
                Response::Error {
                    transaction_id: u32::from_be_bytes(tid),
                    message: e.to_string(),
                }
                .encode(),
            );
        }
    };
    let resp = match req {
        Request::Connect { transaction_id } => Response::Connect {
            transaction_id,
            connection_id: ids.issue(ip, now),
        },
        Request::Announce(a) => {
            if !ids.check(ip, a.connection_id, now) {
                return Some(expired(a.transaction_id));
            }
            if a.port == 0 {
                return Some(error(a.transaction_id, "invalid port 0"));
            }
            let numwant = usize::try_from(a.num_want).ok();
            let pa = PeerAnnounce {
                info_hash: a.info_hash,
                peer_id: a.peer_id,
                addr: SocketAddr::new(ip, a.port),
                left: a.left,
                event: a.event,
                numwant,
            };
            match swarms.announce(&pa, now) {
                Ok(out) => Response::Announce {
                    transaction_id: a.transaction_id,
                    interval: u32::try_from(swarms.config().interval.as_secs()).unwrap_or(u32::MAX),
                    leechers: out.stats.incomplete,
                    seeders: out.stats.complete,
                    // BEP 15: the peer width follows the packet's family, so
                    // only peers of the requester's family fit.
                    peers: out
                        .peers
                        .into_iter()
                        .map(|p| p.addr)
                        .filter(|p| p.is_ipv4() == ip.is_ipv4())
                        .collect(),
                },
                Err(r) => return Some(error(a.transaction_id, r.reason())),
            }
        }
        Request::Scrape {
            connection_id,
            transaction_id,
            info_hashes,
        } => {
            if !ids.check(ip, connection_id, now) {
                return Some(expired(transaction_id));
            }
            Response::Scrape {
                transaction_id,
                stats: info_hashes
                    .iter()
                    .map(|h| swarms.scrape(h).unwrap_or_default())
                    .collect(),
            }
        }
    };
    Some(resp.encode())
}

fn error(transaction_id: u32, message: &str) -> Vec<u8> {
    Response::Error {
        transaction_id,
        message: message.to_owned(),
    }
    .encode()
}

fn expired(transaction_id: u32) -> Vec<u8> {
    error(transaction_id, "unknown or expired connection id")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::swarm::SwarmConfig;
    use crate::udp::UdpAnnounce;
    use crate::{Event, InfoHash, PeerId, ScrapeStats};

    #[test]
    fn connect_announce_scrape_and_id_expiry() {
        let t0 = Instant::now();
        let ids = ConnectionIds::new(t0, Duration::from_secs(60));
        let mut s = Swarms::new(SwarmConfig::default());
        let src: SocketAddr = "127.0.0.1:9999".parse().unwrap();
        let r = handle_datagram(
            &mut s,
            &ids,
            src,
            &Request::Connect { transaction_id: 4 }.encode(),
            t0,
        )
        .unwrap();
        let Response::Connect {
            transaction_id: 4,
            connection_id,
        } = Response::decode(&r, false).unwrap()
        else {
            panic!()
        };
        let ann = |cid, port, tid| {
            Request::Announce(UdpAnnounce {
                connection_id: cid,
                transaction_id: tid,
                info_hash: InfoHash([1; 20]),
                peer_id: PeerId([port as u8; 20]),
                downloaded: 0,
                left: 0,
                uploaded: 0,
                event: Event::Started,
                ip: 0,
                key: 0,
                num_want: -1,
                port,
            })
            .encode()
        };
        handle_datagram(&mut s, &ids, src, &ann(connection_id, 1000, 1), t0).unwrap();
        let r = handle_datagram(
            &mut s,
            &ids,
            src,
            &ann(connection_id, 2000, 2),
            t0 + Duration::from_secs(100),
        )
        .unwrap();
        // Seeders are not sent to seeders, so peers are empty; counts say 2.
        assert_eq!(
            Response::decode(&r, false).unwrap(),
            Response::Announce {
                transaction_id: 2,
                interval: 1800,
                leechers: 0,
                seeders: 2,
                peers: vec![]
            }
        );
        // Two minutes on, the id is no longer accepted; other IPs never accept it.
        let r = handle_datagram(
            &mut s,
            &ids,
            src,
            &ann(connection_id, 2000, 3),
            t0 + Duration::from_secs(121),
        )
        .unwrap();
        assert!(matches!(
            Response::decode(&r, false).unwrap(),
            Response::Error {
                transaction_id: 3,
                ..
            }
        ));
        let other: SocketAddr = "127.0.0.2:9999".parse().unwrap();
        let r = handle_datagram(&mut s, &ids, other, &ann(connection_id, 2000, 5), t0).unwrap();
        assert!(matches!(
            Response::decode(&r, false).unwrap(),
            Response::Error { .. }
        ));

        let scrape = Request::Scrape {
            connection_id,
            transaction_id: 6,
            info_hashes: vec![InfoHash([1; 20]), InfoHash([2; 20])],
        };
        let r = handle_datagram(&mut s, &ids, src, &scrape.encode(), t0).unwrap();
        let Response::Scrape { stats, .. } = Response::decode(&r, false).unwrap() else {
            panic!()
        };
        assert_eq!(stats[0].complete, 2);
        assert_eq!(stats[1], ScrapeStats::default());
        // Garbage gets no answer.
        assert_eq!(handle_datagram(&mut s, &ids, src, &[1, 2, 3], t0), None);
    }
}
