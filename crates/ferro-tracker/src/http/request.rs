//! HTTP announce and scrape URLs (BEP 3, BEP 48).
//!
//! `info_hash` and `peer_id` are raw bytes: every byte outside RFC 3986's
//! unreserved set is percent-encoded. A query string already on the announce
//! URL (a private tracker's passkey) is kept in front of ours.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode, percent_encode};
use url::Url;

use ferro_core::InfoHash;

use crate::{AnnounceRequest, Error};

/// Everything except RFC 3986 "unreserved" (`A-Z a-z 0-9 - . _ ~`).
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes bytes for a query value.
pub fn encode_bytes(b: &[u8]) -> String {
    percent_encode(b, QUERY_VALUE).to_string()
}

fn parse_http(announce: &str) -> Result<Url, Error> {
    let url = Url::parse(announce).map_err(|e| Error::InvalidUrl {
        url: announce.to_owned(),
        reason: e.to_string(),
    })?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        other => Err(Error::UnsupportedScheme(other.to_owned())),
    }
}

fn append_query(url: &mut Url, ours: &str) {
    let q = match url.query() {
        Some(existing) if !existing.is_empty() => format!("{existing}&{ours}"),
        _ => ours.to_owned(),
    };
    // Our parameters contain only unreserved characters and %XX escapes,
    // which `set_query` keeps as they are.
    url.set_query(Some(&q));
}

/// Builds the full announce URL for `req` on the tracker `announce`.
pub fn announce_url(announce: &str, req: &AnnounceRequest) -> Result<Url, Error> {
    let mut url = parse_http(announce)?;
    let mut q = format!(
        "info_hash={}&peer_id={}&port={}&uploaded={}&downloaded={}&left={}&compact={}",
        encode_bytes(req.info_hash.as_bytes()),
        encode_bytes(req.peer_id.as_bytes()),
        req.port,
        req.uploaded,
        req.downloaded,
        req.left,
        u8::from(req.compact),
    );
    if let Some(ev) = req.event.as_str() {
        q.push_str("&event=");
        q.push_str(ev);
    }
    if let Some(n) = req.numwant {
        q.push_str(&format!("&numwant={n}"));
    }
    if let Some(k) = req.key {
        q.push_str(&format!("&key={k:08x}"));
    }
    if let Some(ip) = req.ip {
        q.push_str("&ip=");
        q.push_str(&encode_bytes(ip.to_string().as_bytes()));
    }
    if let Some(id) = &req.tracker_id {
        q.push_str("&trackerid=");
        q.push_str(&encode_bytes(id));
    }
    append_query(&mut url, &q);
    Ok(url)
}

/// BEP 48: the scrape URL is the announce URL with a last path component
/// starting with `announce` changed to start with `scrape` (so
/// `/x/announce.php?k=v` → `/x/scrape.php?k=v`). Other URLs have no scrape.
pub fn scrape_url(announce: &str) -> Result<Url, Error> {
    let mut url = parse_http(announce)?;
    let path = url.path().to_owned();
    let (dir, last) = match path.rfind('/') {
        Some(i) => path.split_at(i + 1),
        None => ("", path.as_str()),
    };
    let Some(rest) = last.strip_prefix("announce") else {
        return Err(Error::NoScrapeUrl(announce.to_owned()));
    };
    url.set_path(&format!("{dir}scrape{rest}"));
    Ok(url)
}

/// The scrape URL for `info_hashes` (BEP 48: one `info_hash` parameter per torrent).
pub fn scrape_url_for(announce: &str, info_hashes: &[InfoHash]) -> Result<Url, Error> {
    let mut url = scrape_url(announce)?;
    let q: Vec<String> = info_hashes
        .iter()
        .map(|h| format!("info_hash={}", encode_bytes(h.as_bytes())))
        .collect();
    if !q.is_empty() {
        append_query(&mut url, &q.join("&"));
    }
    Ok(url)
}

/// Splits a raw query string into percent-decoded (name, value) byte pairs.
/// Used by the server; never fails, bad escapes stay literal.
pub fn parse_query(query: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    query
        .split(|&b| b == b'&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut halves = p.splitn(2, |&b| b == b'=');
            let k = halves.next().unwrap_or_default();
            let v = halves.next().unwrap_or_default();
            let dec = |s: &[u8]| -> Vec<u8> {
                let plus: Vec<u8> = s
                    .iter()
                    .map(|&b| if b == b'+' { b' ' } else { b })
                    .collect();
                percent_decode(&plus).collect()
            };
            (dec(k), dec(v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Event;
    use ferro_core::PeerId;
    use proptest::prelude::*;

    fn req() -> AnnounceRequest {
        let mut ih = [0u8; 20];
        for (i, b) in ih.iter_mut().enumerate() {
            *b = (i as u8) * 13;
        }
        AnnounceRequest::new(InfoHash(ih), PeerId(*b"-FE0001-abcdefgh~.-_"), 6881, 1000)
    }

    #[test]
    fn binary_fields_are_percent_encoded() {
        let u = announce_url("http://t.example/announce", &req()).unwrap();
        let s = u.as_str();
        assert!(
            s.starts_with("http://t.example/announce?info_hash=%00%0D%1A%274AN%5Bhu%82%8F%9C%A9%B6%C3%D0%DD%EA%F7&peer_id=-FE0001-abcdefgh~.-_&port=6881"),
            "{s}"
        );
        assert!(s.contains("&left=1000&compact=1&event=started"), "{s}");
    }

    #[test]
    fn existing_query_string_is_kept() {
        let u = announce_url("https://t.example/a/announce?passkey=abc%2Fdef", &req()).unwrap();
        assert!(
            u.as_str()
                .starts_with("https://t.example/a/announce?passkey=abc%2Fdef&info_hash="),
            "{u}"
        );
    }

    #[test]
    fn optional_fields() {
        let mut r = req();
        r.event = Event::None;
        r.numwant = Some(30);
        r.key = Some(0xdead);
        r.tracker_id = Some(b"id 1".to_vec());
        r.compact = false;
        let u = announce_url("http://t/announce", &r).unwrap();
        let s = u.as_str();
        assert!(!s.contains("event="));
        assert!(
            s.contains("compact=0&numwant=30&key=0000dead&trackerid=id%201"),
            "{s}"
        );
    }

    #[test]
    fn scrape_url_rule_bep48() {
        let ok = [
            ("http://e.com/announce", "http://e.com/scrape"),
            ("http://e.com/x/announce", "http://e.com/x/scrape"),
            ("http://e.com/announce.php", "http://e.com/scrape.php"),
            ("http://e.com/a/announce?p=1", "http://e.com/a/scrape?p=1"),
        ];
        for (a, s) in ok {
            assert_eq!(scrape_url(a).unwrap().as_str(), s, "{a}");
        }
        for a in [
            "http://e.com/a",
            "http://e.com/announce/x",
            "http://e.com/x/Announce",
        ] {
            assert!(matches!(scrape_url(a), Err(Error::NoScrapeUrl(_))), "{a}");
        }
        assert!(matches!(
            scrape_url("udp://e.com:80/announce"),
            Err(Error::UnsupportedScheme(_))
        ));
        assert!(matches!(
            scrape_url("not a url"),
            Err(Error::InvalidUrl { .. })
        ));
    }

    #[test]
    fn scrape_url_carries_each_hash() {
        let h = [InfoHash([1; 20]), InfoHash([0xff; 20])];
        let u = scrape_url_for("http://e.com/announce?k=v", &h).unwrap();
        assert_eq!(
            u.as_str(),
            format!(
                "http://e.com/scrape?k=v&info_hash={}&info_hash={}",
                "%01".repeat(20),
                "%FF".repeat(20)
            )
        );
    }

    #[test]
    fn parse_query_splits_at_the_first_equals_sign() {
        let q = parse_query(b"a=b=c&d&=e&&f=&g+h=%41%zz");
        let pairs: Vec<(&[u8], &[u8])> = q
            .iter()
            .map(|(k, v)| (k.as_slice(), v.as_slice()))
            .collect();
        let want: [(&[u8], &[u8]); 5] = [
            (b"a", b"b=c"),
            (b"d", b""),
            (b"", b"e"),
            (b"f", b""),
            (b"g h", b"A%zz"),
        ];
        assert_eq!(pairs, want);
    }

    proptest! {
        #[test]
        fn percent_encoding_round_trips(ih in any::<[u8; 20]>(), pid in any::<[u8; 20]>(), port: u16, left: u64) {
            let r = AnnounceRequest::new(InfoHash(ih), PeerId(pid), port, left);
            let u = announce_url("http://t/announce?pk=1", &r).unwrap();
            let q = parse_query(u.query().unwrap().as_bytes());
            let get = |k: &[u8]| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap();
            prop_assert_eq!(get(b"info_hash"), ih.to_vec());
            prop_assert_eq!(get(b"peer_id"), pid.to_vec());
            prop_assert_eq!(get(b"pk"), b"1".to_vec());
            prop_assert_eq!(get(b"port"), port.to_string().into_bytes());
            prop_assert_eq!(get(b"left"), left.to_string().into_bytes());
        }

        #[test]
        fn parse_query_never_panics(q in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_query(&q);
        }
    }
}
