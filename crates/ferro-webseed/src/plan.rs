//! URLs, range requests and response checks (BEP 19).

use ferro_metainfo::Info;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

/// Errors judging a web seed's answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// 404 or 410: this seed does not have the file.
    #[error("web seed has no such file (HTTP {0})")]
    NotFound(u16),
    /// 5xx or 429: the server is in trouble; try again later.
    #[error("web seed server error (HTTP {0})")]
    Server(u16),
    /// Any other status for a range request.
    #[error("unexpected HTTP status {0}")]
    Status(u16),
    /// A 206 whose `Content-Range` is missing or is not the range asked for.
    #[error("Content-Range {got:?} does not match the requested bytes {want}")]
    ContentRange {
        /// The header as received.
        got: Option<String>,
        /// What was asked for.
        want: String,
    },
    /// No byte arrived for this long (headers or body): the seed stalled.
    #[error("no data from the web seed for {0:?}")]
    Timeout(std::time::Duration),
    /// The server redirected more often than allowed.
    #[error("more than {0} redirects")]
    TooManyRedirects(usize),
    /// Connection refused or reset, TLS failure, malformed HTTP, bad URL...
    #[error("HTTP transport error: {0}")]
    Transport(String),
    /// The body ended before all requested bytes arrived.
    #[error("body ended after {got} of {want} wanted bytes")]
    BodyEnded {
        /// Bytes of the wanted range received.
        got: u64,
        /// Bytes wanted.
        want: u64,
    },
    /// The bytes of piece `0` fetched from the seed do not match its SHA-1.
    #[error("piece {0} from the web seed failed the hash check")]
    HashMismatch(u32),
    /// The torrent has no piece with this index.
    #[error("no piece {0} in this torrent")]
    NoSuchPiece(u32),
    /// The byte range asked for is empty, too long, or beyond the torrent's end.
    #[error(
        "range of {len} bytes at {offset} is not fetchable (torrent size {total}, limit {limit})"
    )]
    BadRange {
        /// Start of the range in the torrent.
        offset: u64,
        /// Its length.
        len: u64,
        /// The torrent's total length.
        total: u64,
        /// The longest range one fetch may ask for.
        limit: u64,
    },
    /// Every web seed is backing off, dropped, or lacks a file of the range.
    #[error("no usable web seed for this range")]
    NoUsableSeed,
    /// A 200 whose body is too short to hold the requested bytes.
    #[error("full body of {len} bytes cannot hold bytes {start}..{end}")]
    ShortBody {
        /// The body length the server announced.
        len: u64,
        /// Start of the wanted range.
        start: u64,
        /// End (exclusive) of the wanted range.
        end: u64,
    },
}

/// An [`Error`] with where it happened: the URL asked and the torrent file it
/// serves (`None` when the error is not about one file, e.g. a hash mismatch
/// over a piece that spans several).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{url}{}: {error}", file_index.map(|i| format!(" (file {i})")).unwrap_or_default())]
pub struct FetchError {
    /// The URL of the request (or the seed's base URL).
    pub url: String,
    /// The torrent file the request was for.
    pub file_index: Option<usize>,
    /// What went wrong.
    #[source]
    pub error: Error,
}

impl FetchError {
    /// `error` for request `req`.
    pub fn for_request(req: &RangeRequest, error: Error) -> Self {
        FetchError {
            url: req.url.clone(),
            file_index: Some(req.file_index),
            error,
        }
    }

    /// `error` for the seed at `url` as a whole.
    pub fn for_seed(url: &str, error: Error) -> Self {
        FetchError {
            url: url.to_string(),
            file_index: None,
            error,
        }
    }
}

/// Bytes kept as they are in a URL path component: RFC 3986 unreserved.
const COMPONENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}')
    .add(b'/')
    .add(b';')
    .add(b'=')
    .add(b'&')
    .add(b'+')
    .add(b':')
    .add(b'@')
    .add(b'$')
    .add(b',')
    .add(b'!')
    .add(b'\'')
    .add(b'(')
    .add(b')')
    .add(b'*');

/// The URL of file `file_index` of the torrent on the web seed `base` (BEP 19).
/// `None` if there is no such file.
pub fn file_url(info: &Info, base: &str, file_index: usize) -> Option<String> {
    let file = info.files().get(file_index)?;
    if !info.is_multi_file() {
        return Some(if base.ends_with('/') {
            format!("{base}{}", utf8_percent_encode(info.name(), COMPONENT))
        } else {
            base.to_string()
        });
    }
    // Multi-file: base/name/dir/.../file. The file's path already starts with the name.
    let mut url = base.to_string();
    if !url.ends_with('/') {
        url.push('/');
    }
    let mut first = true;
    for c in file.path.components() {
        if !first {
            url.push('/');
        }
        first = false;
        url.extend(utf8_percent_encode(
            &c.as_os_str().to_string_lossy(),
            COMPONENT,
        ));
    }
    Some(url)
}

/// One HTTP Range request: `len` bytes of file `file_index` from `start`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeRequest {
    /// The file in the torrent.
    pub file_index: usize,
    /// The URL to GET.
    pub url: String,
    /// First byte wanted, inside the file.
    pub start: u64,
    /// Number of bytes wanted (never 0).
    pub len: u64,
}

impl RangeRequest {
    /// The `Range` header value, e.g. `bytes=0-16383` (the end is inclusive).
    pub fn range_header(&self) -> String {
        format!("bytes={}-{}", self.start, self.last())
    }

    /// The last byte wanted (inclusive), as HTTP ranges count. Saturating, so
    /// that a hand-made request with `len == 0` or past `u64::MAX` cannot panic.
    fn last(&self) -> u64 {
        self.start.saturating_add(self.len).saturating_sub(1)
    }
}

/// The torrent bytes `[offset, offset + len)` as one Range request per file
/// they touch, in order. Padding files (BEP 47) are zeros that no server holds,
/// so they are skipped; the caller fills them in.
pub fn plan_range(info: &Info, base: &str, offset: u64, len: u64) -> Vec<RangeRequest> {
    info.range_spans(offset, len)
        .filter_map(|s| {
            Some(RangeRequest {
                file_index: s.file_index,
                url: file_url(info, base, s.file_index)?,
                start: s.file_offset,
                len: s.len,
            })
        })
        .collect()
}

/// How to read the body of an accepted answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyPlan {
    /// A 206: the body is exactly the requested bytes.
    Exact,
    /// A 200 (the server ignored `Range`): skip `skip` bytes, then take the request's `len`.
    Skip(u64),
}

/// Judges the status and headers of the answer to `req`. `content_length` is
/// the body length the server announced, if it did.
pub fn check_response(
    req: &RangeRequest,
    status: u16,
    content_range: Option<&str>,
    content_length: Option<u64>,
) -> Result<BodyPlan, Error> {
    let end = req.start.saturating_add(req.len);
    match status {
        206 => {
            // Content-Range: bytes START-LAST/TOTAL, TOTAL a number past LAST
            // or `*` (RFC 9110 section 14.4).
            let last = req.last();
            let want = format!("{}-{last}", req.start);
            let matches = content_range
                .and_then(|h| h.trim().strip_prefix("bytes "))
                .and_then(|r| r.split_once('/'))
                .is_some_and(|(r, total)| {
                    r == want && (total == "*" || total.parse::<u64>().is_ok_and(|t| t > last))
                });
            if !matches {
                return Err(Error::ContentRange {
                    got: content_range.map(str::to_string),
                    want,
                });
            }
            if content_length.is_some_and(|l| l != req.len) {
                return Err(Error::ContentRange {
                    got: content_range.map(str::to_string),
                    want,
                });
            }
            Ok(BodyPlan::Exact)
        }
        200 => match content_length {
            Some(l) if l < end => Err(Error::ShortBody {
                len: l,
                start: req.start,
                end,
            }),
            _ => Ok(BodyPlan::Skip(req.start)),
        },
        404 | 410 => Err(Error::NotFound(status)),
        429 | 500..=599 => Err(Error::Server(status)),
        s => Err(Error::Status(s)),
    }
}
