//! The zero-copy decoder.
//!
//! Decoding makes one pass over the input and fills a flat "tape" of tokens, one
//! per value, in document order (the design of libtorrent's `bdecode`). Every
//! container token records where its subtree ends on the tape, so skipping a
//! value is O(1) and the whole document costs one allocation. [`Value`]s are
//! cheap `Copy` cursors into the tape that hand out slices of the input.

use std::fmt;
use std::ops::Range;

use crate::error::{Error, ErrorKind};
use crate::owned::OwnedValue;
use crate::scan;

/// Limits and strictness for decoding untrusted input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Deepest nesting of lists and dictionaries accepted. Default 128.
    pub max_depth: usize,
    /// Most values (integers, strings, lists, dictionaries, keys included) in one
    /// document. Default 4,000,000, enough for a torrent of 1,000,000 files.
    pub max_items: usize,
    /// Strict (canonical) mode: dictionary keys must be sorted and string
    /// lengths have no leading zeros. The default, lenient mode accepts
    /// unsorted keys, as real .torrent files need. Duplicate keys are rejected
    /// in both modes, since they make a document ambiguous.
    pub strict: bool,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            max_depth: 128,
            max_items: 4_000_000,
            strict: false,
        }
    }
}

impl DecodeOptions {
    /// The default limits in strict (canonical) mode.
    pub fn strict() -> Self {
        DecodeOptions {
            strict: true,
            ..Self::default()
        }
    }
}

/// The type of a bencoded value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `i42e`
    Int,
    /// `4:spam`
    Bytes,
    /// `l...e`
    List,
    /// `d...e`
    Dict,
}

#[derive(Debug, Clone, Copy)]
struct Token {
    /// Offset of the value's first byte.
    start: u32,
    /// Offset just past the value's last byte.
    end: u32,
    /// Strings: offset of the payload. Containers: number of elements (pairs for dictionaries).
    data: u32,
    /// Containers: tape index just past the subtree. Others: own index + 1.
    next: u32,
    kind: Kind,
}

/// A decoded bencode document: the input and the tape of its values.
#[derive(Clone)]
pub struct Document<'a> {
    buf: &'a [u8],
    tape: Vec<Token>,
}

/// Decodes one complete value in lenient mode with default limits.
///
/// ```
/// let doc = ferro_bencode::decode(b"d3:cow3:moo4:spaml1:a1:bee")?;
/// let dict = doc.root().as_dict().unwrap();
/// assert_eq!(dict.get(b"cow").and_then(|v| v.as_str()), Some("moo"));
/// assert_eq!(dict.get(b"spam").unwrap().raw(), b"l1:a1:be");
/// # Ok::<(), ferro_bencode::Error>(())
/// ```
pub fn decode(buf: &[u8]) -> Result<Document<'_>, Error> {
    decode_with(buf, &DecodeOptions::default())
}

/// Decodes one complete value; bytes after it are an error.
pub fn decode_with<'a>(buf: &'a [u8], opts: &DecodeOptions) -> Result<Document<'a>, Error> {
    let (doc, used) = decode_prefix(buf, opts)?;
    if used != buf.len() {
        return Err(Error::new(ErrorKind::TrailingData, used));
    }
    Ok(doc)
}

/// Decodes the one value at the start of `buf` and returns it with the number of
/// bytes it took; whatever follows is left alone (BEP 9's `data` messages put the
/// raw metadata piece right after a bencoded dictionary).
pub fn decode_prefix<'a>(
    buf: &'a [u8],
    opts: &DecodeOptions,
) -> Result<(Document<'a>, usize), Error> {
    if u32::try_from(buf.len()).is_err() {
        return Err(Error::new(ErrorKind::InputTooLarge(buf.len()), 0));
    }
    // Typical values take 6-10 bytes, so len/8 tokens (plus a few) rarely needs
    // a second allocation. Capped: inputs that are mostly one long string (a
    // torrent's `pieces`) would otherwise reserve far more than they use.
    let mut tape = Vec::with_capacity(
        (buf.len() / 8 + 16)
            .min(TAPE_RESERVE_CAP)
            .min(opts.max_items.max(1)),
    );
    let used = Parser {
        buf,
        opts,
        tape: &mut tape,
    }
    .run()?;
    Ok((Document { buf, tape }, used))
}

/// Most tokens reserved up front (20 bytes each); larger documents grow the tape.
const TAPE_RESERVE_CAP: usize = 1024;

#[derive(Clone, Copy, Default)]
struct Frame {
    tok: u32,
    is_dict: bool,
    /// In a dictionary: the next value read is a key.
    expect_key: bool,
    /// In a dictionary: the tape index of the last key, for the order check.
    last_key: u32,
    /// In a dictionary: a key was out of order, so duplicates need a full check at the end.
    unsorted: bool,
    count: u32,
}

/// The open containers. The first levels live inline, so decoding a typical
/// document makes no allocation beyond the tape.
struct Stack {
    inline: [Frame; INLINE_DEPTH],
    spill: Vec<Frame>,
    len: usize,
}

const INLINE_DEPTH: usize = 32;

impl Stack {
    fn new() -> Self {
        Stack {
            inline: [Frame::default(); INLINE_DEPTH],
            spill: Vec::new(),
            len: 0,
        }
    }

    fn len(&self) -> usize {
        self.len
    }

    fn push(&mut self, f: Frame) {
        match self.inline.get_mut(self.len) {
            Some(slot) => *slot = f,
            None => self.spill.push(f),
        }
        self.len += 1;
    }

    fn pop(&mut self) -> Option<Frame> {
        self.len = self.len.checked_sub(1)?;
        if self.len >= INLINE_DEPTH {
            self.spill.pop()
        } else {
            self.inline.get(self.len).copied()
        }
    }

    fn last(&self) -> Option<&Frame> {
        let top = self.len.checked_sub(1)?;
        if top >= INLINE_DEPTH {
            self.spill.last()
        } else {
            self.inline.get(top)
        }
    }

    fn last_mut(&mut self) -> Option<&mut Frame> {
        let top = self.len.checked_sub(1)?;
        if top >= INLINE_DEPTH {
            self.spill.last_mut()
        } else {
            self.inline.get_mut(top)
        }
    }
}

struct Parser<'p, 'a> {
    buf: &'a [u8],
    opts: &'p DecodeOptions,
    tape: &'p mut Vec<Token>,
}

// Offsets and tape indices are u32, and their `as u32` and `+ 1` cannot
// overflow: `decode_prefix` refuses inputs over u32::MAX bytes, and every
// token takes at least two of them, so there are fewer than u32::MAX / 2.
impl Parser<'_, '_> {
    /// Appends a token; leaves (strings, integers) get `next` = their own index + 1.
    fn push(&mut self, mut t: Token, at: usize) -> Result<u32, Error> {
        if self.tape.len() >= self.opts.max_items {
            return Err(Error::new(ErrorKind::ItemLimit(self.opts.max_items), at));
        }
        let idx = self.tape.len() as u32;
        t.next = idx + 1;
        self.tape.push(t);
        Ok(idx)
    }

    fn key(&self, idx: u32) -> &[u8] {
        self.tape
            .get(idx as usize)
            .and_then(|t| self.buf.get(t.data as usize..t.end as usize))
            .unwrap_or_default()
    }

    /// Where the value at tape index `idx` starts in the input (for error positions).
    fn start_of(&self, idx: u32) -> usize {
        self.tape.get(idx as usize).map_or(0, |t| t.start as usize)
    }

    fn run(mut self) -> Result<usize, Error> {
        let buf = self.buf;
        let mut stack = Stack::new();
        let mut pos = 0usize;
        loop {
            let Some(&c) = buf.get(pos) else {
                return Err(Error::new(ErrorKind::UnexpectedEof, pos));
            };
            if c == b'e' {
                let Some(frame) = stack.pop() else {
                    return Err(Error::new(ErrorKind::InvalidByte(c), pos));
                };
                if frame.is_dict && !frame.expect_key {
                    return Err(Error::new(ErrorKind::MissingValue, pos));
                }
                if frame.unsorted {
                    self.check_duplicates(frame.tok)?;
                }
                let next = self.tape.len() as u32;
                // `frame.tok` came from `push` and the tape never shrinks, so
                // the token is always there.
                if let Some(t) = self.tape.get_mut(frame.tok as usize) {
                    t.end = (pos + 1) as u32;
                    t.next = next;
                    t.data = frame.count;
                }
                pos += 1;
                if !self.finish_value(&mut stack, frame.tok)? {
                    return Ok(pos);
                }
                continue;
            }
            let in_key = matches!(stack.last(), Some(f) if f.is_dict && f.expect_key);
            let start = pos as u32;
            let idx = match c {
                b'0'..=b'9' => {
                    let (data, end) = scan::string(buf, pos, self.opts.strict)?;
                    let idx = self.push(
                        Token {
                            start,
                            end: end as u32,
                            data: data as u32,
                            next: 0,
                            kind: Kind::Bytes,
                        },
                        pos,
                    )?;
                    pos = end;
                    idx
                }
                _ if in_key => return Err(Error::new(ErrorKind::KeyNotString, pos)),
                b'i' => {
                    let (_, end) = scan::integer(buf, pos)?;
                    let idx = self.push(
                        Token {
                            start,
                            end: end as u32,
                            data: 0,
                            next: 0,
                            kind: Kind::Int,
                        },
                        pos,
                    )?;
                    pos = end;
                    idx
                }
                b'l' | b'd' => {
                    if stack.len() >= self.opts.max_depth {
                        return Err(Error::new(ErrorKind::DepthLimit(self.opts.max_depth), pos));
                    }
                    let is_dict = c == b'd';
                    let kind = if is_dict { Kind::Dict } else { Kind::List };
                    let tok = self.push(
                        Token {
                            start,
                            end: 0,
                            data: 0,
                            next: 0,
                            kind,
                        },
                        pos,
                    )?;
                    stack.push(Frame {
                        tok,
                        is_dict,
                        expect_key: true,
                        last_key: u32::MAX,
                        unsorted: false,
                        count: 0,
                    });
                    pos += 1;
                    continue;
                }
                _ => return Err(Error::new(ErrorKind::InvalidByte(c), pos)),
            };
            if !self.finish_value(&mut stack, idx)? {
                return Ok(pos);
            }
        }
    }

    /// Accounts for a finished value (`idx`) in its parent. Returns false when it was the top-level value.
    fn finish_value(&mut self, stack: &mut Stack, idx: u32) -> Result<bool, Error> {
        let Some(frame) = stack.last_mut() else {
            return Ok(false);
        };
        if !frame.is_dict {
            frame.count += 1;
            return Ok(true);
        }
        if frame.expect_key {
            if frame.last_key != u32::MAX {
                let (prev, key) = (self.key(frame.last_key), self.key(idx));
                match prev.cmp(key) {
                    std::cmp::Ordering::Less => {}
                    std::cmp::Ordering::Equal => {
                        let at = self.start_of(idx);
                        return Err(Error::new(ErrorKind::DuplicateKey(key.to_vec()), at));
                    }
                    std::cmp::Ordering::Greater => {
                        if self.opts.strict {
                            let at = self.start_of(idx);
                            return Err(Error::new(ErrorKind::UnsortedKeys, at));
                        }
                        frame.unsorted = true;
                    }
                }
            }
            frame.last_key = idx;
            frame.expect_key = false;
        } else {
            frame.expect_key = true;
            frame.count += 1;
        }
        Ok(true)
    }

    /// Full duplicate check for a dictionary whose keys were not in order.
    fn check_duplicates(&self, dict: u32) -> Result<(), Error> {
        let mut keys = Vec::new();
        let mut i = dict as usize + 1;
        // The dictionary is the innermost open container, so the rest of the tape is its pairs.
        while i < self.tape.len() {
            keys.push(i as u32);
            // The value after the key; its `next` is final since it is complete.
            let Some(v) = self.tape.get(i + 1) else { break };
            i = v.next as usize;
        }
        let duplicate = |a: u32, b: u32| -> Result<(), Error> {
            if self.key(a) == self.key(b) {
                let at = self.start_of(b);
                return Err(Error::new(
                    ErrorKind::DuplicateKey(self.key(b).to_vec()),
                    at,
                ));
            }
            Ok(())
        };
        if keys.len() <= SMALL_DICT {
            // Small dictionaries: comparing every pair beats sorting.
            for (n, &b) in keys.iter().enumerate() {
                for &a in keys.iter().take(n) {
                    duplicate(a, b)?;
                }
            }
            return Ok(());
        }
        keys.sort_by(|a, b| self.key(*a).cmp(self.key(*b)));
        for w in keys.windows(2) {
            if let [a, b] = w {
                duplicate(*a, *b)?;
            }
        }
        Ok(())
    }
}

/// Up to this many keys, an unsorted dictionary is checked for duplicates pairwise.
const SMALL_DICT: usize = 12;

impl<'a> Document<'a> {
    /// The top-level value.
    pub fn root(&self) -> Value<'_, 'a> {
        Value {
            buf: self.buf,
            tape: &self.tape,
            idx: 0,
        }
    }

    /// The input this document was decoded from.
    pub fn input(&self) -> &'a [u8] {
        self.buf
    }

    /// How many values the document holds (dictionary keys included).
    pub fn len(&self) -> usize {
        self.tape.len()
    }

    /// Always false: a document holds at least its root value.
    pub fn is_empty(&self) -> bool {
        self.tape.is_empty()
    }
}

impl fmt::Debug for Document<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.root().fmt(f)
    }
}

/// A value in a [`Document`]: a cheap, copyable cursor. `'a` is the input's lifetime.
#[derive(Clone, Copy)]
pub struct Value<'d, 'a> {
    buf: &'a [u8],
    tape: &'d [Token],
    idx: u32,
}

impl<'d, 'a> Value<'d, 'a> {
    // Cannot fail: a `Value` is only made by `Document::root` (index 0; a
    // decoded tape holds at least the root) and by `Children`, whose indices
    // lie below their container's `next`, which is at most the tape's length.
    #[allow(clippy::indexing_slicing)]
    fn token(&self) -> Token {
        self.tape[self.idx as usize]
    }

    /// Its type.
    pub fn kind(&self) -> Kind {
        self.token().kind
    }

    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        let t = self.token();
        if t.kind != Kind::Int {
            return None;
        }
        scan::integer(self.buf, t.start as usize)
            .ok()
            .map(|(v, _)| v)
    }

    /// The byte string, if this is one: a slice of the input, not a copy.
    pub fn as_bytes(&self) -> Option<&'a [u8]> {
        let t = self.token();
        if t.kind != Kind::Bytes {
            return None;
        }
        self.buf.get(t.data as usize..t.end as usize)
    }

    /// The byte string as UTF-8, if it is a byte string and valid UTF-8.
    pub fn as_str(&self) -> Option<&'a str> {
        self.as_bytes().and_then(|b| std::str::from_utf8(b).ok())
    }

    /// The list, if this is one.
    pub fn as_list(&self) -> Option<List<'d, 'a>> {
        (self.kind() == Kind::List).then_some(List { v: *self })
    }

    /// The dictionary, if this is one.
    pub fn as_dict(&self) -> Option<Dict<'d, 'a>> {
        (self.kind() == Kind::Dict).then_some(Dict { v: *self })
    }

    /// The exact bytes that encode this value in the input (a torrent's
    /// info-hash is the SHA-1 of its `info` value's raw bytes).
    pub fn raw(&self) -> &'a [u8] {
        self.buf.get(self.span()).unwrap_or_default()
    }

    /// Where [`raw`](Self::raw) lies in the input.
    pub fn span(&self) -> Range<usize> {
        let t = self.token();
        t.start as usize..t.end as usize
    }

    /// An owned copy of this value and everything in it.
    pub fn to_owned(&self) -> OwnedValue {
        match self.kind() {
            Kind::Int => OwnedValue::Int(self.as_int().unwrap_or_default()),
            Kind::Bytes => OwnedValue::Bytes(self.as_bytes().unwrap_or_default().to_vec()),
            Kind::List => OwnedValue::List(self.children().map(|v| v.to_owned()).collect()),
            Kind::Dict => OwnedValue::Dict(
                Dict { v: *self }
                    .iter()
                    .map(|(k, v)| (k.to_vec(), v.to_owned()))
                    .collect(),
            ),
        }
    }

    fn children(&self) -> Children<'d, 'a> {
        let t = self.token();
        let (next, end) = match t.kind {
            Kind::List | Kind::Dict => (self.idx + 1, t.next),
            _ => (0, 0),
        };
        Children {
            buf: self.buf,
            tape: self.tape,
            next,
            end,
        }
    }
}

impl fmt::Debug for Value<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind() {
            Kind::Int => write!(f, "{}", self.as_int().unwrap_or_default()),
            Kind::Bytes => {
                let b = self.as_bytes().unwrap_or_default();
                match std::str::from_utf8(b) {
                    Ok(s) => write!(f, "{s:?}"),
                    Err(_) => write!(f, "<{} bytes>", b.len()),
                }
            }
            Kind::List => f.debug_list().entries(self.children()).finish(),
            Kind::Dict => f
                .debug_map()
                .entries(
                    Dict { v: *self }
                        .iter()
                        .map(|(k, v)| (String::from_utf8_lossy(k), v)),
                )
                .finish(),
        }
    }
}

/// Iterates over the direct children of a container.
#[derive(Clone)]
struct Children<'d, 'a> {
    buf: &'a [u8],
    tape: &'d [Token],
    next: u32,
    end: u32,
}

impl<'d, 'a> Iterator for Children<'d, 'a> {
    type Item = Value<'d, 'a>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.end {
            return None;
        }
        let v = Value {
            buf: self.buf,
            tape: self.tape,
            idx: self.next,
        };
        self.next = self.tape.get(self.next as usize)?.next;
        Some(v)
    }
}

/// A list in a [`Document`].
#[derive(Clone, Copy)]
pub struct List<'d, 'a> {
    v: Value<'d, 'a>,
}

impl<'d, 'a> List<'d, 'a> {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.v.token().data as usize
    }

    /// True if the list has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The elements in order.
    pub fn iter(&self) -> impl Iterator<Item = Value<'d, 'a>> + use<'d, 'a> {
        self.v.children()
    }

    /// The element at `index` (a linear walk that skips whole subtrees).
    pub fn get(&self, index: usize) -> Option<Value<'d, 'a>> {
        self.v.children().nth(index)
    }

    /// The list as a [`Value`].
    pub fn as_value(&self) -> Value<'d, 'a> {
        self.v
    }
}

impl fmt::Debug for List<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.v.fmt(f)
    }
}

/// A dictionary in a [`Document`], with its pairs in input order.
#[derive(Clone, Copy)]
pub struct Dict<'d, 'a> {
    v: Value<'d, 'a>,
}

impl<'d, 'a> Dict<'d, 'a> {
    /// Number of key–value pairs.
    pub fn len(&self) -> usize {
        self.v.token().data as usize
    }

    /// True if the dictionary has no pairs.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The pairs in input order.
    pub fn iter(&self) -> impl Iterator<Item = (&'a [u8], Value<'d, 'a>)> + use<'d, 'a> {
        let mut it = self.v.children();
        std::iter::from_fn(move || {
            let k = it.next()?;
            let v = it.next()?;
            Some((k.as_bytes().unwrap_or_default(), v))
        })
    }

    /// The value of `key`, if present (keys are unique: duplicates fail to decode).
    pub fn get(&self, key: &[u8]) -> Option<Value<'d, 'a>> {
        self.iter().find_map(|(k, v)| (k == key).then_some(v))
    }

    /// The dictionary as a [`Value`].
    pub fn as_value(&self) -> Value<'d, 'a> {
        self.v
    }
}

impl fmt::Debug for Dict<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.v.fmt(f)
    }
}
