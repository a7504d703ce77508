//! Ferro's wire layer against a real libtorrent peer on 127.0.0.1.
//! Run by `cargo xtask interop` (needs /usr/bin/python3 with python3-libtorrent).
#![cfg(feature = "tokio")]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ferro_wire::tokio_codec::{HandshakeCodec, MessageCodec};
use ferro_wire::{
    BlockRequest, Config, ExtendedHandshake, Handshake, InfoHash, Message, generate_peer_id,
};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../xtask/interop/wire_lt_peer.py"
);
const PYTHON: &str = "/usr/bin/python3";

/// Kills the seeder (by its PID, through its handle) however the test ends.
struct Seeder(Child);

impl Drop for Seeder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the libtorrent seeder and reads its info-hash and port.
fn start_seeder(dir: &std::path::Path) -> (Seeder, InfoHash, u16) {
    assert!(
        std::path::Path::new(PYTHON).exists(),
        "interop needs {PYTHON} with python3-libtorrent (apt-get install python3-libtorrent)"
    );
    let child = Command::new(PYTHON)
        .arg(SCRIPT)
        .arg(dir)
        .args(["--timeout", "60"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {PYTHON} {SCRIPT}: {e}"));
    let mut seeder = Seeder(child);
    let stdout = seeder.0.stdout.take().expect("stdout piped");
    let mut info_hash = None;
    let mut port = None;
    // At most a handful of lines; the script itself gives up after its timeout.
    for line in BufReader::new(stdout).lines().take(10) {
        let line = line.expect("reading the seeder's stdout");
        if let Some(h) = line.strip_prefix("info_hash ") {
            info_hash = Some(h.parse::<InfoHash>().expect("hex info-hash"));
        } else if let Some(p) = line.strip_prefix("port ") {
            port = Some(p.parse::<u16>().expect("port number"));
        } else if line == "ready" {
            break;
        }
    }
    match (info_hash, port) {
        (Some(h), Some(p)) => (seeder, h, p),
        _ => {
            let mut err = String::new();
            if let Some(mut e) = seeder.0.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut err);
            }
            panic!("libtorrent seeder did not start (is python3-libtorrent installed?): {err}");
        }
    }
}

#[tokio::test]
#[ignore = "interop: needs third-party clients; run by cargo xtask interop"]
async fn interop_libtorrent_handshake() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (_seeder, info_hash, port) = start_seeder(dir.path());
    let file =
        std::fs::read(dir.path().join("seed").join("wire_payload.bin")).expect("seeded file");
    let pieces = file.len().div_ceil(16384) as u32;

    let exchange = async {
        let tcp = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect to libtorrent");
        let mut hs = Framed::new(tcp, HandshakeCodec::new());
        hs.send(Handshake::new(info_hash, generate_peer_id()))
            .await
            .unwrap();
        let theirs = hs
            .next()
            .await
            .expect("libtorrent closed before its handshake")
            .unwrap();
        assert_eq!(theirs.info_hash, info_hash);
        assert!(
            theirs.reserved.extension_protocol(),
            "{:?}",
            theirs.reserved
        );
        assert!(theirs.reserved.fast(), "{:?}", theirs.reserved);
        let client = ferro_wire::client_info(&theirs.peer_id);
        eprintln!("peer id {:?} -> {client:?}", theirs.peer_id);
        assert_eq!(client.map(|c| c.name).as_deref(), Some("libtorrent"));

        let mut conn = hs.map_codec(|_| {
            MessageCodec::new(Config {
                piece_count: Some(pieces),
                ..Config::default()
            })
        });
        let ours = ExtendedHandshake::default()
            .with_extension("ut_metadata", 1)
            .with_extension("ut_pex", 2);
        let ours = ExtendedHandshake {
            v: Some("Ferro test".into()),
            reqq: Some(100),
            ..ours
        };
        conn.send(ours.to_message().unwrap()).await.unwrap();

        let mut ext = None;
        let mut have = None;
        let mut allowed_fast = Vec::new();
        // Bounded: libtorrent's greeting is a few messages.
        for _ in 0..20 {
            if ext.is_some() && have.is_some() {
                break;
            }
            let msg = conn
                .next()
                .await
                .expect("libtorrent closed the connection")
                .unwrap();
            eprintln!("libtorrent sent {msg:?}");
            match msg {
                Message::Extended { id: 0, payload } => {
                    ext = Some(ExtendedHandshake::from_bytes(&payload).unwrap());
                }
                Message::HaveAll => have = Some("have_all".to_string()),
                Message::AllowedFast(i) => allowed_fast.push(i),
                Message::Bitfield(b) => {
                    assert!(b.count_ones() > 0);
                    have = Some(format!("bitfield {b:?}"));
                }
                _ => {}
            }
        }
        let ext = ext.expect("no extended handshake from libtorrent");
        let have = have.expect("no bitfield/have_all");

        // Then one block through the piece path: interested, wait for unchoke
        // (or an allowed-fast piece 0), request the first 16 KiB.
        conn.send(Message::Interested).await.unwrap();
        let mut requested = false;
        let mut block = None;
        for _ in 0..50 {
            let msg = conn
                .next()
                .await
                .expect("libtorrent closed the connection")
                .unwrap();
            match msg {
                Message::Unchoke | Message::AllowedFast(0) if !requested => {
                    let r = BlockRequest {
                        index: 0,
                        begin: 0,
                        length: 16384,
                    };
                    conn.send(Message::Request(r)).await.unwrap();
                    requested = true;
                }
                Message::Piece(b) => {
                    block = Some(b);
                    break;
                }
                Message::AllowedFast(i) => allowed_fast.push(i),
                Message::RejectRequest(r) => panic!("libtorrent rejected {r:?}"),
                other => eprintln!("libtorrent sent {other:?}"),
            }
        }
        (
            ext,
            have,
            block.expect("no block from libtorrent"),
            allowed_fast,
        )
    };
    let (ext, have, block, allowed_fast) = tokio::time::timeout(Duration::from_secs(30), exchange)
        .await
        .expect("libtorrent exchange timed out");
    eprintln!("extended handshake: {ext:?}; pieces: {have}");
    assert!(ext.extension_id("ut_metadata").is_some(), "m = {:?}", ext.m);
    assert!(ext.extension_id("ut_pex").is_some(), "m = {:?}", ext.m);
    let v = ext.v.clone().unwrap_or_default();
    assert!(v.to_lowercase().contains("libtorrent"), "v = {v:?}");
    assert!(
        ext.metadata_size.is_some_and(|n| n > 0),
        "metadata_size {:?}",
        ext.metadata_size
    );
    assert_eq!((block.index, block.begin), (0, 0));
    assert_eq!(
        &block.data[..],
        &file[..16384],
        "block 0 matches the seeded data"
    );

    // libtorrent 2.0 runs the BEP 6 generator over the peer's full address (no
    // /24 mask), so its set is not the canonical one: reproduce it from the key
    // it uses. The canonical vectors are checked in the unit tests.
    let ip = std::net::IpAddr::from([127, 0, 0, 1]);
    let ours = ferro_wire::allowed_fast_set(&info_hash, ip, pieces, 5);
    eprintln!(
        "{info_hash}: allowed fast from libtorrent {allowed_fast:?}; BEP 6 set for us {ours:?}"
    );
    if !allowed_fast.is_empty() {
        let lt_style = ferro_wire::allowed_fast_set_from_key(
            &[127, 0, 0, 1],
            &info_hash,
            pieces,
            allowed_fast.len(),
        );
        assert_eq!(allowed_fast, lt_style, "libtorrent's allowed-fast set");
    }
}
