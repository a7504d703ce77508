//! ferro-wire's handshake decoder and peer-id parser on arbitrary bytes.
//! Never panics; a decoded handshake re-encodes to the bytes it came from.
#![no_main]

use bytes::BytesMut;
use ferro_wire::{HandshakeDecoder, Handshake, allowed_fast_set, client_info};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [step, rest @ ..] = data else { return };
    let step = usize::from(*step).max(1);
    let mut dec = HandshakeDecoder::new();
    let mut buf = BytesMut::new();
    for chunk in rest.chunks(step) {
        buf.extend_from_slice(chunk);
        let _ = HandshakeDecoder::peek_info_hash(&buf);
        match dec.decode(&mut buf) {
            Ok(Some(h)) => {
                let wire = h.to_bytes();
                assert_eq!(&wire[..], &rest[..68]);
                assert_eq!(Handshake::from_bytes(&wire).expect("re-parse"), h);
                let _ = client_info(&h.peer_id).map(|c| c.to_string());
                let pieces = u32::from(h.reserved.0[0]) + 1;
                let set = allowed_fast_set(&h.info_hash, [127, 0, 0, 1].into(), pieces, 10);
                assert!(set.iter().all(|i| *i < pieces));
                return;
            }
            Ok(None) => {}
            Err(_) => return,
        }
    }
});
