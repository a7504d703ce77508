//! The PEX discovery cells (BEP 11): a peer learned only from another
//! peer's ut_pex, in both directions.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::{Duration, Instant};

use super::cases::{self, Party, Who};
use super::cells::torrent_path;
use super::party::{self, Find, LOOPBACK, at, json_u64};
use super::{Client, Ctx, Direction, Measured};
use crate::Result;
use crate::swarm::free_port;

/// Each party's address: all 127.0.0.1 on the host, distinct 10.77.0.x
/// addresses inside the matrix's network namespace (see `netns.rs`), where
/// aria2c and Transmission name and dial peers they cannot on loopback.
#[derive(Clone, Copy, Debug)]
pub struct Hosts {
    /// The third-party client.
    pub client: IpAddr,
    /// Ferro peer X (the measured leecher, or the seeder).
    pub x: IpAddr,
    /// Ferro peer Y (the slow leecher).
    pub y: IpAddr,
}

impl Hosts {
    pub const LOOPBACK: Hosts = Hosts {
        client: LOOPBACK,
        x: LOOPBACK,
        y: LOOPBACK,
    };
    pub const NETNS: Hosts = Hosts {
        client: IpAddr::V4(Ipv4Addr::new(10, 77, 0, 1)),
        x: IpAddr::V4(Ipv4Addr::new(10, 77, 0, 2)),
        y: IpAddr::V4(Ipv4Addr::new(10, 77, 0, 3)),
    };

    fn distinct(&self) -> bool {
        self.client != self.x
    }
}

/// The PEX cell on 127.0.0.1.
pub(super) fn pex(ctx: &Ctx, c: Client, d: Direction) -> Result<Measured> {
    pex_on(ctx, c, d, Hosts::LOOPBACK)
}

/// PEX (BEP 11): a peer learned only from another peer's ut_pex, over the
/// multi-file payload. Seeds drop links to seeds, so the learners are
/// download-limited leechers that stay connected while PEX flows.
///
/// Ferro learning: client A seeds; Ferro leechers Y (256 KB/s) and X (1 MB/s)
/// are told only A; A's ut_pex tells X of Y or Y of X: a Ferro process counts
/// a peer from PEX. Client learning: Ferro seeder X (upload limited to
/// 1 MB/s) and a slow Ferro leecher Y dialing X; the client reaches X only and
/// must dial Y after X's ut_pex (libtorrent reports the peer's source,
/// aria2c's log names the address it dialed, Transmission's RPC the peers
/// it heard of by PEX). With distinct addresses (`hosts`) the downloads are
/// slowed past the clients' PEX timers (aria2c 60 s, Transmission 90 s).
pub(super) fn pex_on(ctx: &Ctx, c: Client, d: Direction, hosts: Hosts) -> Result<Measured> {
    let row = ctx.row_dir("pex")?;
    let t = torrent_path(&row);
    // libtorrent leeching gets the larger payload: ~32 s at 1 MB/s, time
    // for Ferro's ut_pex and libtorrent's dial.
    let payload = if c == Client::Libtorrent && d == Direction::FromFerro {
        &ctx.single
    } else {
        &ctx.multi
    };
    let data = &payload.parent;
    party::ferro_create(&ctx.ferro, &payload.root, &t, &[], &[], false)?;
    let (a_port, y_port, l_port) = (free_port()?, free_port()?, free_port()?);
    let out = row.join("leech");
    let source = t.display().to_string();
    let limited_leecher =
        |dir: &Path, ip: IpAddr, port: u16, limit: &str, peer: &str, extra: &[&str]| {
            let mut c = std::process::Command::new(&ctx.ferro);
            c.arg("download").arg(&t).arg("-o").arg(dir);
            c.args(["--port", &port.to_string(), "--json", "--no-dht"]);
            c.args(["--bind", &ip.to_string()]);
            c.args(["--download-limit", limit, "--peer", peer])
                .args(extra);
            party::Proc::spawn("ferro download (limited)", c)
        };
    let client_find = Find {
        bind: Some(hosts.client),
        ..Find::default()
    };
    match d {
        Direction::ToFerro => {
            let _a = cases::seed(ctx, Who::Client(c), &t, data, a_port, &client_find, &row)?;
            let a = at(hosts.client, a_port);
            // With distinct addresses both leechers stay connected past the
            // client's PEX timer: X ~130 s, Y longer.
            let y_limit = if hosts.distinct() { "96K" } else { "256K" };
            let mut y = limited_leecher(&row.join("y"), hosts.y, y_port, y_limit, &a, &[])?;
            y.wait_line(Duration::from_secs(30), |l| {
                json_u64(l, "peers").is_some_and(|n| n > 0)
            })?;
            let start = Instant::now();
            // With distinct addresses the download lasts ~130 s, past the
            // client's 60-90 s PEX timer; libtorrent sends at once.
            let (limit, timeout) = if hosts.distinct() {
                ("128K", Duration::from_secs(300))
            } else {
                ("1M", cases::TRANSFER_TIMEOUT)
            };
            let mut x = limited_leecher(&out, hosts.x, l_port, limit, &a, &[])?;
            x.wait_exit(timeout)?;
            let secs = start.elapsed().as_secs_f64();
            party::verify(&out, &payload.files)?;
            cases::no_extra_files(&out, &payload.files)?;
            y.drain();
            let (px, py) = (party::ferro_pex_peers(&x), party::ferro_pex_peers(&y));
            let learned = match (px > 0, py > 0) {
                (true, true) => "both Ferro leechers learned each other",
                (true, false) => "the measured Ferro leecher learned the other",
                (false, true) => "the slow Ferro leecher learned the measured one",
                (false, false) => {
                    return Err(format!(
                        "neither Ferro leecher learned a peer from {}'s ut_pex during a {secs:.0} s download",
                        c.name()
                    ));
                }
            };
            Ok(Measured {
                secs,
                bytes: payload.bytes,
                note: format!(
                    "{learned} from {}'s ut_pex ({limit}/s download limit)",
                    c.name()
                ),
            })
        }
        Direction::FromFerro => {
            let x_port = a_port;
            let (x_addr, y_addr) = (at(hosts.x, x_port), at(hosts.y, y_port));
            let client_addr = at(hosts.client, l_port);
            // A client that cannot be told whom to dial leeches first, and
            // X dials it as soon as X is up (a refused dial would wait a
            // minute): X's first ut_pex to it names Y the moment Y connects.
            let mut early = None;
            let start = Instant::now();
            if c != Client::Libtorrent {
                early = Some(cases::leech(
                    ctx,
                    Who::Client(c),
                    &source,
                    &out,
                    l_port,
                    &client_find,
                    &row,
                )?);
                party::wait_port_on(hosts.client, l_port, Duration::from_secs(30))?;
            }
            let mut xc = crate::swarm::seed_command(&ctx.ferro, &t, data, x_port);
            xc.args([
                "--no-dht",
                "--bind",
                &hosts.x.to_string(),
                "--upload-limit",
                "1M",
            ]);
            if c != Client::Libtorrent {
                // Only libtorrent can be told whom to dial.
                xc.args(["--peer", &client_addr]);
            }
            let mut x = party::Proc::spawn("ferro seed X", xc)?;
            x.wait_line(Duration::from_secs(60), |_| true)?;
            party::wait_port_on(hosts.x, x_port, Duration::from_secs(30))?;
            // Y speaks no PEX with aria2c and Transmission: it must not hear
            // of the client from X and dial it first (the client then never
            // dials Y itself). libtorrent reports each peer's source instead.
            let no_pex: &[&str] = if c == Client::Libtorrent {
                &[]
            } else {
                &["--no-pex"]
            };
            let y_dir = row.join("y");
            let mut y = limited_leecher(&y_dir, hosts.y, y_port, "256K", &x_addr, no_pex)?;
            y.wait_line(Duration::from_secs(30), |l| {
                json_u64(l, "peers").is_some_and(|n| n > 0)
            })?;
            let (mut l, start) = match early {
                Some(l) => (l, start),
                None => {
                    let mut find = client_find.clone();
                    if c == Client::Libtorrent {
                        find.peers.push(x_addr.clone());
                    }
                    let start = Instant::now();
                    (
                        cases::leech(ctx, Who::Client(c), &source, &out, l_port, &find, &row)?,
                        start,
                    )
                }
            };
            cases::wait_done(&mut l, cases::TRANSFER_TIMEOUT)?;
            let secs = start.elapsed().as_secs_f64();
            // Transmission creates no empty file; the others do.
            let files: Vec<_> = payload
                .files
                .iter()
                .filter(|f| c != Client::Transmission || f.1 != cases::EMPTY_SHA256)
                .cloned()
                .collect();
            party::verify(&out, &files)?;
            // The client knows Y's listen port only from X's ut_pex.
            let heard = match &mut l {
                Party::Lt(p) => {
                    p.drain();
                    // A connected peer whose source libtorrent records as
                    // ut_pex: it parsed Ferro's message (Y may have dialed
                    // first, having heard of libtorrent the same way).
                    p.seen.iter().any(|s| s.starts_with("PEX "))
                }
                Party::Tr(tr, id) => {
                    // Y (no PEX) cannot have heard of Transmission: a
                    // connection Transmission made to Y, recorded as a peer
                    // first heard of by PEX. Y, downloading at 256 KB/s,
                    // is still connected.
                    let id = *id;
                    let mut ok = false;
                    for _ in 0..40 {
                        let (from_pex, dialed) = tr.peers_from(id, "fromPex")?;
                        ok = from_pex > 0 && dialed.contains(&y_addr);
                        if ok {
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(250));
                    }
                    ok
                }
                // aria2c's info log names each address it dials.
                _ => std::fs::read_to_string(out.with_extension("aria2.log"))
                    .unwrap_or_default()
                    .contains(&format!("Connecting to {y_addr}")),
            };
            if !heard {
                return Err(format!(
                    "{} completed but never dialed the peer Ferro's ut_pex told it of",
                    c.name()
                ));
            }
            let how = match c {
                Client::Transmission => "(RPC: peersFrom.fromPex, an outgoing peer) ",
                _ => "",
            };
            Ok(Measured {
                secs,
                bytes: payload.bytes,
                note: format!(
                    "{} dialed the Ferro peer it learned from Ferro's ut_pex {how}(seeder limited to 1 MB/s)",
                    c.name()
                ),
            })
        }
    }
}
