//! ut_metadata (BEP 9) on a connection that already has the metadata: we
//! advertise it in the extended handshake and answer requests for pieces of
//! our info dictionary -- for public torrents only.
//!
//! A private torrent's info dictionary is never served (BEP 27 keeps a
//! private swarm to its tracker; its metadata should reach only those who
//! got the .torrent from there). This is what libtorrent 2.0 does (it adds
//! no ut_metadata plugin to a private torrent whose metadata it has) and
//! Transmission (it advertises ut_metadata only for public torrents and
//! rejects every request for a private one's pieces). Fetching metadata for
//! a magnet link is not affected: before the info dictionary arrives nobody
//! knows the torrent is private, in those clients as in Ferro.

use bytes::Bytes;
use ferro_magnet::{MetadataMessage, serve_request};
use ferro_metainfo::Info;
use ferro_wire::{ExtendedHandshake, Message};

/// The id we ask peers to send ut_metadata messages under (BEP 10 `m`).
pub(crate) const UT_METADATA_ID: u8 = 2;

/// The info dictionary we may hand out over ut_metadata: `None` for a
/// private torrent (see the module docs).
pub(crate) fn servable(info: &Info) -> Option<&[u8]> {
    (!info.is_private()).then(|| info.raw())
}

/// Adds ut_metadata and `metadata_size` to our extended handshake (BEP 9
/// "extension header") when there is metadata we serve (`servable`);
/// otherwise leaves the handshake without them.
pub(crate) fn advertise(ext: ExtendedHandshake, servable: Option<&[u8]>) -> ExtendedHandshake {
    let Some(info_raw) = servable else {
        return ext;
    };
    let mut ext = ext.with_extension("ut_metadata", UT_METADATA_ID);
    ext.metadata_size = Some(info_raw.len() as u64);
    ext
}

/// Our answer to a ut_metadata message `payload`, sent under the peer's id
/// `their_id`: data for a request (reject when out of range or we have no
/// metadata we serve). Anything else, or an undecodable message, gets no answer
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
        let ext = advertise(ExtendedHandshake::default(), Some(&[0u8; 40_000]));
        assert_eq!(ext.extension_id("ut_metadata"), Some(UT_METADATA_ID));
        assert_eq!(ext.metadata_size, Some(40_000));
        let none = advertise(ExtendedHandshake::default(), None);
        assert_eq!(none.extension_id("ut_metadata"), None);
        assert_eq!(none.metadata_size, None);
    }

    #[test]
    fn private_metadata_is_not_servable() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("f");
        std::fs::write(&file, [7u8; 1000]).unwrap();
        for private in [false, true] {
            let info = ferro_metainfo::TorrentBuilder::new(&file)
                .private(private)
                .build()
                .unwrap()
                .metainfo
                .info;
            assert_eq!(servable(&info).is_some(), !private, "private={private}");
            if let Some(raw) = servable(&info) {
                assert_eq!(raw, info.raw());
            }
        }
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
