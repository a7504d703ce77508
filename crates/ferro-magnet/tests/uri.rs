//! Magnet URI forms seen in the wild, malformed ones, and format→parse round trips.

use ferro_core::InfoHash;
use ferro_magnet::{Error, MagnetLink, PeerAddr, SelectRange};
use proptest::prelude::*;

const HEX: &str = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a";

fn ih() -> InfoHash {
    HEX.parse().unwrap()
}

#[test]
fn real_world_forms() {
    // Hex, upper-case scheme and hash.
    let m = MagnetLink::parse(&format!("MAGNET:?xt=urn:btih:{}", HEX.to_uppercase())).unwrap();
    assert_eq!(m.info_hash, ih());
    // Base32, lower-case (some sites lower-case everything).
    let m = MagnetLink::parse("magnet:?xt=urn:btih:yex6dqdlxisuvhoj6um3gnnkpqjwpkek").unwrap();
    assert_eq!(m.info_hash, ih());
    // Several trackers, encoded, one repeated; numbered parameters.
    let m = MagnetLink::parse(&format!(
        "magnet:?xt=urn:btih:{HEX}&tr=udp%3A%2F%2F127.0.0.1%3A6969%2Fannounce&tr=http://127.0.0.1/a?k=%26x\
         &tr=udp%3A%2F%2F127.0.0.1%3A6969%2Fannounce&tr.1=http%3A%2F%2F[::1]%3A80%2Fannounce"
    ))
    .unwrap();
    assert_eq!(
        m.trackers,
        [
            "udp://127.0.0.1:6969/announce",
            "http://127.0.0.1/a?k=&x",
            "http://[::1]:80/announce"
        ]
    );
    // Names: UTF-8 percent-encoded, `+` as a space in dn only.
    let m = MagnetLink::parse(&format!(
        "magnet:?xt=urn:btih:{HEX}&dn=Caf%C3%A9+del+Mar%20%282024%29"
    ))
    .unwrap();
    assert_eq!(m.display_name.as_deref(), Some("Café del Mar (2024)"));
    // Peers: IPv4, bracketed IPv6, host names; web seeds; length; select-only.
    let m = MagnetLink::parse(&format!(
        "magnet:?xt=urn:btih:{HEX}&x.pe=127.0.0.1:6881&x.pe=%5B%3A%3A1%5D%3A51413&x.pe=peer.example:6882\
         &ws=http%3A%2F%2F127.0.0.1%3A8080%2Ffiles%2F&xl=1048576&so=0,2,4-6&as=http://127.0.0.1/x.torrent&xs=urn:x&foo=bar"
    ))
    .unwrap();
    assert_eq!(
        m.peers,
        [
            PeerAddr::Socket("127.0.0.1:6881".parse().unwrap()),
            PeerAddr::Socket("[::1]:51413".parse().unwrap()),
            PeerAddr::Host("peer.example".into(), 6882),
        ]
    );
    assert_eq!(m.web_seeds, ["http://127.0.0.1:8080/files/"]);
    assert_eq!(m.exact_length, Some(1_048_576));
    assert_eq!(
        m.select_only,
        [
            SelectRange { first: 0, last: 0 },
            SelectRange { first: 2, last: 2 },
            SelectRange { first: 4, last: 6 }
        ]
    );
    assert!(m.is_selected(5) && !m.is_selected(3));
    assert_eq!(m.acceptable_sources, ["http://127.0.0.1/x.torrent"]);
    assert_eq!(m.exact_sources, ["urn:x"]);
    assert_eq!(m.extra, [("foo".to_string(), "bar".to_string())]);
    // A hybrid v1+v2 link uses its v1 hash.
    let m = MagnetLink::parse(&format!(
        "magnet:?xt=urn:btih:{HEX}&xt=urn:btmh:1220{}",
        "ab".repeat(32)
    ))
    .unwrap();
    assert_eq!(m.info_hash, ih());
}

type Check = fn(&Error) -> bool;

#[test]
fn malformed_forms() {
    let cases: &[(&str, Check)] = &[
        ("http://example.org/", |e| matches!(e, Error::NotMagnet(_))),
        ("magnet:", |e| matches!(e, Error::NotMagnet(_))),
        ("magnet:?dn=x", |e| matches!(e, Error::MissingInfoHash)),
        ("magnet:?xt=urn:btih:abc", |e| {
            matches!(e, Error::InvalidInfoHash(_))
        }),
        (
            "magnet:?xt=urn:btih:zz2fe1c06bba254a9dc9f519b335aa7c1367a88a",
            |e| matches!(e, Error::InvalidInfoHash(_)),
        ),
        ("magnet:?xt=urn:btmh:1220aaaa", |e| {
            matches!(e, Error::V2NotSupported)
        }),
        (
            "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&xt=urn:btih:0000000000000000000000000000000000000000",
            |e| matches!(e, Error::ConflictingInfoHash),
        ),
        (
            "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&xl=-1",
            |e| matches!(e, Error::InvalidParameter { .. }),
        ),
        (
            "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&so=5-2",
            |e| matches!(e, Error::InvalidParameter { .. }),
        ),
        (
            "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&so=a",
            |e| matches!(e, Error::InvalidParameter { .. }),
        ),
        (
            "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&x.pe=nope",
            |e| matches!(e, Error::InvalidParameter { .. }),
        ),
        (
            "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&x.pe=h:99999",
            |e| matches!(e, Error::InvalidParameter { .. }),
        ),
        (
            "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&dn=%FF",
            |e| matches!(e, Error::InvalidParameter { .. }),
        ),
    ];
    for (input, check) in cases {
        let e = MagnetLink::parse(input).expect_err(input);
        assert!(check(&e), "{input}: unexpected {e:?}");
    }
    let long = format!("magnet:?xt=urn:btih:{HEX}&dn={}", "a".repeat(70_000));
    assert!(matches!(MagnetLink::parse(&long), Err(Error::TooLong(_))));
    // Repeated parameters are capped, not unbounded.
    let many = format!(
        "magnet:?xt=urn:btih:{HEX}{}",
        (0..1000)
            .map(|i| format!("&tr=udp://127.0.0.1:{i}"))
            .collect::<String>()
    );
    assert_eq!(MagnetLink::parse(&many).unwrap().trackers.len(), 256);
}

#[test]
fn formats_canonically() {
    let mut m = MagnetLink::new(ih());
    m.display_name = Some("a b/ü".into());
    m.trackers.push("udp://127.0.0.1:6969/announce".into());
    m.peers
        .push(PeerAddr::Socket("[::1]:6881".parse().unwrap()));
    m.select_only = vec![
        SelectRange { first: 1, last: 3 },
        SelectRange { first: 7, last: 7 },
    ];
    let s = m.to_string();
    assert_eq!(
        s,
        format!(
            "magnet:?xt=urn:btih:{HEX}&dn=a%20b%2F%C3%BC&tr=udp%3A%2F%2F127.0.0.1%3A6969%2Fannounce&x.pe=%5B%3A%3A1%5D%3A6881&so=1-3,7"
        )
    );
    assert_eq!(MagnetLink::parse(&s).unwrap(), m);
}

fn peer() -> impl Strategy<Value = PeerAddr> {
    prop_oneof![
        any::<std::net::SocketAddrV4>().prop_map(|a| PeerAddr::Socket(a.into())),
        (any::<u128>(), any::<u16>()).prop_map(|(ip, port)| PeerAddr::Socket(
            std::net::SocketAddrV6::new(ip.into(), port, 0, 0).into()
        )),
        ("[a-z][a-z0-9-]{0,10}(\\.[a-z]{2,5})?", any::<u16>())
            .prop_map(|(h, p)| PeerAddr::Host(h, p)),
    ]
}

proptest! {
    #[test]
    fn format_parse_round_trip(
        hash: [u8; 20],
        dn in proptest::option::of(".{0,20}"),
        trackers in proptest::collection::btree_set("(udp|http)://127\\.0\\.0\\.1:[0-9]{1,5}/[a-z&=?+%]{0,8}", 0..4),
        peers in proptest::collection::vec(peer(), 0..4),
        ws in proptest::collection::vec("http://127\\.0\\.0\\.1/[a-z /+]{0,8}", 0..3),
        xl in proptest::option::of(any::<u64>()),
        so in proptest::collection::vec((0usize..100, 0usize..5), 0..4),
    ) {
        let mut m = MagnetLink::new(InfoHash(hash));
        m.display_name = dn;
        m.trackers = trackers.into_iter().collect();
        let mut uniq = Vec::new();
        for p in peers { if !uniq.contains(&p) { uniq.push(p); } }
        m.peers = uniq;
        m.web_seeds = ws;
        m.exact_length = xl;
        m.select_only = so.into_iter().map(|(a, n)| SelectRange { first: a, last: a + n }).collect();
        let text = m.to_string();
        prop_assert_eq!(MagnetLink::parse(&text).unwrap(), m);
    }

    #[test]
    fn arbitrary_text_never_panics(s in "magnet:\\?.{0,200}") {
        let _ = MagnetLink::parse(&s);
    }
}

#[test]
fn select_list_parses_like_so() {
    let r = |first, last| SelectRange { first, last };
    assert_eq!(
        SelectRange::parse_list("0,2-4,,7").unwrap(),
        vec![r(0, 0), r(2, 4), r(7, 7)]
    );
    assert!(SelectRange::parse_list("").unwrap().is_empty());
    for bad in ["4-2", "a", "1-", "-1", "1,x"] {
        assert!(SelectRange::parse_list(bad).is_err(), "{bad}");
    }
    let many = (0..1000)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",");
    assert_eq!(SelectRange::parse_list(&many).unwrap().len(), 256);
}
