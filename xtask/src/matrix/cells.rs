//! The list of matrix cells and what each case does; the machinery that
//! starts and checks the parties is in `cases.rs`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::cases::{self, Party, Transfer, Who, http_announce, transfer};
use super::dht_node::BootstrapNode;
use super::party::{self, Find, json_u64, local};
use super::{Client, Ctx, Direction, Measured};
use crate::Result;
use crate::swarm::free_port;

/// What runs one cell.
pub type RunCell = Box<dyn Fn(&Ctx) -> Result<Measured>>;

/// One cell of the matrix.
pub struct Cell {
    pub case: &'static str,
    pub client: &'static str,
    pub direction: String,
    /// Why the client cannot do this case, when it cannot.
    pub not_applicable: Option<&'static str>,
    pub run: RunCell,
}

const CLIENTS: [Client; 3] = [Client::Libtorrent, Client::Transmission, Client::Aria2];
const DIRECTIONS: [Direction; 2] = [Direction::ToFerro, Direction::FromFerro];

fn label(c: Client, d: Direction) -> String {
    match d {
        Direction::ToFerro => format!("{} → ferro", c.name()),
        Direction::FromFerro => format!("ferro → {}", c.name()),
    }
}

type CaseFn = fn(&Ctx, Client, Direction) -> Result<Measured>;

/// Every cell, in the order they run.
pub fn cells() -> Vec<Cell> {
    let cases: [(&'static str, CaseFn); 6] = [
        ("HTTP tracker", http_tracker),
        ("UDP tracker", udp_tracker),
        ("magnet x.pe", magnet),
        ("padding (BEP 47)", padding),
        ("DHT only", dht),
        ("PEX discovery", pex),
    ];
    let mut v = Vec::new();
    for (case, f) in cases {
        for c in CLIENTS {
            for d in DIRECTIONS {
                v.push(Cell {
                    case,
                    client: c.name(),
                    direction: label(c, d),
                    not_applicable: not_applicable(case, c, d),
                    run: Box::new(move |ctx| f(ctx, c, d)),
                });
            }
        }
    }
    v.push(Cell {
        case: "web seed",
        client: "nginx",
        direction: "nginx → ferro".into(),
        not_applicable: None,
        run: Box::new(|ctx| web_seed(ctx, None)),
    });
    for c in CLIENTS {
        v.push(Cell {
            case: "web seed",
            client: c.name(),
            direction: format!("nginx → {} (ferro's torrent)", c.name()),
            not_applicable: None,
            run: Box::new(move |ctx| web_seed(ctx, Some(c))),
        });
    }
    v.push(Cell {
        case: "swarm",
        client: "all",
        direction: "libtorrent → ferro×2, transmission, aria2c".into(),
        not_applicable: None,
        run: Box::new(swarm),
    });
    v
}

/// Cases a client cannot do, and why (each checked on this machine).
fn not_applicable(case: &str, c: Client, d: Direction) -> Option<&'static str> {
    match (case, c, d) {
        ("DHT only", Client::Transmission, Direction::FromFerro) => Some(
            "Transmission 3.00 never dials 127.0.0.0/8 peers it hears of (DHT, PEX, tracker, x.pe), so it cannot find Ferro on loopback by DHT",
        ),
        ("DHT only", Client::Transmission, Direction::ToFerro) => Some(
            "Transmission 3.00's DHT bootstraps from dht.transmissionbt.com (tr-dht.c) when it knows few nodes: a public host tests must not contact",
        ),
        // Not incapable, slow: the rows fit the 15-minute budget only
        // without them. `cargo xtask interop --slow` runs them.
        ("PEX discovery", Client::Transmission | Client::Aria2, Direction::ToFerro) if !slow() => {
            Some(
                "no ut_pex from the client during an 18 s download here (Transmission and aria2c send PEX on a 60-90 s timer); too slow for the CI budget: run with --slow",
            )
        }
        ("PEX discovery", Client::Transmission, Direction::FromFerro) => Some(
            "Transmission 3.00 never dials 127.0.0.0/8 peers it learns by PEX, so a Ferro peer it hears of cannot be reached",
        ),
        _ => None,
    }
}

/// `--slow`: also the cells too slow for CI.
fn slow() -> bool {
    super::SLOW.load(std::sync::atomic::Ordering::Relaxed)
}

fn torrent_path(row: &Path) -> PathBuf {
    row.join("t.torrent")
}

fn plain(torrent: &Path) -> Box<dyn Fn(u16, u16) -> Result<String>> {
    let t = torrent.display().to_string();
    Box::new(move |_, _| Ok(t.clone()))
}

/// Ferro dials a leecher that cannot dial (Transmission, aria2c with no tracker).
fn needs_dial(c: Client, d: Direction) -> bool {
    d == Direction::FromFerro && c != Client::Libtorrent
}

fn http_tracker(ctx: &Ctx, c: Client, d: Direction) -> Result<Measured> {
    let row = ctx.row_dir("http-tracker")?;
    let (_tracker, http, _) = party::ferro_tracker(&ctx.ferro)?;
    let t = torrent_path(&row);
    let hash = party::ferro_create(
        &ctx.ferro,
        &ctx.single.root,
        &t,
        &[http_announce(http)],
        &[],
        false,
    )?;
    let spec = Transfer {
        source: plain(&t),
        torrent: t,
        payload: &ctx.single,
        finds: Box::new(|_, _| (Find::default(), Find::default())),
        tracker: Some((http, hash)),
        client_data: None,
    };
    let (m, _, _) = transfer(ctx, c, d, &row, &spec)?;
    Ok(m)
}

fn udp_tracker(ctx: &Ctx, c: Client, d: Direction) -> Result<Measured> {
    let row = ctx.row_dir("udp-tracker")?;
    let (tcp, udp) = (free_port()?, party::free_udp_port()?);
    let t = torrent_path(&row);
    let url = format!("udp://{}/announce", local(udp));
    let hash = party::ferro_create(&ctx.ferro, &ctx.single.root, &t, &[url], &[], false)?;
    let _ot = party::opentracker(&row, std::slice::from_ref(&hash), tcp, udp)?;
    // aria2c speaks UDP trackers only over its DHT socket ("udp is not
    // supported yet" otherwise): its DHT is on, told only a loopback node.
    let boot = match c {
        Client::Aria2 => Some(BootstrapNode::start()?),
        _ => None,
    };
    let node = boot.as_ref().map(|b| b.port);
    let spec = Transfer {
        source: plain(&t),
        torrent: t,
        payload: &ctx.single,
        finds: Box::new(move |_, _| {
            let client = Find {
                dht_node: node,
                ..Find::default()
            };
            match d {
                Direction::ToFerro => (client, Find::default()),
                Direction::FromFerro => (Find::default(), client),
            }
        }),
        tracker: Some((tcp, hash)),
        client_data: None,
    };
    let (mut m, _, _) = transfer(ctx, c, d, &row, &spec)?;
    m.note = match c {
        Client::Aria2 => {
            "opentracker, UDP (BEP 15); aria2c's UDP tracker needs its DHT on (loopback node only)"
        }
        _ => "opentracker, UDP (BEP 15)",
    }
    .into();
    Ok(m)
}

fn magnet(ctx: &Ctx, c: Client, d: Direction) -> Result<Measured> {
    let row = ctx.row_dir("magnet")?;
    let t = torrent_path(&row);
    party::ferro_create(&ctx.ferro, &ctx.single.root, &t, &[], &[], false)?;
    let ferro = ctx.ferro.clone();
    let tt = t.clone();
    let dial = needs_dial(c, d);
    let spec = Transfer {
        // Transmission hangs up on the first connection to a magnet link it
        // has just added and dials back, which fails on loopback; its own
        // x.pe dial fails too (seen here): its link has no x.pe, Ferro redials.
        source: Box::new(move |seed_port, _| {
            let xpe = match (c, d) {
                (Client::Transmission, Direction::FromFerro) => vec![],
                _ => vec![local(seed_port)],
            };
            party::magnet(&ferro, &tt, &xpe)
        }),
        torrent: t,
        payload: &ctx.single,
        finds: Box::new(move |_, leech_port| {
            let mut s = Find::default();
            if dial {
                s.peers.push(local(leech_port));
            }
            (s, Find::default())
        }),
        tracker: None,
        client_data: None,
    };
    let (mut m, _, _) = transfer(ctx, c, d, &row, &spec)?;
    if dial {
        m.note = match c {
            Client::Transmission => "it hangs up on the first connection to a new magnet and its loopback x.pe dial fails: link without x.pe, Ferro's seeder dials and redials it".into(),
            _ => format!("{} ignores x.pe; Ferro's seeder dials it", c.name()),
        };
    }
    Ok(m)
}

fn padding(ctx: &Ctx, c: Client, d: Direction) -> Result<Measured> {
    // libtorrent's torrent for libtorrent's rows, Ferro's for the others and
    // for libtorrent's rows a second run with Ferro's: both creators, both ways.
    let creators: &[&str] = if c == Client::Libtorrent {
        &["libtorrent", "ferro"]
    } else {
        &["ferro"]
    };
    let mut total = Measured {
        secs: 0.0,
        bytes: 0,
        note: String::new(),
    };
    for creator in creators {
        let row = ctx.row_dir("padding")?;
        let (_tracker, http, _) = party::ferro_tracker(&ctx.ferro)?;
        let t = torrent_path(&row);
        let url = http_announce(http);
        let hash = if *creator == "libtorrent" {
            party::lt_create(&ctx.multi.root, &t, &[url], true)?;
            party::info_hash(&ctx.ferro, &t)?
        } else {
            party::ferro_create(&ctx.ferro, &ctx.multi.root, &t, &[url], &[], true)?
        };
        let info = crate::run_output(std::process::Command::new(&ctx.ferro).arg("info").arg(&t))?;
        if !info.contains(".pad") && !info.contains("padding") {
            return Err(format!("{creator}'s torrent has no padding file: {info}"));
        }
        // A client without BEP 47 (Transmission 3.00, aria2c) seeds only
        // with the padding files on disk, as it would have written them.
        let client_data = match c {
            Client::Libtorrent => None,
            _ => Some(data_with_padding_files(ctx, &t, &row)?),
        };
        let spec = Transfer {
            source: plain(&t),
            torrent: t,
            payload: &ctx.multi,
            finds: Box::new(|_, _| (Find::default(), Find::default())),
            tracker: Some((http, hash)),
            client_data,
        };
        let (m, _, _) = transfer(ctx, c, d, &row, &spec)?;
        if !m.note.is_empty() && !total.note.contains(&m.note) {
            total.note = m.note.clone();
        }
        total.secs += m.secs;
        total.bytes += m.bytes;
    }
    let extra = std::mem::take(&mut total.note);
    total.note = format!(
        "torrents by {}; ferro wrote no padding file{}{extra}",
        creators.join(" and "),
        if extra.is_empty() { "" } else { "; " }
    );
    Ok(total)
}

/// A copy of the multi-file payload plus zero-filled padding files.
fn data_with_padding_files(ctx: &Ctx, torrent: &Path, row: &Path) -> Result<PathBuf> {
    let dir = row.join("client-data");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    crate::run_status(
        std::process::Command::new("cp")
            .arg("-a")
            .arg(&ctx.multi.root)
            .arg(&dir),
    )?;
    let json = crate::run_output(
        std::process::Command::new(&ctx.ferro)
            .args(["info", "--json"])
            .arg(torrent),
    )?;
    let info: serde_json::Value = serde_json::from_str(&json).map_err(|e| e.to_string())?;
    for f in info["files"]
        .as_array()
        .ok_or("ferro info --json: no files")?
    {
        if f["padding"].as_bool() == Some(true) {
            let path = dir.join(f["path"].as_str().ok_or("no path")?);
            if let Some(p) = path.parent() {
                std::fs::create_dir_all(p).map_err(|e| e.to_string())?;
            }
            let size = f["size"].as_u64().ok_or("no size")?;
            std::fs::write(&path, vec![0u8; size as usize]).map_err(|e| e.to_string())?;
        }
    }
    Ok(dir)
}

fn dht(ctx: &Ctx, c: Client, d: Direction) -> Result<Measured> {
    let row = ctx.row_dir("dht")?;
    let boot = BootstrapNode::start()?;
    let t = torrent_path(&row);
    party::ferro_create(&ctx.ferro, &ctx.single.root, &t, &[], &[], false)?;
    let ferro = ctx.ferro.clone();
    let tt = t.clone();
    let node = boot.port;
    let spec = Transfer {
        // A bare magnet link: info-hash and name only, no peer, no tracker.
        source: Box::new(move |_, _| party::magnet(&ferro, &tt, &[])),
        torrent: t,
        payload: &ctx.single,
        finds: Box::new(move |_, _| {
            let f = Find {
                dht_node: Some(node),
                ..Find::default()
            };
            (f.clone(), f)
        }),
        tracker: None,
        client_data: None,
    };
    let (mut m, _, _) = transfer(ctx, c, d, &row, &spec)?;
    m.note = "bare magnet; one loopback bootstrap node (ferro-dht)".into();
    Ok(m)
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
/// aria2c's log names the address it dialed).
fn pex(ctx: &Ctx, c: Client, d: Direction) -> Result<Measured> {
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

/// Web seed (BEP 19) on nginx: a torrent made by `ferro create -w`,
/// downloaded from nginx alone by Ferro (`client` None) or by a client.
fn web_seed(ctx: &Ctx, client: Option<Client>) -> Result<Measured> {
    let row = ctx.row_dir("webseed")?;
    let (_nginx, port) = party::nginx(&row, &ctx.single.parent)?;
    let t = torrent_path(&row);
    let url = format!("http://{}/", local(port));
    party::ferro_create(&ctx.ferro, &ctx.single.root, &t, &[], &[url], false)?;
    let out = row.join("leech");
    let source = t.display().to_string();
    let who = client.map_or(Who::Ferro, Who::Client);
    let start = Instant::now();
    let mut l = cases::leech(
        ctx,
        who,
        &source,
        &out,
        free_port()?,
        &Find::default(),
        &row,
    )?;
    cases::wait_done(&mut l, cases::TRANSFER_TIMEOUT)?;
    let secs = start.elapsed().as_secs_f64();
    party::verify(&out, &ctx.single.files)?;
    Ok(Measured {
        secs,
        bytes: ctx.single.bytes,
        note: "no peer at all: nginx only (Range requests)".into(),
    })
}

/// Ferro's tracker, a libtorrent seeder, and four leechers at once: two
/// Ferro (they keep seeding), aria2c and Transmission; every copy checked.
fn swarm(ctx: &Ctx) -> Result<Measured> {
    let row = ctx.row_dir("swarm")?;
    let (_tracker, http, _) = party::ferro_tracker(&ctx.ferro)?;
    let t = torrent_path(&row);
    let hash = party::ferro_create(
        &ctx.ferro,
        &ctx.single.root,
        &t,
        &[http_announce(http)],
        &[],
        false,
    )?;
    let source = t.display().to_string();
    let none = Find::default();
    let tr_port = free_port()?;
    let start = Instant::now();
    // Transmission first: it never dials, the others find it by the tracker.
    let mut tr = cases::leech(
        ctx,
        Who::Client(Client::Transmission),
        &source,
        &row.join("tr"),
        tr_port,
        &none,
        &row,
    )?;
    party::wait_announced(http, &hash, false, Duration::from_secs(30))?;
    let _seed = cases::seed(
        ctx,
        Who::Client(Client::Libtorrent),
        &t,
        &ctx.single.parent,
        free_port()?,
        &none,
        &row,
    )?;
    let mut ferros = Vec::new();
    for i in 0..2 {
        let dir = row.join(format!("ferro{i}"));
        ferros.push(party::ferro_download(
            &ctx.ferro,
            &source,
            &dir,
            free_port()?,
            &none,
            Some(120),
        )?);
    }
    let mut aria = cases::leech(
        ctx,
        Who::Client(Client::Aria2),
        &source,
        &row.join("aria2"),
        free_port()?,
        &none,
        &row,
    )?;
    for f in &mut ferros {
        f.wait_line(cases::TRANSFER_TIMEOUT, |l| l.contains("\"completed\""))?;
    }
    cases::wait_done(&mut aria, cases::TRANSFER_TIMEOUT)?;
    cases::wait_done(&mut tr, cases::TRANSFER_TIMEOUT)?;
    let secs = start.elapsed().as_secs_f64();
    for d in ["ferro0", "ferro1", "aria2", "tr"] {
        party::verify(&row.join(d), &ctx.single.files)?;
    }
    let uploaded: u64 = ferros
        .iter_mut()
        .map(|f| {
            f.drain();
            f.seen
                .iter()
                .filter_map(|l| json_u64(l, "uploaded"))
                .max()
                .unwrap_or(0)
        })
        .sum();
    Ok(Measured {
        secs,
        bytes: 4 * ctx.single.bytes,
        note: format!(
            "4 leechers, identical sha256; the Ferro leechers uploaded {:.1} MB; MB/s is the swarm's total",
            uploaded as f64 / 1e6
        ),
    })
}
