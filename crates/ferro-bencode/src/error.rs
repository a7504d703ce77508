//! The one error type of this crate: what went wrong and at which byte.

use std::fmt;

/// What kind of problem an [`Error`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input ended inside a value.
    UnexpectedEof,
    /// A byte that cannot start or continue a value here.
    InvalidByte(u8),
    /// An integer with a leading zero (`i03e`), or, in strict mode, a string length with one (`03:abc`).
    LeadingZero,
    /// The integer `-0`, which bencode forbids.
    NegativeZero,
    /// An integer with no digits (`ie`, `i-e`).
    EmptyInteger,
    /// An integer outside `i64`.
    IntegerOverflow,
    /// A string length that is not a number, or that runs past the end of the input.
    InvalidStringLength,
    /// Lists and dictionaries nested deeper than [`DecodeOptions::max_depth`](crate::DecodeOptions::max_depth).
    DepthLimit(usize),
    /// More values than [`DecodeOptions::max_items`](crate::DecodeOptions::max_items).
    ItemLimit(usize),
    /// A dictionary key that is not a byte string.
    KeyNotString,
    /// A dictionary key with no value before the closing `e`.
    MissingValue,
    /// In strict mode: dictionary keys not in ascending byte order.
    UnsortedKeys,
    /// The same key twice in one dictionary.
    DuplicateKey(Vec<u8>),
    /// Bytes after the end of the top-level value.
    TrailingData,
    /// The input is larger than this decoder can index (4 GiB).
    InputTooLarge(usize),
    /// A type that bencode cannot represent (floats, `None` at top level, non-string map keys).
    Unsupported(&'static str),
    /// A message from a serde `Deserialize` or `Serialize` implementation.
    Custom(String),
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::UnexpectedEof => write!(f, "unexpected end of input"),
            ErrorKind::InvalidByte(b) => write!(f, "invalid byte {:?}", char::from(*b)),
            ErrorKind::LeadingZero => write!(f, "number with a leading zero"),
            ErrorKind::NegativeZero => write!(f, "negative zero"),
            ErrorKind::EmptyInteger => write!(f, "integer with no digits"),
            ErrorKind::IntegerOverflow => write!(f, "integer overflows i64"),
            ErrorKind::InvalidStringLength => write!(f, "invalid string length"),
            ErrorKind::DepthLimit(n) => write!(f, "nesting deeper than {n}"),
            ErrorKind::ItemLimit(n) => write!(f, "more than {n} values"),
            ErrorKind::KeyNotString => write!(f, "dictionary key is not a byte string"),
            ErrorKind::MissingValue => write!(f, "dictionary key without a value"),
            ErrorKind::UnsortedKeys => write!(f, "dictionary keys are not sorted"),
            ErrorKind::DuplicateKey(k) => {
                write!(
                    f,
                    "duplicate dictionary key {:?}",
                    String::from_utf8_lossy(k)
                )
            }
            ErrorKind::TrailingData => write!(f, "trailing data after the value"),
            ErrorKind::InputTooLarge(n) => write!(f, "input of {n} bytes is too large"),
            ErrorKind::Unsupported(what) => write!(f, "bencode cannot represent {what}"),
            ErrorKind::Custom(msg) => f.write_str(msg),
        }
    }
}

/// A decoding or encoding error: its [`ErrorKind`] and the byte offset where it was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at byte {offset}")]
pub struct Error {
    kind: ErrorKind,
    offset: usize,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, offset: usize) -> Self {
        Error { kind, offset }
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The byte offset in the input (0 for encoding errors).
    pub fn offset(&self) -> usize {
        self.offset
    }
}

impl serde::de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error::new(ErrorKind::Custom(msg.to_string()), 0)
    }
}

impl serde::ser::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error::new(ErrorKind::Custom(msg.to_string()), 0)
    }
}
