//! The crate's one error type.

/// Everything that can go wrong while decoding or encoding peer wire data.
///
/// Every variant carries the offending value so a log line says what the peer sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The handshake's first byte (the protocol string length) was not 19 (BEP 3).
    #[error("handshake protocol string length {0}, expected 19")]
    ProtocolLength(u8),
    /// The handshake's protocol string was not `BitTorrent protocol` (BEP 3).
    #[error("handshake protocol string {0:?} is not \"BitTorrent protocol\"")]
    ProtocolName(String),
    /// A message's length prefix exceeds the limit for its id.
    #[error("message id {id} has length {len}, above the limit of {max} bytes")]
    MessageTooLong {
        /// The message id.
        id: u8,
        /// The length prefix (id byte plus payload).
        len: u32,
        /// The largest length accepted for this id.
        max: u32,
    },
    /// A message's payload length does not fit its id.
    #[error("message id {id} has a payload of {len} bytes, expected {expected}")]
    PayloadLength {
        /// The message id.
        id: u8,
        /// The payload length received.
        len: usize,
        /// What the message needs, e.g. `"12"` or `"at least 8"`.
        expected: &'static str,
    },
    /// A bitfield's byte length does not match the torrent's piece count (BEP 3).
    #[error("bitfield of {len} bytes for {pieces} pieces, expected {expected} bytes")]
    BitfieldLength {
        /// Bytes received.
        len: usize,
        /// The torrent's piece count.
        pieces: usize,
        /// `ceil(pieces / 8)`.
        expected: usize,
    },
    /// A bitfield has bits set past the last piece; BEP 3 says spare bits are zero.
    #[error("bitfield for {pieces} pieces has spare bits set (last byte {last_byte:#04x})")]
    BitfieldSpareBits {
        /// The torrent's piece count.
        pieces: usize,
        /// The last byte of the bitfield.
        last_byte: u8,
    },
    /// A message names a piece index at or past the torrent's piece count.
    #[error("piece index {index} out of range for a torrent of {pieces} pieces")]
    PieceIndex {
        /// The index received.
        index: u32,
        /// The torrent's piece count.
        pieces: u32,
    },
    /// A BEP 10 extended handshake that is not a well-formed bencoded dictionary.
    #[error("invalid extended handshake: {0}")]
    ExtendedHandshake(String),
    /// Encoding an extended handshake failed.
    #[error("cannot encode extended handshake: {0}")]
    ExtendedEncode(String),
    /// An extended message (id 20) without its extended message id byte (BEP 10).
    #[error("extended message without an extended message id")]
    ExtendedEmpty,
    /// The input ended inside a message (only from whole-buffer helpers such as
    /// [`Message::from_frame`](crate::Message::from_frame)).
    #[error("truncated message: {have} of {need} bytes")]
    Truncated {
        /// Bytes available.
        have: usize,
        /// Bytes the message needs.
        need: usize,
    },
    /// The stream ended in the middle of a handshake or message (tokio codec only).
    #[error("connection closed with {0} undecoded bytes")]
    UnexpectedEof(usize),
    /// An I/O error from the transport (tokio codec only).
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}
