//! ferro-tracker's BEP 15 codec, client state machine and server handler
//! never panic; decoded packets re-encode to the same value.
#![no_main]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ferro_tracker::server::udp::{ConnectionIds, handle_datagram};
use ferro_tracker::server::{SwarmConfig, Swarms};
use ferro_tracker::udp::{Request, Response};
use ferro_tracker::{AnnounceRequest, InfoHash, PeerId, UdpClient, UdpConfig, UdpOperation};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = Request::decode(data) {
        assert_eq!(Request::decode(&r.encode()).expect("re-encoded request"), r);
    }
    for v6 in [false, true] {
        if let Ok(r) = Response::decode(data, v6) {
            assert_eq!(Response::decode(&r.encode(), v6).expect("re-encoded response"), r);
        }
    }
    let now = Instant::now();
    let mut c = UdpClient::new(UdpConfig::default(), false);
    let req = AnnounceRequest::new(InfoHash([1; 20]), PeerId([2; 20]), 6881, 0);
    if c.start(UdpOperation::Announce(req), now).is_ok() {
        let _ = c.poll_transmit(now);
        let _ = c.handle_datagram(data, now);
        let _ = c.poll_event();
    }
    let mut swarms = Swarms::new(SwarmConfig::default());
    let ids = ConnectionIds::new(now, Duration::from_secs(60));
    let src: SocketAddr = "127.0.0.1:1000".parse().expect("addr");
    let _ = handle_datagram(&mut swarms, &ids, src, data, now);
});
