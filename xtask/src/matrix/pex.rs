//! The PEX discovery cells (BEP 11): a peer learned only from another
//! peer's ut_pex, in both directions.

use std::path::Path;
use std::time::{Duration, Instant};

use super::cases::{self, Party, Who};
use super::cells::{slow, torrent_path};
use super::party::{self, Find, json_u64, local};
use super::{Client, Ctx, Direction, Measured};
use crate::Result;
use crate::swarm::free_port;

/// PEX (BEP 11): a peer learned only from another peer's ut_pex, over the
/// multi-file payload. Seeds drop links to seeds, so the learners are
/// download-limited leechers that stay connected while PEX flows.
///
/// Ferro learning: client A seeds; Ferro leechers Y (256 KB/s) and X (1 MB/s)
/// are told only A; A's ut_pex tells X of Y or Y of X: a Ferro process counts
/// a peer from PEX. Client learning: Ferro seeder X (upload limited to
/// 1 MB/s) and a slow Ferro leecher Y dialing X; the client reaches X only and
/// must dial Y after X's ut_pex (libtorrent reports the peer's source,
/// aria2c's log names the address it dialed).
pub(super) fn pex(ctx: &Ctx, c: Client, d: Direction) -> Result<Measured> {
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
    let limited_leecher = |dir: &Path, port: u16, limit: &str, peer: u16| {
        let mut c = std::process::Command::new(&ctx.ferro);
        c.arg("download").arg(&t).arg("-o").arg(dir);
        c.args(["--port", &port.to_string(), "--json", "--no-dht"]);
        c.args(["--download-limit", limit, "--peer", &local(peer)]);
        party::Proc::spawn("ferro download (limited)", c)
    };
    match d {
        Direction::ToFerro => {
            let _a = cases::seed(
                ctx,
                Who::Client(c),
                &t,
                data,
                a_port,
                &Find::default(),
                &row,
            )?;
            let mut y = limited_leecher(&row.join("y"), y_port, "256K", a_port)?;
            y.wait_line(Duration::from_secs(30), |l| {
                json_u64(l, "peers").is_some_and(|n| n > 0)
            })?;
            let start = Instant::now();
            // Slow mode: the download lasts ~100 s, past a 60-90 s PEX timer.
            let limit = if slow() { "160K" } else { "1M" };
            let mut x = limited_leecher(&out, l_port, limit, a_port)?;
            x.wait_exit(cases::TRANSFER_TIMEOUT)?;
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
                    "{learned} from {}'s ut_pex (1 MB/s download limit)",
                    c.name()
                ),
            })
        }
        Direction::FromFerro => {
            let x_port = a_port;
            let mut xc = std::process::Command::new(&ctx.ferro);
            xc.arg("seed").arg(&t).arg(data);
            xc.args(["--port", &x_port.to_string(), "--json", "--no-dht"]);
            xc.args(["--upload-limit", "1M"]);
            if c != Client::Libtorrent {
                // Only libtorrent can be told whom to dial.
                xc.args(["--peer", &local(l_port)]);
            }
            let mut x = party::Proc::spawn("ferro seed X", xc)?;
            x.wait_line(Duration::from_secs(60), |_| true)?;
            party::wait_port(x_port, Duration::from_secs(30))?;
            let mut y = limited_leecher(&row.join("y"), y_port, "256K", x_port)?;
            y.wait_line(Duration::from_secs(30), |l| {
                json_u64(l, "peers").is_some_and(|n| n > 0)
            })?;
            let to_x = Find {
                peers: vec![local(x_port)],
                ..Find::default()
            };
            let start = Instant::now();
            let find = if c == Client::Libtorrent {
                to_x
            } else {
                Find::default()
            };
            let mut l = cases::leech(ctx, Who::Client(c), &source, &out, l_port, &find, &row)?;
            cases::wait_done(&mut l, cases::TRANSFER_TIMEOUT)?;
            let secs = start.elapsed().as_secs_f64();
            party::verify(&out, &payload.files)?;
            // The client knows Y's listen port only from X's ut_pex.
            let y_addr = local(y_port);
            let heard = match &mut l {
                Party::Lt(p) => {
                    p.drain();
                    // A connected peer whose source libtorrent records as
                    // ut_pex: it parsed Ferro's message (Y may have dialed
                    // first, having heard of libtorrent the same way).
                    p.seen.iter().any(|s| s.starts_with("PEX "))
                }
                _ => std::fs::read_to_string(out.with_extension("aria2.log"))
                    .unwrap_or_default()
                    .contains(&y_addr),
            };
            if !heard {
                return Err(format!(
                    "{} completed but never dialed the peer Ferro's ut_pex told it of",
                    c.name()
                ));
            }
            Ok(Measured {
                secs,
                bytes: payload.bytes,
                note: format!(
                    "{} dialed the Ferro peer it learned from Ferro's ut_pex (seeder limited to 1 MB/s)",
                    c.name()
                ),
            })
        }
    }
}
