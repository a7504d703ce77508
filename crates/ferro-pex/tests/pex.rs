//! ut_pex codec and per-connection limits.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ferro_pex::{Error, PeerFlags, PexConfig, PexMessage, PexState};
use proptest::prelude::*;

fn addr(i: u32) -> SocketAddr {
    SocketAddr::from(([10, (i >> 16) as u8, (i >> 8) as u8, i as u8], 6881))
}

#[test]
fn wire_form_and_flags() {
    let msg = PexMessage {
        added: vec![
            (
                "127.0.0.1:6881".parse().unwrap(),
                PeerFlags::SEED | PeerFlags::REACHABLE,
            ),
            ("[::1]:6882".parse().unwrap(), PeerFlags::UTP),
        ],
        dropped: vec!["10.0.0.1:80".parse().unwrap()],
    };
    let wire = msg.encode();
    assert!(wire.starts_with(b"d5:added6:\x7f\x00\x00\x01\x1a\xe17:added.f1:\x12"));
    assert_eq!(PexMessage::decode(&wire).unwrap(), msg);
    assert!(PeerFlags(0x12).contains(PeerFlags::SEED));
    assert!(!PeerFlags(0x12).contains(PeerFlags::UTP));
    // Missing or short flag lists mean no flags; unknown keys are ignored.
    let m = PexMessage::decode(
        b"d5:added12:\x7f\x00\x00\x01\x1a\xe1\x7f\x00\x00\x02\x1a\xe17:added.f1:\x021:xi1ee",
    )
    .unwrap();
    assert_eq!(m.added[1].1, PeerFlags(0));
    assert_eq!(m.added[0].1, PeerFlags::SEED);
}

#[test]
fn malformed_messages() {
    assert!(matches!(
        PexMessage::decode(b"le"),
        Err(Error::Malformed(_))
    ));
    assert!(matches!(
        PexMessage::decode(b"d5:added"),
        Err(Error::Malformed(_))
    ));
    assert!(matches!(
        PexMessage::decode(b"d5:added5:abcdee"),
        Err(Error::Compact { field: "added", .. })
    ));
    // 19 bytes is not a multiple of 18.
    let ragged6 = [b"d8:dropped619:".to_vec(), vec![7u8; 19], b"e".to_vec()].concat();
    assert!(matches!(
        PexMessage::decode(&ragged6),
        Err(Error::Compact {
            field: "dropped6",
            ..
        })
    ));
    let huge = [b"d5:added30000:".to_vec(), vec![1u8; 30000], b"e".to_vec()].concat();
    assert!(matches!(
        PexMessage::decode(&huge),
        Err(Error::Malformed(_))
    ));
}

#[test]
fn outgoing_is_a_rate_limited_capped_delta() {
    let t0 = Instant::now();
    let mut s = PexState::new(PexConfig::default(), t0);
    let mut swarm: BTreeMap<SocketAddr, PeerFlags> =
        (0..120).map(|i| (addr(i), PeerFlags(0))).collect();
    assert_eq!(
        s.poll_message(t0 + Duration::from_secs(59), &swarm),
        None,
        "not before a minute"
    );
    let m1 = s
        .poll_message(t0 + Duration::from_secs(60), &swarm)
        .unwrap();
    assert_eq!((m1.added.len(), m1.dropped.len()), (50, 0));
    assert_eq!(
        s.poll_message(t0 + Duration::from_secs(61), &swarm),
        None,
        "once a minute"
    );
    let m2 = s
        .poll_message(t0 + Duration::from_secs(120), &swarm)
        .unwrap();
    assert_eq!(m2.added.len(), 50);
    assert!(
        m2.added.iter().all(|a| !m1.added.contains(a)),
        "only what is new to this peer"
    );
    // Drop 60 peers we told it about: dropped is capped at 50, the rest follow.
    for i in 0..60 {
        swarm.remove(&addr(i));
    }
    let m3 = s
        .poll_message(t0 + Duration::from_secs(180), &swarm)
        .unwrap();
    assert_eq!((m3.added.len(), m3.dropped.len()), (20, 50));
    let m4 = s
        .poll_message(t0 + Duration::from_secs(240), &swarm)
        .unwrap();
    assert_eq!((m4.added.len(), m4.dropped.len()), (0, 10));
    assert_eq!(
        s.poll_message(t0 + Duration::from_secs(300), &swarm),
        None,
        "nothing changed"
    );
}

#[test]
fn incoming_limits_trim_and_count() {
    let t0 = Instant::now();
    let mut s = PexState::new(PexConfig::default(), t0);
    let flood = PexMessage {
        added: (0..3000).map(|i| (addr(i), PeerFlags(0))).collect(),
        dropped: vec![],
    };
    let u = s.on_message(t0, &flood);
    assert_eq!(u.added.len(), 50);
    assert!(u.violation);
    assert_eq!(s.violations(), 1);
    // Too soon: ignored and counted.
    let u = s.on_message(
        t0 + Duration::from_secs(10),
        &PexMessage {
            added: vec![(addr(1), PeerFlags(0))],
            dropped: vec![],
        },
    );
    assert!(u.added.is_empty() && u.violation);
    assert_eq!(s.violations(), 2);
    // Bogus addresses are dropped and counted; a plain message is fine.
    let bogus = PexMessage {
        added: vec![
            ("0.0.0.0:1".parse().unwrap(), PeerFlags(0)),
            ("1.2.3.4:0".parse().unwrap(), PeerFlags(0)),
            ("224.0.0.1:5".parse().unwrap(), PeerFlags(0)),
            ("1.2.3.4:5".parse().unwrap(), PeerFlags(0)),
        ],
        dropped: vec![],
    };
    let u = s.on_message(t0 + Duration::from_secs(70), &bogus);
    assert_eq!(u.added, [("1.2.3.4:5".parse().unwrap(), PeerFlags(0))]);
    assert_eq!(s.violations(), 3);
    let u = s.on_message(
        t0 + Duration::from_secs(140),
        &PexMessage {
            added: vec![(addr(7), PeerFlags::SEED)],
            dropped: vec![addr(8)],
        },
    );
    assert!(!u.violation);
    assert_eq!(s.violations(), 3);
}

fn any_addr() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        any::<std::net::SocketAddrV4>().prop_map(SocketAddr::V4),
        (any::<u128>(), any::<u16>())
            .prop_map(|(ip, p)| SocketAddr::V6(std::net::SocketAddrV6::new(ip.into(), p, 0, 0))),
    ]
}

proptest! {
    #[test]
    fn round_trip(added in proptest::collection::vec((any_addr(), any::<u8>()), 0..60),
                  dropped in proptest::collection::vec(any_addr(), 0..60)) {
        // The wire groups IPv4 before IPv6; compare in that order.
        let mut added: Vec<(SocketAddr, PeerFlags)> = added.into_iter().map(|(a, f)| (a, PeerFlags(f))).collect();
        added.sort_by_key(|(a, _)| a.is_ipv6());
        let mut dropped = dropped;
        dropped.sort_by_key(|a| a.is_ipv6());
        let msg = PexMessage { added, dropped };
        prop_assert_eq!(PexMessage::decode(&msg.encode()).unwrap(), msg);
    }

    #[test]
    fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = PexMessage::decode(&bytes);
    }
}
