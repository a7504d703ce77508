//! A DHT bootstrap node for the matrix's DHT-only cases: ferro-dht's sans-IO
//! `Node` driven by a plain thread over a `std::net::UdpSocket` on 127.0.0.1,
//! the only node every party is told about.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ferro_dht::{DhtConfig, Node, NodeId};
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::Result;

/// The running node; stopped (thread joined) on drop.
pub struct BootstrapNode {
    pub port: u16,
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl BootstrapNode {
    pub fn start() -> Result<BootstrapNode> {
        Self::start_on(super::party::LOOPBACK, &[])
    }

    /// A node on `ip` (any port) that pings `known` first, so a handful of
    /// them started one after another all know each other.
    pub fn start_on(ip: IpAddr, known: &[SocketAddr]) -> Result<BootstrapNode> {
        let socket = UdpSocket::bind((ip, 0)).map_err(|e| e.to_string())?;
        socket
            .set_read_timeout(Some(Duration::from_millis(20)))
            .map_err(|e| e.to_string())?;
        let addr = socket.local_addr().map_err(|e| e.to_string())?;
        let port = addr.port();
        let known = known.to_vec();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut rng = StdRng::seed_from_u64(u64::from(port));
            let id = NodeId::random(&mut rng);
            let mut node = Node::new(DhtConfig::loopback(), id, rng, Instant::now());
            for &a in &known {
                node.add_node(a, Instant::now());
            }
            let mut buf = vec![0u8; 65_536];
            // Until dropped; each round waits at most 20 ms.
            while !flag.load(Ordering::Relaxed) {
                if let Ok((n, from)) = socket.recv_from(&mut buf)
                    && let Some(bytes) = buf.get(..n)
                {
                    node.handle_datagram(Instant::now(), from, bytes);
                }
                if node.poll_timeout().is_some_and(|t| t <= Instant::now()) {
                    node.handle_timeout(Instant::now());
                }
                while let Some(t) = node.poll_transmit() {
                    let _ = socket.send_to(&t.payload, t.to);
                }
                while node.poll_event().is_some() {}
            }
        });
        Ok(BootstrapNode {
            port,
            addr,
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for BootstrapNode {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
