//! serde support: borrowed decoding, canonical encoding, byte strings, options, enums.

use std::collections::BTreeMap;

use ferro_bencode::{ByteBuf, ErrorKind, OwnedValue, from_bytes, to_bytes};
use serde::{Deserialize, Serialize};

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct ExtHandshake<'a> {
    #[serde(default)]
    m: BTreeMap<String, i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    p: Option<u16>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    v: Option<&'a str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reqq: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    yourip: Option<ByteBuf>,
    #[serde(flatten)]
    extra: BTreeMap<String, OwnedValue>,
}

#[test]
fn struct_round_trip_keeps_unknown_keys_and_sorts() {
    let input = b"d1:md11:ut_metadatai3e6:ut_pexi1ee1:pi6881e4:reqqi500e1:v12:libtorrent/26:yourip4:\x7f\0\0\x01e";
    let h: ExtHandshake<'_> = from_bytes(input).unwrap();
    assert_eq!(h.m.get("ut_metadata"), Some(&3));
    assert_eq!(h.v, Some("libtorrent/2"));
    assert_eq!(h.yourip, Some(ByteBuf(vec![127, 0, 0, 1])));
    assert!(h.extra.is_empty());
    assert_eq!(to_bytes(&h).unwrap(), input);

    let with_extra = b"d1:md6:ut_pexi1ee13:metadata_sizei1234e6:zzzzzzl1:aee";
    let h: ExtHandshake<'_> = from_bytes(with_extra).unwrap();
    assert_eq!(h.extra.get("metadata_size"), Some(&OwnedValue::Int(1234)));
    assert_eq!(to_bytes(&h).unwrap(), with_extra);
}

#[test]
fn byte_fields_are_strings_not_lists() {
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct T {
        #[serde(with = "ferro_bencode::bytes")]
        id: [u8; 4],
        #[serde(with = "ferro_bencode::bytes")]
        data: Vec<u8>,
        plain: Vec<u8>,
    }
    let t = T {
        id: *b"abcd",
        data: vec![0, 255],
        plain: vec![1, 2],
    };
    let b = to_bytes(&t).unwrap();
    assert_eq!(b, b"d4:data2:\x00\xff2:id4:abcd5:plainli1ei2eee");
    assert_eq!(from_bytes::<T>(&b).unwrap(), t);
    let wrong_len = b"d4:data0:2:id3:abc5:plainlee";
    assert!(from_bytes::<T>(wrong_len).is_err());
}

#[test]
fn enums_ints_and_bools() {
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    enum E {
        Unit,
        New(i64),
        Tup(i64, String),
        Rec { a: i64 },
    }
    for e in [E::Unit, E::New(-5), E::Tup(1, "x".into()), E::Rec { a: 2 }] {
        let b = to_bytes(&e).unwrap();
        assert_eq!(
            from_bytes::<E>(&b).unwrap(),
            e,
            "{}",
            String::from_utf8_lossy(&b)
        );
    }
    assert_eq!(
        to_bytes(&E::Tup(1, "x".into())).unwrap(),
        b"d3:Tupli1e1:xee"
    );
    assert_eq!(to_bytes(&true).unwrap(), b"i1e");
    assert!(from_bytes::<bool>(b"i1e").unwrap());
    assert!(from_bytes::<bool>(b"i2e").is_err());
    // Range errors from serde are placed just after the offending value.
    assert_eq!(from_bytes::<u8>(b"i300e").unwrap_err().offset(), 5);
    assert_eq!(
        to_bytes(&u64::MAX).unwrap_err().kind(),
        &ErrorKind::Unsupported("integers above i64::MAX")
    );
    assert!(to_bytes(&1.5f64).is_err());
}

#[test]
fn map_with_non_string_keys_is_rejected() {
    let mut m = BTreeMap::new();
    m.insert(1, 2);
    assert!(to_bytes(&m).is_err());
}

#[test]
fn trailing_data_and_non_utf8_str() {
    assert_eq!(
        from_bytes::<i64>(b"i1ex").unwrap_err().kind(),
        &ErrorKind::TrailingData
    );
    assert!(from_bytes::<&str>(b"2:\xff\xfe").is_err());
    assert_eq!(
        from_bytes::<&[u8]>(b"2:\xff\xfe").unwrap(),
        b"\xff\xfe",
        "borrowed bytes decode natively"
    );
    assert_eq!(
        from_bytes::<ByteBuf>(b"2:\xff\xfe").unwrap().0,
        vec![0xff, 0xfe]
    );
}

#[test]
fn owned_value_via_serde_matches_tape_decoder() {
    let input = b"d1:ad1:bli1ei-2e3:xyzee1:c0:e";
    let a: OwnedValue = from_bytes(input).unwrap();
    let b = ferro_bencode::decode(input).unwrap().root().to_owned();
    assert_eq!(a, b);
    assert_eq!(a.encode(), input);
    assert_eq!(to_bytes(&a).unwrap(), input);
}

#[test]
fn encoder_writes_into_bytes_mut() {
    let v = OwnedValue::List(vec![OwnedValue::Int(1), OwnedValue::from("ab")]);
    let mut buf = bytes::BytesMut::new();
    v.encode_into(&mut buf);
    assert_eq!(&buf[..], b"li1e2:abe");
}
