//! Magnet URIs: BEP 9's `xt`, `dn`, `tr`, `x.pe`; the `ws`, `as`, `xs` web-seed
//! parameters of the "Magnet-URI Webseeding" draft; `xl`; BEP 53's `so`.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use ferro_core::InfoHash;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use crate::Error;

/// Longest magnet link accepted (links travel in pages and clipboards; 64 KiB is generous).
const MAX_LEN: usize = 64 * 1024;
/// Most values of one repeated parameter (`tr`, `x.pe`, `ws`, `so` ranges) kept.
const MAX_REPEATS: usize = 256;

/// A peer address from `x.pe`: an IP socket address, or a host name and port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PeerAddr {
    /// `1.2.3.4:6881` or `[::1]:6881`.
    Socket(SocketAddr),
    /// `host.example:6881`, resolved by the caller.
    Host(String, u16),
}

impl fmt::Display for PeerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerAddr::Socket(a) => write!(f, "{a}"),
            PeerAddr::Host(h, p) => write!(f, "{h}:{p}"),
        }
    }
}

impl FromStr for PeerAddr {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        if let Ok(a) = s.parse::<SocketAddr>() {
            return Ok(PeerAddr::Socket(a));
        }
        let (host, port) = s.rsplit_once(':').ok_or(())?;
        let port: u16 = port.parse().map_err(|_| ())?;
        let valid = !host.is_empty()
            && host.len() <= 253
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
        if valid {
            Ok(PeerAddr::Host(host.to_string(), port))
        } else {
            Err(())
        }
    }
}

/// One entry of BEP 53's `so`: a file index or an inclusive range of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SelectRange {
    /// First file index.
    pub first: usize,
    /// Last file index (inclusive); equal to `first` for a single index.
    pub last: usize,
}

impl SelectRange {
    /// True if `index` is selected by this entry.
    pub fn contains(&self, index: usize) -> bool {
        (self.first..=self.last).contains(&index)
    }

    /// Parses a BEP 53 `so` value: comma-separated file indices and
    /// inclusive ranges, e.g. `0,2-4` (also what `ferro download --select`
    /// takes). At most 256 entries are kept; a malformed or reversed entry
    /// is an error.
    pub fn parse_list(value: &str) -> Result<Vec<SelectRange>, Error> {
        let mut out = Vec::new();
        for part in value.split(',').filter(|p| !p.is_empty()) {
            let range = parse_select(part).ok_or_else(|| Error::InvalidParameter {
                name: "so".into(),
                value: value.to_owned(),
            })?;
            push_limited(&mut out, range);
        }
        Ok(out)
    }
}

/// A parsed magnet link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MagnetLink {
    /// `xt=urn:btih:`: the v1 info-hash.
    pub info_hash: InfoHash,
    /// `dn`: the display name.
    pub display_name: Option<String>,
    /// `tr`: tracker URLs, in order, without duplicates.
    pub trackers: Vec<String>,
    /// `x.pe`: peers to contact directly.
    pub peers: Vec<PeerAddr>,
    /// `ws`: web seed URLs (BEP 19 semantics).
    pub web_seeds: Vec<String>,
    /// `xl`: the exact length in bytes.
    pub exact_length: Option<u64>,
    /// `so` (BEP 53): the files to download; empty means all.
    pub select_only: Vec<SelectRange>,
    /// `as`: acceptable sources, kept as data.
    pub acceptable_sources: Vec<String>,
    /// `xs`: exact sources, kept as data.
    pub exact_sources: Vec<String>,
    /// Parameters this crate does not interpret, in order, decoded.
    pub extra: Vec<(String, String)>,
}

impl MagnetLink {
    /// A link with only an info-hash.
    pub fn new(info_hash: InfoHash) -> Self {
        MagnetLink {
            info_hash,
            display_name: None,
            trackers: Vec::new(),
            peers: Vec::new(),
            web_seeds: Vec::new(),
            exact_length: None,
            select_only: Vec::new(),
            acceptable_sources: Vec::new(),
            exact_sources: Vec::new(),
            extra: Vec::new(),
        }
    }

    /// True if file `index` is to be downloaded (`so` absent means every file).
    pub fn is_selected(&self, index: usize) -> bool {
        self.select_only.is_empty() || self.select_only.iter().any(|r| r.contains(index))
    }

    /// Parses a magnet link.
    pub fn parse(s: &str) -> Result<Self, Error> {
        if s.len() > MAX_LEN {
            return Err(Error::TooLong(s.len()));
        }
        let query = s
            .get(..8)
            .filter(|p| p.eq_ignore_ascii_case("magnet:?"))
            .and_then(|_| s.get(8..))
            .ok_or_else(|| Error::NotMagnet(s.chars().take(64).collect()))?;
        let mut info_hash: Option<InfoHash> = None;
        let mut saw_v2 = false;
        let mut link = MagnetLink::new(InfoHash::default());
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (raw_name, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = decode(raw_name, raw_name, false)?.to_ascii_lowercase();
            // `dn` is free text where form-style `+` means a space; elsewhere `+` is literal.
            let value = decode(&name, raw_value, name == "dn")?;
            let bad = || Error::InvalidParameter {
                name: name.clone(),
                value: value.clone(),
            };
            // Clients number repeated parameters (`tr.1`, `xt.2`): treat them as the base name.
            let base = match name.split_once('.') {
                Some((b, n)) if !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()) => b,
                _ => name.as_str(),
            };
            match base {
                "xt" => {
                    let lower = value.to_ascii_lowercase();
                    if let Some(hash) = lower.strip_prefix("urn:btih:") {
                        let ih = InfoHash::from_text(hash)
                            .map_err(|_| Error::InvalidInfoHash(hash.to_string()))?;
                        match info_hash {
                            Some(prev) if prev != ih => return Err(Error::ConflictingInfoHash),
                            _ => info_hash = Some(ih),
                        }
                    } else if lower.starts_with("urn:btmh:") {
                        saw_v2 = true;
                    } else {
                        push_limited(&mut link.extra, (name.clone(), value.clone()));
                    }
                }
                "dn" => link.display_name = Some(value),
                "tr" => {
                    if !link.trackers.contains(&value) {
                        push_limited(&mut link.trackers, value);
                    }
                }
                "x.pe" => {
                    let peer = value.parse::<PeerAddr>().map_err(|()| bad())?;
                    if !link.peers.contains(&peer) {
                        push_limited(&mut link.peers, peer);
                    }
                }
                "ws" => push_limited(&mut link.web_seeds, value),
                "as" => push_limited(&mut link.acceptable_sources, value),
                "xs" => push_limited(&mut link.exact_sources, value),
                "xl" => link.exact_length = Some(value.parse().map_err(|_| bad())?),
                "so" => {
                    for part in value.split(',').filter(|p| !p.is_empty()) {
                        let range = parse_select(part).ok_or_else(bad)?;
                        push_limited(&mut link.select_only, range);
                    }
                }
                _ => push_limited(&mut link.extra, (name.clone(), value)),
            }
        }
        link.info_hash = match (info_hash, saw_v2) {
            (Some(ih), _) => ih,
            (None, true) => return Err(Error::V2NotSupported),
            (None, false) => return Err(Error::MissingInfoHash),
        };
        Ok(link)
    }
}

fn push_limited<T>(v: &mut Vec<T>, item: T) {
    if v.len() < MAX_REPEATS {
        v.push(item);
    }
}

fn decode(name: &str, raw: &str, plus_is_space: bool) -> Result<String, Error> {
    let spaced;
    let raw = if plus_is_space {
        spaced = raw.replace('+', " ");
        spaced.as_str()
    } else {
        raw
    };
    percent_decode_str(raw)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| Error::InvalidParameter {
            name: name.to_string(),
            value: raw.to_string(),
        })
}

fn parse_select(part: &str) -> Option<SelectRange> {
    let (a, b) = part.split_once('-').unwrap_or((part, part));
    let first: usize = a.trim().parse().ok()?;
    let last: usize = b.trim().parse().ok()?;
    (first <= last).then_some(SelectRange { first, last })
}

impl FromStr for MagnetLink {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        MagnetLink::parse(s)
    }
}

/// Characters left as they are in parameter values: RFC 3986 unreserved, plus
/// `:` and `/` which are common and harmless inside a query value.
const VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

impl fmt::Display for MagnetLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "magnet:?xt=urn:btih:{}", self.info_hash.to_hex())?;
        if let Some(dn) = &self.display_name {
            write!(f, "&dn={}", utf8_percent_encode(dn, VALUE))?;
        }
        if let Some(xl) = self.exact_length {
            write!(f, "&xl={xl}")?;
        }
        for tr in &self.trackers {
            write!(f, "&tr={}", utf8_percent_encode(tr, VALUE))?;
        }
        for ws in &self.web_seeds {
            write!(f, "&ws={}", utf8_percent_encode(ws, VALUE))?;
        }
        for p in &self.peers {
            write!(f, "&x.pe={}", utf8_percent_encode(&p.to_string(), VALUE))?;
        }
        if !self.select_only.is_empty() {
            f.write_str("&so=")?;
            for (i, r) in self.select_only.iter().enumerate() {
                if i > 0 {
                    f.write_str(",")?;
                }
                if r.first == r.last {
                    write!(f, "{}", r.first)?;
                } else {
                    write!(f, "{}-{}", r.first, r.last)?;
                }
            }
        }
        for a in &self.acceptable_sources {
            write!(f, "&as={}", utf8_percent_encode(a, VALUE))?;
        }
        for x in &self.exact_sources {
            write!(f, "&xs={}", utf8_percent_encode(x, VALUE))?;
        }
        for (k, v) in &self.extra {
            write!(
                f,
                "&{}={}",
                utf8_percent_encode(k, VALUE),
                utf8_percent_encode(v, VALUE)
            )?;
        }
        Ok(())
    }
}
