//! The list of matrix cells and what each case does; the machinery that
//! starts and checks the parties is in `cases.rs`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::cases::{self, Transfer, Who, http_announce, transfer};
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
    /// Runs in the private network namespace, each party on its own
    /// 10.77.0.x address (`netns.rs`).
    pub netns: bool,
    pub run: RunCell,
}

impl Cell {
    /// What `--matrix-only FILTER` matches: case, client and direction.
    pub fn label(&self) -> String {
        format!("{} {} {}", self.case, self.client, self.direction)
    }
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
        ("PEX discovery", super::pex::pex),
    ];
    let mut v = Vec::new();
    for (case, f) in cases {
        for c in CLIENTS {
            for d in DIRECTIONS {
                let netns = needs_netns(case, c, d);
                v.push(Cell {
                    case,
                    client: c.name(),
                    direction: label(c, d),
                    netns,
                    run: match (netns, case) {
                        (true, "DHT only") => {
                            Box::new(move |ctx| super::dht_tr::dht_transmission(ctx, d))
                        }
                        (true, _) => Box::new(move |ctx| {
                            super::pex::pex_on(ctx, c, d, super::pex::Hosts::NETNS)
                        }),
                        (false, _) => Box::new(move |ctx| f(ctx, c, d)),
                    },
                });
            }
        }
    }
    v.push(Cell {
        case: "web seed",
        client: "nginx",
        direction: "nginx → ferro".into(),
        netns: false,
        run: Box::new(|ctx| web_seed(ctx, None)),
    });
    for c in CLIENTS {
        v.push(Cell {
            case: "web seed",
            client: c.name(),
            direction: format!("nginx → {} (ferro's torrent)", c.name()),
            netns: false,
            run: Box::new(move |ctx| web_seed(ctx, Some(c))),
        });
    }
    v.push(Cell {
        case: "swarm",
        client: "all",
        direction: "libtorrent → ferro×2, transmission, aria2c".into(),
        netns: false,
        run: Box::new(swarm),
    });
    v
}

/// Cells that need each party on its own address, so they run in the
/// network namespace: aria2c names no peer sharing the recipient's IP in
/// its ut_pex (DefaultBtInteractive::addPeerExchangeMessage); Transmission
/// 3.00 keeps one peer per IP per torrent (peer-mgr.c: an atom per address,
/// a second connection from it is "we already have this peer") and never
/// dials 127.0.0.0/8 peers it hears of.
/// Transmission's DHT also bootstraps from a public host when it knows few
/// nodes: only the namespace, with no route out, makes it safe to run.
fn needs_netns(case: &str, c: Client, d: Direction) -> bool {
    match case {
        "PEX discovery" => matches!(
            (c, d),
            (Client::Aria2, Direction::ToFerro) | (Client::Transmission, _)
        ),
        "DHT only" => c == Client::Transmission,
        _ => false,
    }
}

pub(super) fn torrent_path(row: &Path) -> PathBuf {
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

/// `ferro tracker` and a torrent of the single-file payload announcing to
/// it (HTTP): the tracker, its HTTP port, the torrent and its info-hash.
fn tracked_single(ctx: &Ctx, row: &Path) -> Result<(party::Proc, u16, PathBuf, String)> {
    let (tracker, http, _) = party::ferro_tracker(&ctx.ferro)?;
    let t = torrent_path(row);
    let hash = party::ferro_create(
        &ctx.ferro,
        &ctx.single.root,
        &t,
        &[http_announce(http)],
        &[],
        false,
    )?;
    Ok((tracker, http, t, hash))
}

fn http_tracker(ctx: &Ctx, c: Client, d: Direction) -> Result<Measured> {
    let row = ctx.row_dir("http-tracker")?;
    let (_tracker, http, t, hash) = tracked_single(ctx, &row)?;
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
    let (_tracker, http, t, hash) = tracked_single(ctx, &row)?;
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
