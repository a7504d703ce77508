//! The ut_metadata messages of BEP 9: a bencoded dictionary with `msg_type`
//! (0 request, 1 data, 2 reject) and `piece`; a data message also carries
//! `total_size`, and the raw metadata piece follows the dictionary.

use ferro_bencode::{DecodeOptions, Encoder, decode_prefix};

use crate::Error;

/// Metadata travels in 16 KiB pieces; only the last may be shorter (BEP 9).
pub const METADATA_PIECE_SIZE: usize = 16 * 1024;

/// One ut_metadata message. `Data` borrows its payload from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataMessage<'a> {
    /// Please send piece `piece`.
    Request {
        /// The metadata piece index.
        piece: u32,
    },
    /// Piece `piece` of metadata that is `total_size` bytes long.
    Data {
        /// The metadata piece index.
        piece: u32,
        /// The whole metadata's size in bytes.
        total_size: u64,
        /// The piece's bytes (at most 16 KiB).
        data: &'a [u8],
    },
    /// The peer will not send piece `piece`.
    Reject {
        /// The metadata piece index.
        piece: u32,
    },
}

impl<'a> MetadataMessage<'a> {
    /// Decodes the payload of an extended message with our ut_metadata id.
    /// Unknown `msg_type`s are an error the caller ignores (BEP 9: "unrecognized
    /// message IDs MUST be ignored").
    pub fn decode(payload: &'a [u8]) -> Result<Self, Error> {
        let opts = DecodeOptions {
            max_depth: 4,
            max_items: 64,
            strict: false,
        };
        let (doc, used) =
            decode_prefix(payload, &opts).map_err(|e| Error::BadMessage(e.to_string()))?;
        let dict = doc
            .root()
            .as_dict()
            .ok_or_else(|| Error::BadMessage("not a dictionary".into()))?;
        let int = |key: &str| dict.get(key.as_bytes()).and_then(|v| v.as_int());
        let msg_type = int("msg_type").ok_or_else(|| Error::BadMessage("no msg_type".into()))?;
        let piece = int("piece")
            .and_then(|p| u32::try_from(p).ok())
            .ok_or_else(|| Error::BadMessage("no valid piece".into()))?;
        let rest = payload.get(used..).unwrap_or_default();
        match msg_type {
            0 => Ok(MetadataMessage::Request { piece }),
            1 => {
                let total_size = int("total_size")
                    .and_then(|s| u64::try_from(s).ok())
                    .ok_or_else(|| Error::BadMessage("data without a valid total_size".into()))?;
                if rest.len() > METADATA_PIECE_SIZE {
                    return Err(Error::BadMessage(format!(
                        "data piece of {} bytes",
                        rest.len()
                    )));
                }
                Ok(MetadataMessage::Data {
                    piece,
                    total_size,
                    data: rest,
                })
            }
            2 => Ok(MetadataMessage::Reject { piece }),
            t => Err(Error::BadMessage(format!("unknown msg_type {t}"))),
        }
    }

    /// Encodes the payload of an extended message (the caller adds the
    /// extended-message header with the peer's ut_metadata id).
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Encoder::new(Vec::new());
        e.begin_dict();
        let (msg_type, piece) = match self {
            MetadataMessage::Request { piece } => (0, piece),
            MetadataMessage::Data { piece, .. } => (1, piece),
            MetadataMessage::Reject { piece } => (2, piece),
        };
        e.str("msg_type");
        e.int(msg_type);
        e.str("piece");
        e.int(i64::from(*piece));
        if let MetadataMessage::Data { total_size, .. } = self {
            e.str("total_size");
            e.int(i64::try_from(*total_size).unwrap_or(i64::MAX));
        }
        e.end();
        let mut out = e.into_inner();
        if let MetadataMessage::Data { data, .. } = self {
            out.extend_from_slice(data);
        }
        out
    }
}

/// Our answer to a peer's request: the piece of `metadata` (our verified info
/// dictionary), or a reject when we have none or the index is out of range.
pub fn serve_request(metadata: Option<&[u8]>, piece: u32) -> MetadataMessage<'_> {
    let Some(meta) = metadata else {
        return MetadataMessage::Reject { piece };
    };
    let start = (piece as usize).saturating_mul(METADATA_PIECE_SIZE);
    let end = start.saturating_add(METADATA_PIECE_SIZE).min(meta.len());
    match meta.get(start..end) {
        Some(data) if !data.is_empty() => MetadataMessage::Data {
            piece,
            total_size: meta.len() as u64,
            data,
        },
        _ => MetadataMessage::Reject { piece },
    }
}
