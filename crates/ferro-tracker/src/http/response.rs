//! HTTP tracker responses (BEP 3, BEP 23 compact peers, BEP 7 `peers6`,
//! BEP 48 scrape): parsing for the client, encoding for the server.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ferro_bencode::{DecodeOptions, Dict, OwnedValue, Value};
use ferro_core::{InfoHash, PeerId, compact};

use crate::{AnnounceResponse, Error, Peer, ScrapeResponse, ScrapeStats};

/// Limits for response bodies: shallow documents, bounded item counts (a 2 MiB
/// body holds at most ~350,000 compact peers, which are one item).
fn options() -> DecodeOptions {
    DecodeOptions {
        max_depth: 8,
        max_items: 1_000_000,
        strict: false,
    }
}

fn root_dict<'d, 'a>(doc: &'d ferro_bencode::Document<'a>) -> Result<Dict<'d, 'a>, Error> {
    let root = doc.root();
    let dict = root.as_dict().ok_or_else(|| {
        Error::Malformed(format!("root is a {:?}, not a dictionary", root.kind()))
    })?;
    // BEP 3: a `failure reason` means nothing else in the body counts.
    if let Some(reason) = dict.get(b"failure reason") {
        let text = reason
            .as_bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_else(|| show(reason));
        return Err(Error::TrackerFailure(text));
    }
    Ok(dict)
}

/// A short printable form of a value for error messages.
fn show(v: Value<'_, '_>) -> String {
    let raw = v.raw();
    let cut = raw.get(..64).unwrap_or(raw);
    String::from_utf8_lossy(cut).into_owned()
}

fn u32_field(dict: &Dict<'_, '_>, field: &'static str) -> Result<Option<u32>, Error> {
    match dict.get(field.as_bytes()) {
        None => Ok(None),
        Some(v) => v
            .as_int()
            .and_then(|i| u32::try_from(i).ok())
            .map(Some)
            .ok_or_else(|| Error::InvalidField {
                field,
                value: show(v),
            }),
    }
}

fn dict_peer(v: Value<'_, '_>) -> Result<Option<Peer>, Error> {
    let bad = |field| Error::InvalidField {
        field,
        value: show(v),
    };
    let d = v.as_dict().ok_or_else(|| bad("peers"))?;
    let port = d
        .get(b"port")
        .and_then(|p| p.as_int())
        .and_then(|p| u16::try_from(p).ok())
        .ok_or_else(|| bad("port"))?;
    let ip = d
        .get(b"ip")
        .and_then(|i| i.as_bytes())
        .ok_or_else(|| bad("ip"))?;
    // BEP 3 allows a DNS name here; a sans-IO parser cannot resolve it, so
    // such peers are skipped rather than failing the whole response.
    let Some(ip) = std::str::from_utf8(ip)
        .ok()
        .and_then(|s| s.parse::<IpAddr>().ok())
    else {
        return Ok(None);
    };
    let peer_id = d
        .get(b"peer id")
        .and_then(|p| p.as_bytes())
        .and_then(|b| PeerId::from_slice(b).ok());
    Ok(Some(Peer {
        addr: SocketAddr::new(ip, port),
        peer_id,
    }))
}

/// Parses an announce response body.
pub fn parse_announce(body: &[u8]) -> Result<AnnounceResponse, Error> {
    let doc =
        ferro_bencode::decode_with(body, &options()).map_err(|e| Error::Bencode(e.to_string()))?;
    let d = root_dict(&doc)?;
    let interval = u32_field(&d, "interval")?.ok_or(Error::MissingField("interval"))?;
    let min_interval = u32_field(&d, "min interval")?;
    let mut peers = Vec::new();
    match d.get(b"peers") {
        None => {}
        Some(v) => {
            if let Some(b) = v.as_bytes() {
                peers.extend(compact::decode_v4(b)?.into_iter().map(Peer::from));
            } else if let Some(list) = v.as_list() {
                for p in list.iter() {
                    if let Some(p) = dict_peer(p)? {
                        peers.push(p);
                    }
                }
            } else {
                return Err(Error::InvalidField {
                    field: "peers",
                    value: show(v),
                });
            }
        }
    }
    if let Some(v) = d.get(b"peers6") {
        let b = v.as_bytes().ok_or_else(|| Error::InvalidField {
            field: "peers6",
            value: show(v),
        })?;
        peers.extend(compact::decode_v6(b)?.into_iter().map(Peer::from));
    }
    Ok(AnnounceResponse {
        interval: Duration::from_secs(u64::from(interval)),
        min_interval: min_interval.map(|s| Duration::from_secs(u64::from(s))),
        tracker_id: d
            .get(b"tracker id")
            .and_then(|v| v.as_bytes())
            .map(<[u8]>::to_vec),
        complete: u32_field(&d, "complete")?,
        incomplete: u32_field(&d, "incomplete")?,
        peers,
        warning: d
            .get(b"warning message")
            .and_then(|v| v.as_bytes())
            .map(|b| String::from_utf8_lossy(b).into_owned()),
    })
}

/// Parses a scrape response body (BEP 48).
pub fn parse_scrape(body: &[u8]) -> Result<ScrapeResponse, Error> {
    let doc =
        ferro_bencode::decode_with(body, &options()).map_err(|e| Error::Bencode(e.to_string()))?;
    let d = root_dict(&doc)?;
    let files = d.get(b"files").ok_or(Error::MissingField("files"))?;
    let files = files.as_dict().ok_or_else(|| Error::InvalidField {
        field: "files",
        value: show(files),
    })?;
    let mut out = Vec::with_capacity(files.len());
    for (k, v) in files.iter() {
        let ih = InfoHash::from_slice(k).map_err(|_| Error::InvalidField {
            field: "files",
            value: format!("key of {} bytes, not a 20-byte info-hash", k.len()),
        })?;
        let s = v.as_dict().ok_or_else(|| Error::InvalidField {
            field: "files",
            value: show(v),
        })?;
        out.push((
            ih,
            ScrapeStats {
                complete: u32_field(&s, "complete")?.unwrap_or(0),
                downloaded: u32_field(&s, "downloaded")?.unwrap_or(0),
                incomplete: u32_field(&s, "incomplete")?.unwrap_or(0),
            },
        ));
    }
    Ok(ScrapeResponse { files: out })
}

fn key(k: &str) -> Vec<u8> {
    k.as_bytes().to_vec()
}

fn int(v: impl Into<i64>) -> OwnedValue {
    OwnedValue::Int(v.into())
}

/// Encodes an announce response. `compact` picks BEP 23 `peers`/`peers6`
/// strings; otherwise the BEP 3 list of dictionaries (with `peer id` where
/// known, unless `no_peer_id`).
pub fn encode_announce(resp: &AnnounceResponse, compact: bool, no_peer_id: bool) -> Vec<u8> {
    let mut d = BTreeMap::new();
    d.insert(
        key("interval"),
        int(resp.interval.as_secs().min(u64::from(u32::MAX)) as i64),
    );
    if let Some(m) = resp.min_interval {
        d.insert(
            key("min interval"),
            int(m.as_secs().min(u64::from(u32::MAX)) as i64),
        );
    }
    if let Some(c) = resp.complete {
        d.insert(key("complete"), int(c));
    }
    if let Some(c) = resp.incomplete {
        d.insert(key("incomplete"), int(c));
    }
    if let Some(t) = &resp.tracker_id {
        d.insert(key("tracker id"), OwnedValue::Bytes(t.clone()));
    }
    if let Some(w) = &resp.warning {
        d.insert(
            key("warning message"),
            OwnedValue::Bytes(w.clone().into_bytes()),
        );
    }
    let addrs: Vec<SocketAddr> = resp.peers.iter().map(|p| p.addr).collect();
    if compact {
        d.insert(key("peers"), OwnedValue::Bytes(compact::encode_v4(&addrs)));
        let v6 = compact::encode_v6(&addrs);
        if !v6.is_empty() {
            d.insert(key("peers6"), OwnedValue::Bytes(v6));
        }
    } else {
        let list = resp
            .peers
            .iter()
            .map(|p| {
                let mut pd = BTreeMap::new();
                pd.insert(
                    key("ip"),
                    OwnedValue::Bytes(p.addr.ip().to_string().into_bytes()),
                );
                pd.insert(key("port"), int(p.addr.port()));
                if let (Some(id), false) = (p.peer_id, no_peer_id) {
                    pd.insert(key("peer id"), OwnedValue::Bytes(id.0.to_vec()));
                }
                OwnedValue::Dict(pd)
            })
            .collect();
        d.insert(key("peers"), OwnedValue::List(list));
    }
    OwnedValue::Dict(d).encode()
}

/// Encodes a scrape response (BEP 48).
pub fn encode_scrape(resp: &ScrapeResponse) -> Vec<u8> {
    let files = resp
        .files
        .iter()
        .map(|(ih, s)| {
            let mut sd = BTreeMap::new();
            sd.insert(key("complete"), int(s.complete));
            sd.insert(key("downloaded"), int(s.downloaded));
            sd.insert(key("incomplete"), int(s.incomplete));
            (ih.0.to_vec(), OwnedValue::Dict(sd))
        })
        .collect();
    let mut d = BTreeMap::new();
    d.insert(key("files"), OwnedValue::Dict(files));
    OwnedValue::Dict(d).encode()
}

/// Encodes a `failure reason` body.
pub fn encode_failure(reason: &str) -> Vec<u8> {
    let mut d = BTreeMap::new();
    d.insert(
        key("failure reason"),
        OwnedValue::Bytes(reason.as_bytes().to_vec()),
    );
    OwnedValue::Dict(d).encode()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn compact_and_v6_and_optional_keys() {
        let mut body =
            b"d8:completei5e10:incompletei3e8:intervali1800e12:min intervali60e5:peers12:".to_vec();
        body.extend_from_slice(&[127, 0, 0, 1, 0x1a, 0xe1, 10, 0, 0, 2, 0, 80]);
        body.extend_from_slice(b"6:peers618:");
        body.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x1a, 0xe2]);
        body.extend_from_slice(b"10:tracker id3:xyz15:warning message4:caree");
        let r = parse_announce(&body).unwrap();
        assert_eq!(r.interval, Duration::from_secs(1800));
        assert_eq!(r.min_interval, Some(Duration::from_secs(60)));
        assert_eq!((r.complete, r.incomplete), (Some(5), Some(3)));
        assert_eq!(r.tracker_id.as_deref(), Some(&b"xyz"[..]));
        assert_eq!(r.warning.as_deref(), Some("care"));
        let want: Vec<SocketAddr> = ["127.0.0.1:6881", "10.0.0.2:80", "[::1]:6882"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(r.addrs(), want);
    }

    #[test]
    fn dictionary_peers() {
        let body = b"d8:intervali60e5:peersld2:ip9:127.0.0.17:peer id20:AAAAAAAAAAAAAAAAAAAA4:porti6881eed2:ip3:::14:porti80eed2:ip11:example.org4:porti1eeee";
        let r = parse_announce(body).unwrap();
        assert_eq!(r.peers.len(), 2, "DNS names are skipped");
        assert_eq!(r.peers[0].addr, "127.0.0.1:6881".parse().unwrap());
        assert_eq!(r.peers[0].peer_id, Some(PeerId([b'A'; 20])));
        assert_eq!(r.peers[1].addr, "[::1]:80".parse().unwrap());
        assert_eq!(r.peers[1].peer_id, None);
    }

    #[test]
    fn failures_and_malformed_bodies_are_typed_errors() {
        assert_eq!(
            parse_announce(b"d14:failure reason6:bannede"),
            Err(Error::TrackerFailure("banned".into()))
        );
        type Check = fn(&Error) -> bool;
        let cases: &[(&[u8], Check)] = &[
            (b"", |e| matches!(e, Error::Bencode(_))),
            (b"d8:intervali1800e", |e| matches!(e, Error::Bencode(_))),
            (b"le", |e| matches!(e, Error::Malformed(_))),
            (b"d5:peers0:e", |e| {
                matches!(e, Error::MissingField("interval"))
            }),
            (b"d8:intervali-1ee", |e| {
                matches!(
                    e,
                    Error::InvalidField {
                        field: "interval",
                        ..
                    }
                )
            }),
            (b"d8:intervali1e5:peers5:abcdee", |e| {
                matches!(e, Error::Compact(_))
            }),
            (b"d8:intervali1e6:peers65:abcdee", |e| {
                matches!(e, Error::Compact(_))
            }),
            (b"d8:intervali1e5:peersi3ee", |e| {
                matches!(e, Error::InvalidField { field: "peers", .. })
            }),
            (
                b"d8:intervali1e5:peersld2:ip9:127.0.0.14:porti70000eeee",
                |e| matches!(e, Error::InvalidField { field: "port", .. }),
            ),
            (b"<html>502 Bad Gateway</html>", |e| {
                matches!(e, Error::Bencode(_))
            }),
        ];
        for (body, ok) in cases {
            let e = parse_announce(body).unwrap_err();
            assert!(ok(&e), "{:?} -> {e:?}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn scrape_parse_and_errors() {
        let body = encode_scrape(&ScrapeResponse {
            files: vec![(
                InfoHash([7; 20]),
                ScrapeStats {
                    complete: 1,
                    downloaded: 2,
                    incomplete: 3,
                },
            )],
        });
        assert_eq!(
            parse_scrape(&body).unwrap().get(&InfoHash([7; 20])),
            Some(ScrapeStats {
                complete: 1,
                downloaded: 2,
                incomplete: 3
            })
        );
        assert!(matches!(
            parse_scrape(b"de"),
            Err(Error::MissingField("files"))
        ));
        assert!(matches!(
            parse_scrape(b"d5:filesd3:abcdeee"),
            Err(Error::InvalidField { .. })
        ));
        assert!(matches!(
            parse_scrape(b"d5:filesi1ee"),
            Err(Error::InvalidField { .. })
        ));
        assert!(matches!(
            parse_scrape(b"d14:failure reason1:xe"),
            Err(Error::TrackerFailure(_))
        ));
    }

    fn arb_peer(with_id: bool) -> impl Strategy<Value = Peer> {
        (
            any::<bool>(),
            any::<[u8; 16]>(),
            any::<u16>(),
            any::<[u8; 20]>(),
        )
            .prop_map(move |(v6, ip, port, id)| {
                let addr = if v6 {
                    SocketAddr::from((ip, port))
                } else {
                    SocketAddr::from(([ip[0], ip[1], ip[2], ip[3]], port))
                };
                Peer {
                    addr,
                    peer_id: with_id.then_some(PeerId(id)),
                }
            })
    }

    proptest! {
        #[test]
        fn announce_round_trip(interval: u32, min: Option<u32>, complete: Option<u32>, incomplete: Option<u32>,
                               tid in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..10)),
                               warning in proptest::option::of("[ -~]{0,20}"),
                               compact: bool,
                               peers in proptest::collection::vec(arb_peer(true), 0..30)) {
            let mut resp = AnnounceResponse {
                interval: Duration::from_secs(interval.into()),
                min_interval: min.map(|m| Duration::from_secs(m.into())),
                tracker_id: tid,
                complete,
                incomplete,
                peers,
                warning,
            };
            let back = parse_announce(&encode_announce(&resp, compact, false)).unwrap();
            if compact {
                // Compact lists carry no ids, and put IPv4 before IPv6.
                for p in &mut resp.peers { p.peer_id = None; }
                resp.peers.sort_by_key(|p| p.addr.is_ipv6());
            }
            prop_assert_eq!(back, resp);
        }

        #[test]
        fn scrape_round_trip(files in proptest::collection::btree_map(any::<[u8; 20]>(), any::<(u32, u32, u32)>(), 0..20)) {
            let resp = ScrapeResponse { files: files.into_iter().map(|(h, (c, d, i))| (InfoHash(h),
                ScrapeStats { complete: c, downloaded: d, incomplete: i })).collect() };
            prop_assert_eq!(parse_scrape(&encode_scrape(&resp)).unwrap(), resp);
        }

        #[test]
        fn parsers_never_panic(b in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse_announce(&b);
            let _ = parse_scrape(&b);
        }
    }
}
