//! ut_metadata messages and the metadata assembler: honest, lying, rejecting and slow peers.

use std::time::{Duration, Instant};

use ferro_core::InfoHash;
use ferro_magnet::{
    AssemblerConfig, AssemblerEvent, Error, METADATA_PIECE_SIZE, MetadataAssembler,
    MetadataMessage, PeerKey, serve_request,
};
use proptest::prelude::*;
use sha1::{Digest, Sha1};

fn metadata(len: usize) -> (Vec<u8>, InfoHash) {
    let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
    let ih = InfoHash(Sha1::digest(&data).into());
    (data, ih)
}

/// Drives the assembler against simulated peers until it completes or stalls.
/// `serve(peer, piece)` returns what that peer answers.
fn run(
    a: &mut MetadataAssembler,
    mut serve: impl FnMut(PeerKey, u32) -> Option<(u32, u64, Vec<u8>, bool)>,
) -> (Option<Vec<u8>>, Vec<PeerKey>) {
    let mut now = Instant::now();
    let mut banned = Vec::new();
    for _ in 0..200 {
        a.poll_requests(now);
        let mut progressed = false;
        while let Some(ev) = a.poll_event() {
            progressed = true;
            match ev {
                AssemblerEvent::Complete(bytes) => return (Some(bytes), banned),
                AssemblerEvent::Misbehaved { peer, .. } => banned.push(peer),
                AssemblerEvent::Request { peer, piece } => {
                    // `None` is a silent peer.
                    if let Some((p, total, data, reject)) = serve(peer, piece) {
                        let msg = if reject {
                            MetadataMessage::Reject { piece: p }
                        } else {
                            MetadataMessage::Data {
                                piece: p,
                                total_size: total,
                                data: &data,
                            }
                        };
                        // Go through the wire encoding, as a real peer would.
                        let wire = msg.encode();
                        a.on_message(peer, MetadataMessage::decode(&wire).unwrap());
                    }
                }
            }
        }
        if !progressed {
            now += Duration::from_secs(11);
            a.handle_timeout(now);
        }
    }
    (None, banned)
}

fn honest(meta: &[u8]) -> impl Fn(u32) -> Option<(u32, u64, Vec<u8>, bool)> + '_ {
    move |piece| match serve_request(Some(meta), piece) {
        MetadataMessage::Data {
            piece,
            total_size,
            data,
        } => Some((piece, total_size, data.to_vec(), false)),
        _ => Some((piece, 0, Vec::new(), true)),
    }
}

#[test]
fn two_honest_peers_share_the_work() {
    let (meta, ih) = metadata(3 * METADATA_PIECE_SIZE + 100);
    let mut a = MetadataAssembler::new(ih, AssemblerConfig::default());
    a.add_peer(PeerKey(1), meta.len() as u64).unwrap();
    a.add_peer(PeerKey(2), meta.len() as u64).unwrap();
    let serve = honest(&meta);
    let mut askers = std::collections::BTreeSet::new();
    let (got, banned) = run(&mut a, |p, piece| {
        askers.insert(p);
        serve(piece)
    });
    assert_eq!(got.as_deref(), Some(&meta[..]));
    assert!(banned.is_empty());
    assert_eq!(askers.len(), 2, "both peers were asked");
    assert!(a.is_complete());
}

#[test]
fn a_liar_is_found_and_banned_and_the_metadata_comes_from_the_honest_peer() {
    let (meta, ih) = metadata(2 * METADATA_PIECE_SIZE + 5);
    let mut a = MetadataAssembler::new(ih, AssemblerConfig::default());
    a.add_peer(PeerKey(1), meta.len() as u64).unwrap(); // liar
    a.add_peer(PeerKey(2), meta.len() as u64).unwrap(); // honest
    let serve = honest(&meta);
    let (got, banned) = run(&mut a, |p, piece| {
        let mut answer = serve(piece)?;
        if p == PeerKey(1) {
            answer.2.iter_mut().for_each(|b| *b ^= 0xff);
        }
        Some(answer)
    });
    assert_eq!(got.as_deref(), Some(&meta[..]));
    assert_eq!(banned, [PeerKey(1)]);
}

#[test]
fn a_single_lying_peer_is_banned_and_nothing_is_returned() {
    let (meta, ih) = metadata(1000);
    let mut a = MetadataAssembler::new(ih, AssemblerConfig::default());
    a.add_peer(PeerKey(9), meta.len() as u64).unwrap();
    let (got, banned) = run(&mut a, |_, piece| Some((piece, 1000, vec![0; 1000], false)));
    assert_eq!(got, None);
    assert_eq!(banned, [PeerKey(9)]);
    assert!(!a.is_complete());
}

#[test]
fn rejecting_and_silent_peers_give_way_to_others() {
    let (meta, ih) = metadata(METADATA_PIECE_SIZE * 2);
    let mut a = MetadataAssembler::new(ih, AssemblerConfig::default());
    a.add_peer(PeerKey(1), meta.len() as u64).unwrap(); // rejects
    a.add_peer(PeerKey(2), meta.len() as u64).unwrap(); // never answers
    a.add_peer(PeerKey(3), meta.len() as u64).unwrap(); // honest
    let serve = honest(&meta);
    let (got, banned) = run(&mut a, |p, piece| match p.0 {
        1 => Some((piece, 0, Vec::new(), true)),
        2 => None,
        _ => serve(piece),
    });
    assert_eq!(got.as_deref(), Some(&meta[..]));
    assert!(banned.is_empty());
}

#[test]
fn wrong_sizes_are_refused_or_banned() {
    let (meta, ih) = metadata(500);
    let mut a = MetadataAssembler::new(ih, AssemblerConfig::default());
    assert_eq!(
        a.add_peer(PeerKey(1), 100 * 1024 * 1024),
        Err(Error::MetadataSize {
            size: 100 * 1024 * 1024,
            limit: 16 * 1024 * 1024
        })
    );
    assert!(a.add_peer(PeerKey(1), 0).is_err());
    a.add_peer(PeerKey(2), 500).unwrap();
    a.add_peer(PeerKey(3), 500).unwrap();
    // Peer 2 claims another total size in its data message: banned; peer 3 completes.
    let serve = honest(&meta);
    let (got, banned) = run(&mut a, |p, piece| {
        let mut ans = serve(piece)?;
        if p == PeerKey(2) {
            ans.1 = 4000;
        }
        Some(ans)
    });
    assert_eq!(got.as_deref(), Some(&meta[..]));
    assert_eq!(banned, [PeerKey(2)]);
}

#[test]
fn peers_with_another_size_are_used_when_the_first_size_fails() {
    let (meta, ih) = metadata(700);
    let mut a = MetadataAssembler::new(ih, AssemblerConfig::default());
    a.add_peer(PeerKey(1), 900).unwrap(); // wrong size, lies
    a.add_peer(PeerKey(2), 700).unwrap();
    let serve = honest(&meta);
    let (got, banned) = run(&mut a, |p, piece| {
        if p == PeerKey(1) {
            Some((piece, 900, vec![1; 900], false))
        } else {
            serve(piece)
        }
    });
    assert_eq!(got.as_deref(), Some(&meta[..]));
    assert_eq!(banned, [PeerKey(1)]);
}

#[test]
fn serving_rejects_without_metadata_or_out_of_range() {
    assert_eq!(serve_request(None, 0), MetadataMessage::Reject { piece: 0 });
    let meta = vec![5u8; 20_000];
    assert_eq!(
        serve_request(Some(&meta), 2),
        MetadataMessage::Reject { piece: 2 }
    );
    assert_eq!(
        serve_request(Some(&meta), u32::MAX),
        MetadataMessage::Reject { piece: u32::MAX }
    );
    match serve_request(Some(&meta), 1) {
        MetadataMessage::Data {
            piece: 1,
            total_size: 20_000,
            data,
        } => assert_eq!(data.len(), 20_000 - 16_384),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn message_wire_forms() {
    assert_eq!(
        MetadataMessage::Request { piece: 0 }.encode(),
        b"d8:msg_typei0e5:piecei0ee"
    );
    assert_eq!(
        MetadataMessage::Reject { piece: 3 }.encode(),
        b"d8:msg_typei2e5:piecei3ee"
    );
    let data = MetadataMessage::Data {
        piece: 1,
        total_size: 34256,
        data: b"xyz",
    }
    .encode();
    assert_eq!(data, b"d8:msg_typei1e5:piecei1e10:total_sizei34256eexyz");
    for bad in [
        &b""[..],
        b"le",
        b"d5:piecei0ee",
        b"d8:msg_typei0ee",
        b"d8:msg_typei9e5:piecei0ee",
        b"d8:msg_typei1e5:piecei0ee",
        b"d8:msg_typei0e5:piecei-1ee",
    ] {
        assert!(
            MetadataMessage::decode(bad).is_err(),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
    let mut big = b"d8:msg_typei1e5:piecei0e10:total_sizei99999ee".to_vec();
    big.extend(vec![0u8; METADATA_PIECE_SIZE + 1]);
    assert!(MetadataMessage::decode(&big).is_err());
}

proptest! {
    #[test]
    fn message_round_trip(kind in 0u8..3, piece: u32, total in 0u64..(i64::MAX as u64), data in proptest::collection::vec(any::<u8>(), 0..64)) {
        let msg = match kind {
            0 => MetadataMessage::Request { piece },
            1 => MetadataMessage::Data { piece, total_size: total, data: &data },
            _ => MetadataMessage::Reject { piece },
        };
        let wire = msg.encode();
        prop_assert_eq!(MetadataMessage::decode(&wire).unwrap(), msg);
    }

    #[test]
    fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
        let _ = MetadataMessage::decode(&bytes);
    }
}
