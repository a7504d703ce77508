use std::net::{Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use proptest::prelude::*;

use super::*;

fn id(s: &[u8; 20]) -> NodeId {
    NodeId(*s)
}

// The examples of BEP 5 "KRPC Protocol", byte for byte.
#[test]
fn bep5_examples_decode_and_reencode() {
    let cases: &[&[u8]] = &[
        b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe",
        b"d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re",
        b"d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee",
        b"d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz123456e1:q9:find_node1:t2:aa1:y1:qe",
        b"d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz123456e1:q9:get_peers1:t2:aa1:y1:qe",
        b"d1:ad2:id20:abcdefghij012345678912:implied_porti1e9:info_hash20:mnopqrstuvwxyz1234564:porti6881e5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe",
        b"d1:rd2:id20:abcdefghij01234567895:token8:aoeusnth6:valuesl6:axje.u6:idhtnmee1:t2:aa1:y1:re",
    ];
    for raw in cases {
        let m = decode(raw).unwrap_or_else(|e| panic!("{}: {e}", String::from_utf8_lossy(raw)));
        assert_eq!(&encode(&m)[..], *raw, "{}", String::from_utf8_lossy(raw));
    }
    let m = decode(cases[5]).unwrap();
    assert_eq!(
        m.body,
        Body::Query(Query::AnnouncePeer {
            id: id(b"abcdefghij0123456789"),
            info_hash: id(b"mnopqrstuvwxyz123456"),
            port: 6881,
            token: b"aoeusnth".to_vec(),
            implied_port: true,
        })
    );
    let Body::Response(r) = decode(cases[6]).unwrap().body else {
        panic!()
    };
    assert_eq!(
        r.values,
        vec![
            "97.120.106.101:11893".parse::<SocketAddr>().unwrap(),
            "105.100.104.116:28269".parse().unwrap()
        ]
    );
    let Body::Error(e) = decode(cases[2]).unwrap().body else {
        panic!()
    };
    assert_eq!(
        (e.code, e.message.as_str()),
        (201, "A Generic Error Ocurred")
    );
}

#[test]
fn version_read_only_and_want() {
    let raw = b"d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz1234564:wantl2:n42:n6ee1:q9:find_node2:roi1e1:t2:aa1:v4:FE\x00\x011:y1:qe";
    let m = decode(raw).unwrap();
    assert!(m.read_only);
    assert_eq!(m.version.as_deref(), Some(&b"FE\x00\x01"[..]));
    assert!(matches!(
        m.body,
        Body::Query(Query::FindNode {
            want: Some(Want { v4: true, v6: true }),
            ..
        })
    ));
    assert_eq!(&encode(&m)[..], &raw[..]);
}

#[test]
fn rejects_malformed() {
    let bad: &[(&[u8], &str)] = &[
        (b"", "bencode"),
        (b"le", "dictionary"),
        (b"d1:y1:qe", "missing key \"t\""),
        (b"d1:t2:aa1:y1:xe", "unknown message type"),
        (b"d1:ad2:id3:abce1:q4:ping1:t2:aa1:y1:qe", "\"id\" is 3 bytes"),
        (b"d1:ad2:id20:abcdefghij0123456789e1:q4:pong1:t2:aa1:y1:qe", "unknown method"),
        (b"d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234564:porti70000e5:token1:xe1:q13:announce_peer1:t2:aa1:y1:qe", "port 70000"),
        (b"d1:rd2:id20:mnopqrstuvwxyz1234565:nodes3:abce1:t2:aa1:y1:re", "not a multiple of 26"),
    ];
    for (raw, want) in bad {
        let err = decode(raw).unwrap_err().to_string();
        assert!(
            err.contains(want),
            "{}: {err}",
            String::from_utf8_lossy(raw)
        );
    }
    let big = vec![b'x'; MAX_DATAGRAM + 1];
    assert!(matches!(decode(&big), Err(Error::TooLarge(_))));
}

#[test]
fn error_replies_for_bad_queries() {
    let raw = b"d1:ad2:id20:abcdefghij0123456789e1:q4:pong1:t2:aa1:y1:qe";
    let err = decode(raw).unwrap_err();
    assert_eq!(
        error_reply_for(raw, &err),
        Some((b"aa".to_vec(), code::METHOD_UNKNOWN))
    );
    let raw = b"d1:ad2:id3:abce1:q4:ping1:t2:bb1:y1:qe";
    let err = decode(raw).unwrap_err();
    assert_eq!(
        error_reply_for(raw, &err),
        Some((b"bb".to_vec(), code::PROTOCOL))
    );
    let raw = b"d1:rd2:id3:abce1:t2:bb1:y1:re";
    assert_eq!(error_reply_for(raw, &decode(raw).unwrap_err()), None);
}

fn arb_id() -> impl Strategy<Value = NodeId> {
    any::<[u8; 20]>().prop_map(NodeId)
}

fn arb_v4() -> impl Strategy<Value = SocketAddr> {
    (any::<SocketAddrV4>(), 1u16..).prop_map(|(a, p)| SocketAddr::V4(SocketAddrV4::new(*a.ip(), p)))
}

fn arb_v6() -> impl Strategy<Value = SocketAddr> {
    (any::<u128>(), 1u16..)
        .prop_map(|(ip, p)| SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(ip), p, 0, 0)))
}

fn arb_want() -> impl Strategy<Value = Option<Want>> {
    proptest::option::of((any::<bool>(), any::<bool>()).prop_map(|(v4, v6)| Want { v4, v6 }))
}

fn arb_body() -> impl Strategy<Value = Body> {
    let bytes = proptest::collection::vec(any::<u8>(), 0..MAX_TOKEN);
    prop_oneof![
        arb_id().prop_map(|id| Body::Query(Query::Ping { id })),
        (arb_id(), arb_id(), arb_want())
            .prop_map(|(id, target, want)| Body::Query(Query::FindNode { id, target, want })),
        (arb_id(), arb_id(), arb_want()).prop_map(|(id, info_hash, want)| Body::Query(
            Query::GetPeers {
                id,
                info_hash,
                want
            }
        )),
        (
            arb_id(),
            arb_id(),
            any::<u16>(),
            bytes.clone(),
            any::<bool>()
        )
            .prop_map(|(id, info_hash, port, token, implied_port)| {
                Body::Query(Query::AnnouncePeer {
                    id,
                    info_hash,
                    port,
                    token,
                    implied_port,
                })
            }),
        (
            arb_id(),
            proptest::collection::vec((arb_id(), arb_v4()), 0..8),
            proptest::collection::vec((arb_id(), arb_v6()), 0..8),
            proptest::collection::vec(prop_oneof![arb_v4(), arb_v6()], 0..20),
            proptest::option::of(bytes),
        )
            .prop_map(|(id, n4, n6, values, token)| {
                let info = |(id, addr)| NodeInfo { id, addr };
                Body::Response(Response {
                    id,
                    nodes: n4.into_iter().map(info).collect(),
                    nodes6: n6.into_iter().map(info).collect(),
                    values,
                    token,
                })
            }),
        (any::<i64>(), "[ -~]{0,40}")
            .prop_map(|(code, message)| Body::Error(KrpcError { code, message })),
    ]
}

proptest! {
    #[test]
    fn round_trip(t in proptest::collection::vec(any::<u8>(), 0..MAX_TRANSACTION_ID),
                  v in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..6)),
                  ro: bool, body in arb_body()) {
        let m = Message { transaction_id: t, version: v, read_only: ro, body };
        let enc = encode(&m);
        prop_assert_eq!(decode(&enc).unwrap(), m);
    }

    #[test]
    fn decode_never_panics_and_is_stable(raw in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(m) = decode(&raw) {
            let enc = encode(&m);
            prop_assert_eq!(decode(&enc).unwrap(), m);
        }
    }
}
