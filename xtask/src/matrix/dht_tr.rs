//! "DHT only" with Transmission, in the network namespace (`netns.rs`):
//! Transmission 3.00 never dials loopback peers and bootstraps its DHT from
//! dht.transmissionbt.com when it knows few nodes, so on the host neither
//! direction can run. In the namespace it is on 10.77.0.1, Ferro on
//! 10.77.0.2, and a dozen ferro-dht nodes on 10.77.0.10 and up (one address
//! each: Ferro's DHT keeps one node per IP) are the whole DHT. They are
//! Transmission's `dht.dat`; its public bootstrap fails there (no route).
//! It searches and announces only once it counts at least 4 good nodes and
//! more than 8 in all (tr-dht.c `tr_dhtStatus`), hence a dozen.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use super::cells::torrent_path;
use super::dht_node::BootstrapNode;
use super::party::{self, Proc, at};
use super::pex::Hosts;
use super::transmission::Transmission;
use super::{Ctx, Direction, Measured};
use crate::Result;
use crate::swarm::free_port;

/// How many DHT nodes, and the first of their addresses (10.77.0.10 on).
pub const NODES: u8 = 12;
pub const FIRST_NODE_HOST: u8 = 10;

/// How long the download may take: Transmission's DHT first has to ping
/// its nodes (about 2 s apart).
const TIMEOUT: Duration = Duration::from_secs(240);

/// The DHT: `NODES` ferro-dht nodes, each pinging those started before it.
fn start_nodes() -> Result<Vec<BootstrapNode>> {
    let mut nodes: Vec<BootstrapNode> = Vec::new();
    for i in 0..NODES {
        let ip = IpAddr::V4(Ipv4Addr::new(10, 77, 0, FIRST_NODE_HOST + i));
        let known: Vec<SocketAddr> = nodes.iter().map(|n| n.addr).collect();
        nodes.push(BootstrapNode::start_on(ip, &known)?);
    }
    Ok(nodes)
}

/// One direction of the DHT case between Ferro and Transmission.
pub(super) fn dht_transmission(ctx: &Ctx, d: Direction) -> Result<Measured> {
    let row = ctx.row_dir("dht-transmission")?;
    let nodes = start_nodes()?;
    let addrs: Vec<SocketAddr> = nodes.iter().map(|n| n.addr).collect();
    let t = torrent_path(&row);
    party::ferro_create(&ctx.ferro, &ctx.single.root, &t, &[], &[], false)?;
    // A bare magnet link: info-hash and name only.
    let magnet = party::magnet(&ctx.ferro, &t, &[])?;
    let hosts = Hosts::NETNS;
    let (ferro_port, tr_port) = (free_port()?, free_port()?);
    let ferro_args = |c: &mut std::process::Command| {
        c.args(["--port", &ferro_port.to_string(), "--json"]);
        c.args(["--bind", &hosts.x.to_string()]);
        for a in &addrs {
            c.args(["--dht-bootstrap", &a.to_string()]);
        }
    };
    let out = row.join("leech");
    let (secs, how) = match d {
        Direction::ToFerro => {
            let mut tr = Transmission::start_with_dht(
                &row.join("transmission-seed"),
                hosts.client,
                tr_port,
                &addrs,
            )?;
            tr.seed(&t, &ctx.single.parent)?;
            let start = Instant::now();
            let mut c = std::process::Command::new(&ctx.ferro);
            c.arg("download").arg(&magnet).arg("-o").arg(&out);
            ferro_args(&mut c);
            let mut f = Proc::spawn("ferro download (DHT)", c)?;
            f.wait_exit(TIMEOUT)?;
            let secs = start.elapsed().as_secs_f64();
            // Ferro had no peer but those the DHT gave it.
            (secs, "Ferro found Transmission by DHT".to_owned())
        }
        Direction::FromFerro => {
            let mut c = std::process::Command::new(&ctx.ferro);
            c.arg("seed").arg(&t).arg(&ctx.single.parent);
            ferro_args(&mut c);
            let mut seeder = Proc::spawn("ferro seed (DHT)", c)?;
            seeder.wait_line(Duration::from_secs(60), |_| true)?;
            party::wait_port_on(hosts.x, ferro_port, Duration::from_secs(30))?;
            let start = Instant::now();
            let mut tr = Transmission::start_with_dht(
                &row.join("transmission-leech"),
                hosts.client,
                tr_port,
                &addrs,
            )?;
            let id = tr.add(&magnet, &out)?;
            tr.wait_complete(id, TIMEOUT)?;
            let secs = start.elapsed().as_secs_f64();
            let (from_dht, dialed) = tr.peers_from(id, "fromDht")?;
            let x = at(hosts.x, ferro_port);
            if from_dht == 0 && !dialed.contains(&x) {
                return Err(format!(
                    "Transmission completed, but not from a peer it found by DHT (connected peers it dialed: {dialed:?})"
                ));
            }
            let how = if from_dht > 0 {
                format!("Transmission found Ferro by DHT (peersFrom.fromDht {from_dht})")
            } else {
                "Transmission dialed Ferro, found by DHT".to_owned()
            };
            (secs, how)
        }
    };
    party::verify(&out, &ctx.single.files)?;
    drop(nodes);
    Ok(Measured {
        secs,
        bytes: ctx.single.bytes,
        note: format!(
            "bare magnet; netns: {NODES} ferro-dht nodes in its dht.dat (its public bootstrap has no route); {how}"
        ),
    })
}
