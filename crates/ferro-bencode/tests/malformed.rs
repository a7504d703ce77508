//! Every malformed shape of libtorrent's test_bdecode list, each with its named error.

use ferro_bencode::{
    DecodeOptions, ErrorKind, OwnedValue, decode, decode_prefix, decode_with, from_bytes,
};

fn err(input: &[u8]) -> (ErrorKind, usize) {
    let e = decode(input).expect_err(&format!("{:?} should fail", String::from_utf8_lossy(input)));
    (e.kind().clone(), e.offset())
}

#[test]
fn integers() {
    assert_eq!(err(b"i03e"), (ErrorKind::LeadingZero, 1));
    assert_eq!(err(b"i-03e"), (ErrorKind::LeadingZero, 2));
    assert_eq!(err(b"i-0e"), (ErrorKind::NegativeZero, 0));
    assert_eq!(err(b"ie"), (ErrorKind::EmptyInteger, 1));
    assert_eq!(err(b"i-e"), (ErrorKind::EmptyInteger, 2));
    assert_eq!(err(b"i12a3e"), (ErrorKind::InvalidByte(b'a'), 3));
    assert_eq!(err(b"i--1e"), (ErrorKind::InvalidByte(b'-'), 2));
    assert_eq!(
        err(b"i9223372036854775808e"),
        (ErrorKind::IntegerOverflow, 1)
    );
    assert_eq!(
        err(b"i-9223372036854775809e"),
        (ErrorKind::IntegerOverflow, 2)
    );
    assert_eq!(
        err(b"i99999999999999999999999e"),
        (ErrorKind::IntegerOverflow, 1)
    );
    assert_eq!(err(b"i12"), (ErrorKind::UnexpectedEof, 3));
    assert_eq!(
        decode(b"i9223372036854775807e").unwrap().root().as_int(),
        Some(i64::MAX)
    );
    assert_eq!(
        decode(b"i-9223372036854775808e").unwrap().root().as_int(),
        Some(i64::MIN)
    );
    assert_eq!(decode(b"i0e").unwrap().root().as_int(), Some(0));
    assert_eq!(decode(b"i-12e").unwrap().root().as_int(), Some(-12));
}

#[test]
fn strings() {
    assert_eq!(err(b"-1:a"), (ErrorKind::InvalidByte(b'-'), 0));
    assert_eq!(err(b"5:abc"), (ErrorKind::InvalidStringLength, 0));
    assert_eq!(
        err(b"99999999999999999999999:a"),
        (ErrorKind::InvalidStringLength, 0)
    );
    assert_eq!(
        err(b"18446744073709551615:a"),
        (ErrorKind::InvalidStringLength, 0)
    );
    assert_eq!(err(b"3"), (ErrorKind::UnexpectedEof, 1));
    assert_eq!(err(b"3x"), (ErrorKind::InvalidByte(b'x'), 1));
    assert_eq!(err(b":abc"), (ErrorKind::InvalidByte(b':'), 0));
    assert_eq!(decode(b"0:").unwrap().root().as_bytes(), Some(&b""[..]));
    // A leading zero in a length is tolerated by the lenient decoder only.
    assert_eq!(
        decode(b"03:abc").unwrap().root().as_bytes(),
        Some(&b"abc"[..])
    );
    let strict = decode_with(b"03:abc", &DecodeOptions::strict()).unwrap_err();
    assert_eq!(strict.kind(), &ErrorKind::LeadingZero);
}

#[test]
fn containers() {
    assert_eq!(err(b"l"), (ErrorKind::UnexpectedEof, 1));
    assert_eq!(err(b"li1e"), (ErrorKind::UnexpectedEof, 4));
    assert_eq!(err(b"d1:a"), (ErrorKind::UnexpectedEof, 4));
    assert_eq!(err(b"d1:ae"), (ErrorKind::MissingValue, 4));
    assert_eq!(err(b"di1ei2ee"), (ErrorKind::KeyNotString, 1));
    assert_eq!(err(b"dle1:ae"), (ErrorKind::KeyNotString, 1));
    assert_eq!(err(b"e"), (ErrorKind::InvalidByte(b'e'), 0));
    assert_eq!(err(b""), (ErrorKind::UnexpectedEof, 0));
    assert_eq!(err(b"x"), (ErrorKind::InvalidByte(b'x'), 0));
    assert_eq!(err(b"i1ei2e"), (ErrorKind::TrailingData, 3));
    assert_eq!(err(b"lee"), (ErrorKind::TrailingData, 2));
}

#[test]
fn key_order_and_duplicates() {
    // Sorted duplicates and unsorted duplicates are both caught, in both modes.
    assert_eq!(
        err(b"d1:ai1e1:ai2ee"),
        (ErrorKind::DuplicateKey(b"a".to_vec()), 7)
    );
    assert_eq!(
        err(b"d1:bi1e1:ai2e1:bi3ee").0,
        ErrorKind::DuplicateKey(b"b".to_vec())
    );
    // Large unsorted dictionaries take the sorting path: duplicates found there too.
    let dict = |keys: &mut dyn Iterator<Item = u32>| {
        let mut d = b"d".to_vec();
        for k in keys {
            d.extend(format!("3:k{k:02}i{k}e").bytes());
        }
        d.push(b'e');
        d
    };
    let with_dup = dict(&mut (0..40).rev().chain([7]));
    assert_eq!(err(&with_dup).0, ErrorKind::DuplicateKey(b"k07".to_vec()));
    assert!(
        decode(&dict(&mut (0..40).rev())).is_ok(),
        "40 distinct unsorted keys are fine"
    );
    let unsorted = b"d1:bi1e1:ai2ee";
    let doc = decode(unsorted).unwrap();
    let keys: Vec<_> = doc
        .root()
        .as_dict()
        .unwrap()
        .iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys, vec![&b"b"[..], b"a"], "lenient keeps file order");
    assert_eq!(
        decode_with(unsorted, &DecodeOptions::strict())
            .unwrap_err()
            .kind(),
        &ErrorKind::UnsortedKeys
    );
    // Keys compare as raw bytes, not as text: "a" < "ab" < "b".
    assert!(decode_with(b"d1:ai1e2:abi2e1:bi3ee", &DecodeOptions::strict()).is_ok());
    // serde path applies the same rules, including non-adjacent duplicates.
    assert_eq!(
        from_bytes::<OwnedValue>(b"d1:bi1e1:ai2e1:bi3ee")
            .unwrap_err()
            .kind(),
        &ErrorKind::DuplicateKey(b"b".to_vec())
    );
    assert_eq!(
        from_bytes::<OwnedValue>(b"d1:ai1e1:ai2ee")
            .unwrap_err()
            .kind(),
        &ErrorKind::DuplicateKey(b"a".to_vec())
    );
}

#[test]
fn depth_bomb_and_item_limit() {
    let bomb: Vec<u8> = std::iter::repeat_n(b'l', 100_000).collect();
    assert_eq!(err(&bomb), (ErrorKind::DepthLimit(128), 128));
    let ok_deep: Vec<u8> = [vec![b'l'; 128], vec![b'e'; 128]].concat();
    assert!(decode(&ok_deep).is_ok());
    let too_deep: Vec<u8> = [vec![b'l'; 129], vec![b'e'; 129]].concat();
    assert_eq!(err(&too_deep).0, ErrorKind::DepthLimit(128));
    let opts = DecodeOptions {
        max_depth: 4,
        max_items: 10,
        strict: false,
    };
    assert_eq!(
        decode_with(b"lllllee eee", &opts).unwrap_err().kind(),
        &ErrorKind::DepthLimit(4)
    );
    let many = [b"l".to_vec(), b"i1e".repeat(20), b"e".to_vec()].concat();
    assert_eq!(
        decode_with(&many, &opts).unwrap_err().kind(),
        &ErrorKind::ItemLimit(10)
    );
    let bomb_serde = from_bytes::<OwnedValue>(&bomb).unwrap_err();
    assert_eq!(bomb_serde.kind(), &ErrorKind::DepthLimit(128));
}

#[test]
fn truncation_anywhere_is_an_error_not_a_panic() {
    let full = b"d8:announce18:http://t.example/a4:infod6:lengthi12345e4:name4:file12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee";
    assert!(decode_with(full, &DecodeOptions::strict()).is_ok());
    for cut in 0..full.len() {
        let e = decode(&full[..cut]).unwrap_err();
        assert!(
            matches!(
                e.kind(),
                ErrorKind::UnexpectedEof | ErrorKind::InvalidStringLength
            ),
            "cut at {cut}: {e}"
        );
        assert!(from_bytes::<OwnedValue>(&full[..cut]).is_err());
    }
}

#[test]
fn prefix_leaves_the_rest() {
    let msg = b"d8:msg_typei1e5:piecei0eeRAWDATA";
    let (doc, used) = decode_prefix(msg, &DecodeOptions::default()).unwrap();
    assert_eq!(&msg[used..], b"RAWDATA");
    assert_eq!(
        doc.root()
            .as_dict()
            .unwrap()
            .get(b"piece")
            .unwrap()
            .as_int(),
        Some(0)
    );
}

#[test]
fn error_messages_name_kind_and_offset() {
    assert_eq!(
        decode(b"i03e").unwrap_err().to_string(),
        "number with a leading zero at byte 1"
    );
    assert_eq!(
        decode(b"d1:ai1e1:ai2ee").unwrap_err().to_string(),
        "duplicate dictionary key \"a\" at byte 7"
    );
}
