//! ferro-bencode: any input either fails with an error or decodes; what decodes
//! re-encodes canonically, and the canonical form is stable and strict-valid.
#![no_main]

use ferro_bencode::{decode, decode_with, from_bytes, DecodeOptions, OwnedValue};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let tape = decode(data).map(|d| d.root().to_owned());
    let serde = from_bytes::<OwnedValue>(data);
    // The tape decoder and the serde deserializer accept exactly the same inputs.
    assert_eq!(tape.is_ok(), serde.is_ok(), "decoders disagree on {data:?}");
    if let (Ok(a), Ok(b)) = (&tape, &serde) {
        assert_eq!(a, b);
        let canonical = a.encode();
        let again = decode_with(&canonical, &DecodeOptions::strict()).expect("canonical output decodes strictly");
        assert_eq!(&again.root().to_owned(), a);
        assert_eq!(again.root().raw(), &canonical[..]);
    }
    let _ = decode_with(data, &DecodeOptions::strict());
});
