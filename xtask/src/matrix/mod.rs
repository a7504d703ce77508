//! The interop matrix: the release `ferro` binary against libtorrent 2.x
//! (python3-libtorrent), Transmission 3.00 (transmission-daemon over its
//! JSON-RPC) and aria2c 1.36, one row per case, client and direction,
//! with the time and MB/s of the transfer and every copy checked by sha256.
//!
//! Cases: HTTP tracker (`ferro tracker`), UDP tracker (opentracker), magnet
//! with `x.pe`, DHT only, PEX discovery, web seed (nginx), a multi-file
//! torrent with BEP 47 padding files (made by libtorrent and by
//! `ferro create --pad`), and a swarm of every client at once.
//! Every cell runs now (cells that need distinct addresses in a private
//! network namespace, `netns.rs`); a row is N/A only when that namespace
//! cannot be made here, and says why.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::Result;

mod cases;
mod cells;
mod dht_node;
mod dht_tr;
pub mod netns;
mod party;
mod pex;
mod transmission;

/// A third-party client of the matrix.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Client {
    Libtorrent,
    Transmission,
    Aria2,
}

impl Client {
    pub fn name(self) -> &'static str {
        match self {
            Client::Libtorrent => "libtorrent",
            Client::Transmission => "transmission",
            Client::Aria2 => "aria2c",
        }
    }
}

/// Which way the payload flows.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Direction {
    /// Ferro leeches from the client.
    ToFerro,
    /// The client leeches from Ferro.
    FromFerro,
}

/// One matrix cell's result.
pub enum Outcome {
    Pass,
    Fail,
    NotApplicable,
}

/// One printed row.
pub struct Row {
    pub case: String,
    pub client: String,
    pub direction: String,
    pub outcome: Outcome,
    pub secs: f64,
    pub mbps: Option<f64>,
    pub note: String,
}

/// What a passing case measured.
pub struct Measured {
    /// Seconds from the leecher's start to its completion.
    pub secs: f64,
    /// Payload bytes the measured leecher(s) verified.
    pub bytes: u64,
    pub note: String,
}

/// What every case gets: the binary, its scratch dir, the payloads.
pub struct Ctx {
    pub ferro: PathBuf,
    pub work: PathBuf,
    /// A single file (`single/payload.bin`) and its sha256.
    pub single: cases::Payload,
    /// A multi-file tree with odd sizes and an empty file (`multi/...`).
    pub multi: cases::Payload,
    next: std::cell::Cell<usize>,
}

impl Ctx {
    /// The payloads written under `work`.
    pub fn new(ferro: &Path, work: &Path, mib: u64) -> Result<Ctx> {
        Ok(Ctx {
            ferro: ferro.to_path_buf(),
            work: work.to_path_buf(),
            single: cases::Payload::single(work, mib)?,
            multi: cases::Payload::multi(work, mib)?,
            next: std::cell::Cell::new(0),
        })
    }

    /// A fresh directory for one row.
    pub fn row_dir(&self, name: &str) -> Result<PathBuf> {
        let n = self.next.get();
        self.next.set(n + 1);
        let d = self.work.join(format!("{n:02}-{name}"));
        std::fs::create_dir_all(&d).map_err(|e| e.to_string())?;
        Ok(d)
    }
}

/// Runs every matrix cell whose label contains `filter`; returns the rows.
/// The cells that need distinct addresses run meanwhile in a private
/// network namespace (`netns.rs`), started first and joined at the end, so
/// their long PEX timers add nothing to the run's length.
pub fn run(ferro: &Path, work: &Path, filter: &str, mib: u64) -> Result<Vec<Row>> {
    let all: Vec<cells::Cell> = cells::cells()
        .into_iter()
        .filter(|c| c.label().contains(filter))
        .collect();
    let background = if all.iter().any(|c| c.netns) {
        Some(netns::start(ferro, &work.join("netns"), filter, mib))
    } else {
        None
    };
    let ctx = Ctx::new(ferro, work, mib)?;
    let mut rows = Vec::new();
    for cell in &all {
        if !cell.netns {
            rows.push(run_cell(&ctx, cell));
        }
    }
    let mut from_netns = match background {
        Some(Ok(b)) => b.finish(),
        Some(Err(why)) => {
            println!("    network namespace unavailable: {why}");
            all.iter()
                .filter(|c| c.netns)
                .map(|c| Row {
                    outcome: Outcome::NotApplicable,
                    note: format!("needs a private network namespace (unshare -n) for distinct addresses: {why}"),
                    ..row_of(c)
                })
                .collect()
        }
        None => Vec::new(),
    };
    // Back in the table's order.
    let mut ordered = Vec::new();
    let mut local = rows.into_iter();
    for cell in &all {
        if cell.netns {
            let label = cell.label();
            match from_netns.iter().position(|r| row_label(r) == label) {
                Some(i) => ordered.push(from_netns.swap_remove(i)),
                None => ordered.push(Row {
                    outcome: Outcome::Fail,
                    note: "the network-namespace run reported no row for this cell".into(),
                    ..row_of(cell)
                }),
            }
        } else if let Some(r) = local.next() {
            ordered.push(r);
        }
    }
    Ok(ordered)
}

/// A row for `cell` with nothing measured yet.
fn row_of(cell: &cells::Cell) -> Row {
    Row {
        case: cell.case.to_owned(),
        client: cell.client.to_owned(),
        direction: cell.direction.clone(),
        outcome: Outcome::NotApplicable,
        secs: 0.0,
        mbps: None,
        note: String::new(),
    }
}

fn row_label(r: &Row) -> String {
    format!("{} {} {}", r.case, r.client, r.direction)
}

/// Runs one cell and returns its row.
fn run_cell(ctx: &Ctx, cell: &cells::Cell) -> Row {
    println!("=== matrix: {}", cell.label());
    let start = Instant::now();
    let (outcome, mbps, note) = match (cell.run)(ctx) {
        Ok(m) => {
            let mbps = (m.secs > 0.0).then(|| m.bytes as f64 / 1e6 / m.secs);
            (Outcome::Pass, mbps, m.note)
        }
        Err(e) => {
            println!("    FAIL: {e}");
            (Outcome::Fail, None, e)
        }
    };
    Row {
        outcome,
        secs: start.elapsed().as_secs_f64(),
        mbps,
        note,
        ..row_of(cell)
    }
}

/// Prints the rows as a Markdown table (docs/interop.md holds the last one).
pub fn print_table(rows: &[Row]) {
    println!("\n| case | client | direction | result | secs | MB/s | note |");
    println!("|---|---|---|---|---:|---:|---|");
    for r in rows {
        let result = match r.outcome {
            Outcome::Pass => "PASS",
            Outcome::Fail => "FAIL",
            Outcome::NotApplicable => "N/A",
        };
        let mbps = r
            .mbps
            .map(|m| format!("{m:.1}"))
            .unwrap_or_else(|| "-".into());
        let secs = match r.outcome {
            Outcome::NotApplicable => "-".into(),
            _ => format!("{:.1}", r.secs),
        };
        let note: String = r.note.replace('|', "/").chars().take(160).collect();
        println!(
            "| {} | {} | {} | {result} | {secs} | {mbps} | {note} |",
            r.case, r.client, r.direction
        );
    }
}
