//! KRPC decoding never panics; decode → encode → decode is stable; the node
//! core takes any datagram without panicking; saved state decoding never panics.
#![no_main]

use std::time::Instant;

use ferro_dht::{DhtConfig, Node, NodeId, SavedState, krpc};
use libfuzzer_sys::fuzz_target;
use rand::SeedableRng;

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = krpc::decode(data) {
        let bytes = krpc::encode(&msg);
        let again = krpc::decode(&bytes).expect("our own encoding decodes");
        assert_eq!(again, msg, "decode -> encode -> decode changed the message");
        assert_eq!(krpc::encode(&again), bytes, "encoding is canonical");
    }
    let now = Instant::now();
    let mut node = Node::new(DhtConfig::default(), NodeId([7; 20]), rand::rngs::StdRng::seed_from_u64(1), now);
    node.handle_datagram(now, "10.0.0.1:6881".parse().unwrap(), data);
    while node.poll_transmit().is_some() {}
    let _ = SavedState::decode(data);
});
