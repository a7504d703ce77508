//! proptest: encode→decode round trips and decode→encode stability.

use std::collections::BTreeMap;

use ferro_bencode::{DecodeOptions, OwnedValue, decode, decode_with, from_bytes, to_bytes};
use proptest::prelude::*;

fn value() -> impl Strategy<Value = OwnedValue> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(OwnedValue::Int),
        proptest::collection::vec(any::<u8>(), 0..24).prop_map(OwnedValue::Bytes),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(OwnedValue::List),
            proptest::collection::btree_map(
                proptest::collection::vec(any::<u8>(), 0..8),
                inner,
                0..8
            )
            .prop_map(OwnedValue::Dict),
        ]
    })
}

proptest! {
    #[test]
    fn owned_round_trip(v in value()) {
        let enc = v.encode();
        let doc = decode_with(&enc, &DecodeOptions::strict()).unwrap();
        prop_assert_eq!(doc.root().to_owned(), v.clone());
        prop_assert_eq!(doc.root().raw(), &enc[..]);
        prop_assert_eq!(from_bytes::<OwnedValue>(&enc).unwrap(), v.clone());
        prop_assert_eq!(to_bytes(&v).unwrap(), enc);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_reencode_stably(input in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(doc) = decode(&input) {
            let once = doc.root().to_owned().encode();
            let again = decode(&once).unwrap().root().to_owned().encode();
            prop_assert_eq!(once, again);
        }
        let _ = from_bytes::<OwnedValue>(&input);
    }

    #[test]
    fn struct_round_trip(name in ".{0,16}", len in any::<i64>(), tags in proptest::collection::vec(".{0,5}", 0..5)) {
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct F { name: String, length: i64, tags: Vec<String>, map: BTreeMap<String, i64> }
        let f = F { name, length: len, tags, map: BTreeMap::from([("k".into(), 1)]) };
        let enc = to_bytes(&f).unwrap();
        prop_assert!(decode_with(&enc, &DecodeOptions::strict()).is_ok());
        prop_assert_eq!(from_bytes::<F>(&enc).unwrap(), f);
    }
}
