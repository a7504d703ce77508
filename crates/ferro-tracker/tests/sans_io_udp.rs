//! The BEP 15 client state machine against the server's datagram handler,
//! in one thread with a virtual clock and a lossy "network": no sockets, no sleeps.
#![cfg(feature = "server")]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ferro_tracker::server::udp::{ConnectionIds, handle_datagram};
use ferro_tracker::server::{SwarmConfig, Swarms};
use ferro_tracker::{
    AnnounceRequest, InfoHash, PeerId, UdpClient, UdpConfig, UdpEvent, UdpOperation,
};

struct Net {
    swarms: Swarms,
    ids: ConnectionIds,
    now: Instant,
    sent: usize,
}

impl Net {
    /// Runs `op` on `client` from `src` to completion; `lose(n)` drops the
    /// n-th datagram sent either way. Returns the event and the datagrams sent.
    fn run(
        &mut self,
        client: &mut UdpClient,
        src: SocketAddr,
        op: UdpOperation,
        lose: impl Fn(usize) -> bool,
    ) -> UdpEvent {
        client.start(op, self.now).unwrap();
        for _ in 0..100 {
            while let Some(d) = client.poll_transmit(self.now) {
                self.sent += 1;
                if lose(self.sent) {
                    continue;
                }
                if let Some(reply) = handle_datagram(&mut self.swarms, &self.ids, src, &d, self.now)
                {
                    self.sent += 1;
                    if !lose(self.sent) {
                        client.handle_datagram(&reply, self.now).unwrap();
                    }
                }
            }
            if let Some(ev) = client.poll_event() {
                return ev;
            }
            self.now = client
                .poll_timeout()
                .expect("a pending request has a deadline");
            client.handle_timeout(self.now);
        }
        panic!("did not finish in 100 steps");
    }
}

#[test]
fn lossy_network_virtual_time_and_connection_id_reuse() {
    let t0 = Instant::now();
    let mut net = Net {
        swarms: Swarms::new(SwarmConfig::default()),
        ids: ConnectionIds::new(t0, Duration::from_secs(60)),
        now: t0,
        sent: 0,
    };
    let cfg = UdpConfig::default();
    let a_src: SocketAddr = "127.0.0.1:40001".parse().unwrap();
    let b_src: SocketAddr = "127.0.0.2:40002".parse().unwrap();
    let mut a = UdpClient::new(cfg.clone(), false);
    let mut b = UdpClient::new(cfg, false);
    let ih = InfoHash([5; 20]);
    let ann = |id: u8, port: u16| {
        UdpOperation::Announce(AnnounceRequest::new(ih, PeerId([id; 20]), port, 1))
    };

    // Lose the first connect and the first announce reply: two timeouts of
    // 15 s and then 15 s again (the retry counter restarts after the connect).
    let ev = net.run(&mut a, a_src, ann(1, 6001), |n| n == 1 || n == 5);
    assert!(
        matches!(ev, UdpEvent::Announced(ref r) if r.peers.is_empty()),
        "{ev:?}"
    );
    assert_eq!(net.now - t0, Duration::from_secs(30));

    let ev = net.run(&mut b, b_src, ann(2, 6002), |_| false);
    let UdpEvent::Announced(r) = ev else {
        panic!("{ev:?}")
    };
    assert_eq!(r.addrs(), ["127.0.0.1:6001".parse::<SocketAddr>().unwrap()]);

    // Within the minute, a's connection id is reused: one datagram each way.
    let before = net.sent;
    let ev = net.run(&mut a, a_src, UdpOperation::Scrape(vec![ih]), |_| false);
    assert!(matches!(ev, UdpEvent::Scraped(ref s) if s.get(&ih).unwrap().incomplete == 2));
    assert_eq!(net.sent - before, 2);

    // Two virtual minutes later: a reconnects first (two round trips).
    net.now += Duration::from_secs(120);
    let before = net.sent;
    let ev = net.run(&mut a, a_src, ann(1, 6001), |_| false);
    assert!(matches!(ev, UdpEvent::Announced(_)));
    assert_eq!(net.sent - before, 4);

    // Total silence: 9 sends (n = 0..=8), then a typed error after
    // 15·(2⁹−1) s = 7665 s of virtual time.
    let start = net.now;
    let ev = net.run(&mut b, b_src, ann(2, 6002), |_| true);
    assert_eq!(
        ev,
        UdpEvent::Failed(ferro_tracker::Error::UdpGaveUp { attempts: 9 })
    );
    assert_eq!(net.now - start, Duration::from_secs(15 * 511));
}
