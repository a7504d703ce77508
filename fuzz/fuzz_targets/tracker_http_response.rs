//! ferro-tracker's HTTP side: announce and scrape bodies (client) and request
//! heads (server) never panic; a parsed body re-encodes to itself.
#![no_main]

use std::net::SocketAddr;
use std::time::Instant;

use ferro_tracker::http::{encode_announce, encode_scrape, parse_announce, parse_scrape};
use ferro_tracker::server::http::handle_request;
use ferro_tracker::server::{SwarmConfig, Swarms};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(resp) = parse_announce(data) {
        // The dictionary model keeps ids and order: decode→encode→decode is exact.
        let again = parse_announce(&encode_announce(&resp, false, false)).expect("re-encoded announce parses");
        assert_eq!(again, resp);
        let compact = parse_announce(&encode_announce(&resp, true, false)).expect("compact re-encode parses");
        assert_eq!(compact.peers.len(), resp.peers.len());
    }
    if let Ok(mut s) = parse_scrape(data) {
        let mut again = parse_scrape(&encode_scrape(&s)).expect("re-encoded scrape parses");
        s.files.sort();
        again.files.sort();
        assert_eq!(again, s);
    }
    let mut swarms = Swarms::new(SwarmConfig::default());
    let remote: SocketAddr = "127.0.0.1:1000".parse().expect("addr");
    let reply = handle_request(&mut swarms, data, remote, Instant::now());
    let _ = reply.to_bytes();
});
