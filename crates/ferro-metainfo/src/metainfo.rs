//! The whole .torrent file: the `info` dictionary plus trackers, web seeds and notes.

use ferro_bencode::{Dict, Encoder, Value};
use ferro_core::InfoHash;

use crate::Error;
use crate::info::{Info, ParseOptions};

/// A parsed .torrent file (BEP 3 metainfo).
///
/// The `info` part is checked and immutable (its bytes define the
/// info-hash); the rest is plain data a client may change, e.g. adding
/// trackers, and write back with [`Metainfo::to_bytes`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metainfo {
    /// The `info` dictionary.
    pub info: Info,
    /// The `announce` URL, as in the file.
    pub announce: Option<String>,
    /// Tracker tiers (BEP 12): `announce-list` when it holds any URL,
    /// otherwise one tier with `announce`, otherwise empty. Empty strings and
    /// empty tiers are dropped; the order is the file's (shuffling within a
    /// tier is the announcer's job).
    pub trackers: Vec<Vec<String>>,
    /// Web seeds, GetRight style (BEP 19 `url-list`, a string or a list).
    pub web_seeds: Vec<String>,
    /// Hoffman-style HTTP seeds (BEP 17 `httpseeds`), reported only.
    pub http_seeds: Vec<String>,
    /// `creation date`, seconds since the Unix epoch.
    pub creation_date: Option<i64>,
    /// `comment` (`comment.utf-8` preferred).
    pub comment: Option<String>,
    /// `created by`.
    pub created_by: Option<String>,
}

impl Metainfo {
    /// Parses a .torrent file with the default [`ParseOptions`].
    ///
    /// Keys may be in any order (real torrents are not always canonical);
    /// duplicate keys, a malformed `info` or an unsafe file path are errors.
    pub fn from_bytes(buf: &[u8]) -> Result<Metainfo, Error> {
        Self::from_bytes_with(buf, &ParseOptions::default())
    }

    /// [`Metainfo::from_bytes`] with explicit limits.
    pub fn from_bytes_with(buf: &[u8], opts: &ParseOptions) -> Result<Metainfo, Error> {
        let doc = ferro_bencode::decode_with(buf, &opts.decode_options())?;
        let root = doc.root().as_dict().ok_or(Error::WrongType {
            field: "(root)",
            expected: "a dictionary",
        })?;
        let info = Info::from_value(root.get(b"info").ok_or(Error::MissingField("info"))?, opts)?;

        // Everything outside `info` is advisory: a value of the wrong type is
        // ignored rather than failing the torrent, as other clients do.
        let announce = text(&root, "announce").filter(|s| !s.is_empty());
        let mut trackers = root
            .get(b"announce-list")
            .and_then(|v| v.as_list())
            .map(|tiers| {
                tiers
                    .iter()
                    .filter_map(|tier| tier.as_list())
                    .map(|tier| strings(tier.as_value()))
                    .filter(|tier| !tier.is_empty())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        // BEP 12: when announce-list is present, announce is ignored.
        if trackers.is_empty()
            && let Some(a) = &announce
        {
            trackers.push(vec![a.clone()]);
        }
        let web_seeds = root.get(b"url-list").map(strings).unwrap_or_default();
        let http_seeds = root.get(b"httpseeds").map(strings).unwrap_or_default();
        let comment = root
            .get(b"comment.utf-8")
            .and_then(|v| v.as_str())
            .map(str::to_owned)
            .or_else(|| text(&root, "comment"));
        Ok(Metainfo {
            info,
            announce,
            trackers,
            web_seeds,
            http_seeds,
            creation_date: root.get(b"creation date").and_then(|v| v.as_int()),
            comment,
            created_by: text(&root, "created by"),
        })
    }

    /// The info-hash (SHA-1 of the `info` bytes as they were in the file).
    pub fn info_hash(&self) -> InfoHash {
        self.info.info_hash()
    }

    /// The torrent's name (shortcut for [`Info::name`]).
    pub fn name(&self) -> &str {
        self.info.name()
    }

    /// The files with safe relative paths (shortcut for [`Info::files`]).
    pub fn files(&self) -> &[crate::FileEntry] {
        self.info.files()
    }

    /// The file spans of piece `piece` (shortcut for [`Info::file_spans`]).
    pub fn file_spans(&self, piece: u32) -> crate::FileSpans<'_> {
        self.info.file_spans(piece)
    }

    /// Bencodes the torrent, keys sorted. The `info` dictionary is written
    /// byte for byte as parsed, so the info-hash never changes.
    ///
    /// `announce` is the first tracker when unset; `announce-list` is written
    /// unless the trackers are just that one URL.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut e = Encoder::new(Vec::with_capacity(self.info.raw().len() + 256));
        e.begin_dict();
        let first = self.trackers.first().and_then(|t| t.first());
        let announce = self.announce.as_ref().or(first);
        if let Some(a) = announce {
            e.str("announce");
            e.str(a);
        }
        // A lone tracker equal to `announce` needs no list (as mktorrent does).
        let only_announce = matches!(self.trackers.as_slice(), [tier] if tier.len() == 1 && tier.first() == announce);
        if !self.trackers.is_empty() && !only_announce {
            e.str("announce-list");
            e.begin_list();
            for tier in &self.trackers {
                e.begin_list();
                for url in tier {
                    e.str(url);
                }
                e.end();
            }
            e.end();
        }
        if let Some(c) = &self.comment {
            e.str("comment");
            e.str(c);
        }
        if let Some(c) = &self.created_by {
            e.str("created by");
            e.str(c);
        }
        if let Some(d) = self.creation_date {
            e.str("creation date");
            e.int(d);
        }
        if !self.http_seeds.is_empty() {
            e.str("httpseeds");
            write_list(&mut e, &self.http_seeds);
        }
        e.str("info");
        e.raw(self.info.raw());
        if !self.web_seeds.is_empty() {
            e.str("url-list");
            write_list(&mut e, &self.web_seeds);
        }
        e.end();
        e.into_inner()
    }
}

fn write_list(e: &mut Encoder<Vec<u8>>, items: &[String]) {
    e.begin_list();
    for s in items {
        e.str(s);
    }
    e.end();
}

/// A text field, converted lossily when not UTF-8; `None` when absent or not a string.
fn text(dict: &Dict<'_, '_>, key: &str) -> Option<String> {
    dict.get(key.as_bytes())
        .and_then(|v| v.as_bytes())
        .map(|b| String::from_utf8_lossy(b).into_owned())
}

/// A string or a list of strings as a list of non-empty strings (BEP 19 allows both).
fn strings(v: Value<'_, '_>) -> Vec<String> {
    let one = |v: Value<'_, '_>| {
        v.as_bytes()
            .map(|b| String::from_utf8_lossy(b).trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    match v.as_list() {
        Some(list) => list.iter().filter_map(one).collect(),
        None => one(v).into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str =
        "d6:lengthi1e4:name1:a12:piece lengthi16384e6:pieces20:xxxxxxxxxxxxxxxxxxxxe";

    fn with_root(extra: &str) -> Metainfo {
        let t = format!("d{extra}4:info{INFO}e");
        Metainfo::from_bytes(t.as_bytes()).unwrap()
    }

    #[test]
    fn announce_alone_is_one_tier() {
        let m = with_root("8:announce10:http://a/a");
        assert_eq!(m.trackers, vec![vec!["http://a/a".to_owned()]]);
        // Written back without an announce-list.
        let out = m.to_bytes();
        assert!(!out.windows(13).any(|w| w == b"announce-list"));
        assert_eq!(Metainfo::from_bytes(&out).unwrap(), m);
    }

    #[test]
    fn wrong_types_outside_info_are_ignored() {
        let m = with_root(
            "8:announcei1e13:announce-list3:abc7:commentle13:creation date2:no8:url-listi5e",
        );
        assert!(m.trackers.is_empty() && m.announce.is_none());
        assert!(m.comment.is_none() && m.creation_date.is_none() && m.web_seeds.is_empty());
    }

    #[test]
    fn announce_list_without_announce_writes_both() {
        let m = with_root("13:announce-listll8:http://ael8:http://bee");
        assert!(m.announce.is_none());
        let again = Metainfo::from_bytes(&m.to_bytes()).unwrap();
        assert_eq!(again.announce.as_deref(), Some("http://a"));
        assert_eq!(again.trackers, m.trackers);
    }

    #[test]
    fn root_must_be_a_dict_with_info() {
        assert!(matches!(
            Metainfo::from_bytes(b"le"),
            Err(Error::WrongType {
                field: "(root)",
                ..
            })
        ));
        assert!(matches!(
            Metainfo::from_bytes(b"de"),
            Err(Error::MissingField("info"))
        ));
    }
}
