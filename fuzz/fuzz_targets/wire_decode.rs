//! ferro-wire's message decoder on arbitrary bytes, fed in arbitrary pieces.
//! Never panics; every decoded message re-encodes and decodes to itself, and
//! an extended handshake that parses re-encodes stably.
#![no_main]

use bytes::BytesMut;
use ferro_wire::{Config, ExtendedHandshake, Message, MessageDecoder};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [mode, step, rest @ ..] = data else { return };
    let config = Config {
        piece_count: (mode & 1 == 1).then_some(u32::from(mode >> 1) * 7),
        max_block_len: if mode & 0x80 != 0 { 64 } else { 16 * 1024 },
        ..Config::default()
    };
    let step = usize::from(*step).max(1);
    let mut dec = MessageDecoder::new(config);
    let mut buf = BytesMut::new();
    for chunk in rest.chunks(step) {
        buf.extend_from_slice(chunk);
        loop {
            match dec.decode(&mut buf) {
                Ok(Some(m)) => check(&m, config),
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
});

fn check(m: &Message, config: Config) {
    let wire = m.to_bytes();
    assert_eq!(wire.len(), m.encoded_len());
    let mut again = BytesMut::from(&wire[..]);
    let back = MessageDecoder::new(config).decode(&mut again).expect("re-decode");
    assert_eq!(back.as_ref(), Some(m));
    assert!(again.is_empty());
    if let Message::Extended { id: 0, payload } = m {
        if let Ok(h) = ExtendedHandshake::from_bytes(payload) {
            let enc = h.to_bytes().expect("encode");
            let h2 = ExtendedHandshake::from_bytes(&enc).expect("re-parse");
            assert_eq!(h2.to_bytes().expect("encode"), enc);
        }
    }
}
