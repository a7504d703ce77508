//! ut_metadata (BEP 9) on a connection that already has the metadata: we
//! advertise it in the extended handshake and answer requests for pieces of
//! our info dictionary.

use bytes::Bytes;
use ferro_magnet::{MetadataMessage, serve_request};
use ferro_wire::{ExtendedHandshake, Message};

/// The id we ask peers to send ut_metadata messages under (BEP 10 `m`).
pub(crate) const UT_METADATA_ID: u8 = 2;

/// Adds ut_metadata and `metadata_size` to our extended handshake (BEP 9
/// "extension header").
pub(crate) fn advertise(ext: ExtendedHandshake, info_raw: &[u8]) -> ExtendedHandshake {
    let mut ext = ext.with_extension("ut_metadata", UT_METADATA_ID);
    ext.metadata_size = Some(info_raw.len() as u64);
    ext
}

/// Our answer to a ut_metadata message `payload`, sent under the peer's id
/// `their_id`: data for a request (reject when out of range or we have no
/// metadata). Anything else, or an undecodable message, gets no answer
/// (BEP 9: unknown message types are ignored).
pub(crate) fn answer(metadata: Option<&[u8]>, payload: &[u8], their_id: u8) -> Option<Message> {
    match MetadataMessage::decode(payload) {
        Ok(MetadataMessage::Request { piece }) => Some(Message::Extended {
            id: their_id,
            payload: Bytes::from(serve_request(metadata, piece).encode()),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(m: &Message) -> (u8, Vec<u8>) {
        match m {
            Message::Extended { id, payload } => (*id, payload.to_vec()),
            other => panic!("not extended: {other:?}"),
        }
    }

    #[test]
    fn advertises_id_and_size() {
        let ext = advertise(ExtendedHandshake::default(), &[0u8; 40_000]);
        assert_eq!(ext.extension_id("ut_metadata"), Some(UT_METADATA_ID));
        assert_eq!(ext.metadata_size, Some(40_000));
    }

    #[test]
    fn serves_pieces_and_rejects_out_of_range_or_without_metadata() {
        let meta: Vec<u8> = (0..20_000u32).map(|i| i as u8).collect();
        let req = |piece| MetadataMessage::Request { piece }.encode();
        let (id, p) = decode(&answer(Some(&meta), &req(1), 7).unwrap());
        assert_eq!(id, 7);
        assert_eq!(
            MetadataMessage::decode(&p).unwrap(),
            MetadataMessage::Data {
                piece: 1,
                total_size: 20_000,
                data: &meta[16_384..]
            }
        );
        let (_, p) = decode(&answer(Some(&meta), &req(2), 7).unwrap());
        assert_eq!(
            MetadataMessage::decode(&p).unwrap(),
            MetadataMessage::Reject { piece: 2 }
        );
        let (_, p) = decode(&answer(None, &req(0), 7).unwrap());
        assert_eq!(
            MetadataMessage::decode(&p).unwrap(),
            MetadataMessage::Reject { piece: 0 }
        );
        assert!(answer(Some(&meta), b"garbage", 7).is_none());
        let reject = MetadataMessage::Reject { piece: 0 }.encode();
        assert!(answer(Some(&meta), &reject, 7).is_none());
    }
}
