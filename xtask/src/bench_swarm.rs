//! `cargo xtask bench-swarm`: one seeder → one leecher on 127.0.0.1, for
//! {Ferro, libtorrent} seeders × {Ferro, libtorrent, aria2c} leechers, over
//! a 1 GiB payload. Reports the leecher's wall MB/s, CPU seconds (user +
//! system), peak RSS and, for Ferro and libtorrent leechers, where the wall
//! time went (startup, first byte, last piece verified, exit); the CPU cost
//! of SHA-1 over the same bytes (Ferro's own `sha1` crate over the bytes in
//! memory, the reference of issue #5's CPU goal, and reading them from a
//! warm page cache; coreutils `sha1sum`; `ferro create`); a `dd` row writing
//! the same GiB, the floor of what the kernel's page cache costs on this
//! machine; and a `tcp` row receiving the same GiB over loopback TCP and
//! discarding it (ferro-client's `cpu_reference` example), the floor of any
//! TCP leecher's CPU before it hashes or writes a byte.
//!
//! Fairness: both seeders run for the whole run, each announcing to its own
//! `ferro tracker` (so a leecher only ever finds the seeder of its row).
//! Before every row the leecher's output is deleted, dirty pages are written
//! back (`sync`) and the page cache is dropped (`echo 1 >
//! /proc/sys/vm/drop_caches`: this needs root, as on the project's machines;
//! without it a warning is printed and the rows are less comparable), then
//! the payload is read once so every seeder serves from a warm cache. So no
//! row pays for an earlier row's writeback. `--repeat N` runs every row N
//! times, the row order rotating each round, and reports medians.
//!
//! Settings: libtorrent with uTP off, `allow_multiple_connections_per_ip`,
//! DHT/LSD/UPnP/NAT-PMP off (xtask/interop/client_lt_peer.py); aria2c with
//! DHT, LPD and PEX off, bound to 127.0.0.1, no file preallocation.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::swarm::{
    Guard, MIB, create_torrent, free_port, in_scratch_dir, release_ferro, size_arg, start_tracker,
};
use crate::{Result, root};

mod measure;
mod phases;
mod reference;
use measure::{Measure, keep_late_logs, timed, timed_logged, wait_line, watch_lines};
use phases::{ferro_phases, lt_phases};
use reference::{cpu_reference, sha1_reference, tcp_floor};

const SEEDERS: [&str; 2] = ["ferro", "libtorrent"];
const LEECHERS: [&str; 3] = ["ferro", "libtorrent", "aria2c"];
/// Seconds from ready to first byte beyond which a row's logs are kept.
const LATE_FIRST_BYTE: f64 = 2.0;

/// Turns a leecher's output lines (seconds from its start, text) into phases.
type PhaseParser = fn(&[(f64, String)]) -> Option<Phases>;

/// Where a leecher's wall time went, in seconds from its start.
#[derive(Clone, Copy, Default)]
struct Phases {
    /// Its first line of output (session up, torrent added).
    ready: f64,
    /// Estimated from the first two progress samples with data.
    first_byte: f64,
    /// The last piece verified (`completed` / `FINISHED`).
    complete: f64,
}

/// Writes back dirty pages, drops the page cache (root only) and reads
/// `warm` so the seeders serve it from memory. Returns whether the cache
/// could be dropped.
fn settle(warm: &Path) -> Result<bool> {
    let _ = Command::new("sync").status();
    let dropped = std::fs::write("/proc/sys/vm/drop_caches", "1").is_ok();
    use std::io::Read;
    let mut f = std::fs::File::open(warm).map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; MIB as usize];
    // Bounded by the file's size.
    while f.read(&mut buf).map_err(|e| e.to_string())? > 0 {}
    Ok(dropped)
}

struct Options {
    size: u64,
    repeat: usize,
    /// `seeder:leecher` pairs to run (all when empty); `dd` for the floor row.
    rows: Vec<String>,
}

pub fn run(args: &[String]) -> Result {
    let size = size_arg(args, 1024)?;
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
    };
    let repeat = match value("--repeat") {
        Some(n) => n.parse().map_err(|_| "--repeat N")?,
        None => 1,
    };
    let rows = value("--rows")
        .map(|r| r.split(',').map(str::to_owned).collect())
        .unwrap_or_default();
    for (bin, why) in [
        ("/usr/bin/time", "GNU time (package `time`)"),
        ("/usr/bin/aria2c", "aria2c (package `aria2`)"),
    ] {
        if !Path::new(bin).exists() {
            return Err(format!(
                "{bin} is missing: install {why}, e.g. cargo xtask install-clients"
            ));
        }
    }
    let ferro = release_ferro()?;
    let reference = cpu_reference()?;
    let opts = Options {
        size,
        repeat: repeat.max(1),
        rows,
    };
    in_scratch_dir("bench-swarm", |work| bench(&ferro, &reference, work, &opts))
}

/// A seeder process, its tracker and the torrent that announces to it.
struct Seeder {
    _tracker: Guard,
    _proc: Guard,
    torrent: PathBuf,
    port: u16,
}

fn start_seeder(ferro: &Path, kind: &str, work: &Path, payload: &Path) -> Result<Seeder> {
    let seed_dir = payload.parent().unwrap_or(work);
    let (tracker, tracker_port) = start_tracker(ferro, &["--rate-limit", "0"])?;
    let torrent = work.join(format!("{kind}.torrent"));
    create_torrent(ferro, "1M", tracker_port, &torrent, payload)?;
    let port = free_port()?;
    let mut cmd = match kind {
        "ferro" => {
            let mut c = crate::swarm::seed_command(ferro, &torrent, seed_dir, port);
            c.arg("--no-dht");
            // Connection events only (a few lines per leecher): the
            // evidence when a row's first byte is late.
            c.env("RUST_LOG", "ferro_client=debug");
            let log =
                std::fs::File::create(work.join("ferro-seeder.log")).map_err(|e| e.to_string())?;
            c.stderr(log);
            c
        }
        _ => {
            let mut c = Command::new("/usr/bin/python3");
            c.arg(root().join("xtask/interop/client_lt_peer.py"));
            c.arg("--torrent").arg(&torrent).arg("--save").arg(seed_dir);
            c.args(["--port", &port.to_string(), "--seed", "--timeout", "3600"]);
            c
        }
    };
    let mut proc = Guard(
        cmd.stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start the {kind} seeder: {e}"))?,
    );
    let lines = watch_lines(&mut proc.0);
    // Ready once it has checked its data: Ferro's first progress line
    // (printed after the check), or libtorrent's progress at 1.
    wait_line(&lines, Duration::from_secs(300), |l| {
        l.contains("\"event\":\"progress\"") || l.starts_with("PROGRESS 1.000")
    })
    .map_err(|e| format!("{kind} seeder: {e}"))?;
    // Keep draining its output so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Ok(Seeder {
        _tracker: tracker,
        _proc: proc,
        torrent,
        port,
    })
}

fn leecher_cmd(ferro: &Path, leecher: &str, s: &Seeder, dir: &Path) -> Result<Command> {
    let peer = format!("127.0.0.1:{}", s.port);
    Ok(match leecher {
        "ferro" => {
            let mut c = Command::new(ferro);
            c.arg("download").arg(&s.torrent).arg("-o").arg(dir);
            c.args(["--port", "0", "--json", "--no-dht", "--peer", &peer]);
            c.env("RUST_LOG", "ferro_client=debug");
            c
        }
        "libtorrent" => {
            let mut c = Command::new("/usr/bin/python3");
            c.arg(root().join("xtask/interop/client_lt_peer.py"));
            c.arg("--torrent").arg(&s.torrent).arg("--save").arg(dir);
            c.args(["--port", &free_port()?.to_string(), "--peer", &peer]);
            c.args(["--exit-on-finish", "--timeout", "600"]);
            c
        }
        _ => {
            let mut c = Command::new("/usr/bin/aria2c");
            c.args([
                "--enable-dht=false",
                "--enable-dht6=false",
                "--bt-enable-lpd=false",
                "--enable-peer-exchange=false",
                "--interface=127.0.0.1",
                "--seed-time=0",
                "--file-allocation=none",
                "--summary-interval=0",
                "--console-log-level=warn",
                "--listen-port",
                &free_port()?.to_string(),
                "--dir",
            ]);
            c.arg(dir).arg(&s.torrent);
            c
        }
    })
}

fn bench(ferro: &Path, reference: &Path, work: &Path, opts: &Options) -> Result {
    let size = opts.size;
    let seed_dir = work.join("seed");
    std::fs::create_dir_all(&seed_dir).map_err(|e| e.to_string())?;
    let payload = seed_dir.join("payload.bin");
    crate::swarm::write_files(&seed_dir, &[("payload.bin", size)], 0x2545_f491_4f6c_dd1d)?;
    let wanted = |row: &str| opts.rows.is_empty() || opts.rows.iter().any(|r| r == row);

    // SHA-1 over the payload from a warm cache: coreutils, then Ferro's
    // `sha1` crate inside `ferro create` (which also reads the file).
    settle(&payload)?;
    let mut c = Command::new("sha1sum");
    c.arg(&payload);
    let sha1sum = timed(c, Duration::from_secs(300), None)?;
    let mut c = Command::new(ferro);
    c.args(["create", "--piece-length", "1M", "-o"])
        .arg(work.join("hash-only.torrent"))
        .arg(&payload);
    let create = timed(c, Duration::from_secs(300), None)?;
    // Ferro's own SHA-1, in memory and from the warm cache (median of 3).
    let mut refs = Vec::new();
    for _ in 0..3 {
        settle(&payload)?;
        refs.push(sha1_reference(reference, &payload)?);
    }
    let sha1_memory = median(refs.iter().map(|r| r.0).collect());
    let sha1_read = median(refs.iter().map(|r| r.1).collect());

    let mut seeders = Vec::new();
    for kind in SEEDERS {
        if opts.rows.is_empty() || opts.rows.iter().any(|r| r.starts_with(&format!("{kind}:"))) {
            seeders.push((kind, start_seeder(ferro, kind, work, &payload)?));
        }
    }
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    for (s, _) in &seeders {
        for l in LEECHERS {
            if wanted(&format!("{s}:{l}")) {
                pairs.push((s, l));
            }
        }
    }
    if wanted("dd") {
        pairs.push(("dd", "dd"));
    }
    if wanted("tcp") {
        pairs.push(("tcp", "tcp"));
    }
    let mut results: Vec<Vec<Measure>> = vec![Vec::new(); pairs.len()];
    let mut dropped_all = true;
    for round in 0..opts.repeat {
        // Rotate the order each round: no row always runs first or last.
        for n in 0..pairs.len() {
            let i = (n + round) % pairs.len();
            let (seeder, leecher) = pairs[i];
            let dir = work.join("leech");
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
            dropped_all &= settle(&payload)?;
            let got = dir.join("payload.bin");
            let m = if seeder == "dd" {
                let mut c = Command::new("dd");
                c.args(["if=/dev/zero", "bs=1M", "status=none"])
                    .arg(format!("of={}", got.display()))
                    .arg(format!("count={}", size / MIB));
                timed(c, Duration::from_secs(300), None)?
            } else if seeder == "tcp" {
                tcp_floor(reference, &payload)?
            } else {
                let s = &seeders
                    .iter()
                    .find(|(k, _)| *k == seeder)
                    .ok_or("no such seeder")?
                    .1;
                let cmd = leecher_cmd(ferro, leecher, s, &dir)?;
                let progress: Option<PhaseParser> = match leecher {
                    "ferro" => Some(ferro_phases),
                    "libtorrent" => Some(lt_phases),
                    _ => None,
                };
                let log = work.join("leecher.log");
                let m = timed_logged(cmd, Duration::from_secs(600), progress, Some(&log))?;
                keep_late_logs(&m, work, &log, &format!("{seeder}-{leecher}-{round}"))?;
                if !files_equal(&got, &payload)? {
                    return Err(format!(
                        "{seeder} → {leecher}: the download differs from the payload"
                    ));
                }
                m
            };
            let _ = std::fs::remove_dir_all(&dir);
            println!("{}", row_line(seeder, leecher, size, &m));
            results[i].push(m);
        }
    }
    if !dropped_all {
        println!(
            "warning: could not drop the page cache (not root?): rows may bill each other's writeback"
        );
    }
    print_table(&pairs, &results, size, opts.repeat);
    let gib = size as f64 / (1024.0 * MIB as f64);
    println!(
        "\nSHA-1 over the payload with Ferro's sha1 crate, one thread, median of 3: {:.2} s CPU per GiB \
         over the bytes in memory (the reference of the CPU goal), {:.2} s per GiB reading them from \
         a warm page cache too.",
        sha1_memory / gib,
        sha1_read / gib,
    );
    let ferro_rows: Vec<(String, f64)> = pairs
        .iter()
        .zip(&results)
        .filter(|((_, l), ms)| *l == "ferro" && !ms.is_empty())
        .map(|((s, l), ms)| {
            (
                format!("{s} → {l}"),
                median(ms.iter().map(|m| m.cpu / gib).collect()),
            )
        })
        .collect();
    let tcp = pairs
        .iter()
        .zip(&results)
        .find(|((s, _), ms)| *s == "tcp" && !ms.is_empty())
        .map(|(_, ms)| median(ms.iter().map(|m| m.cpu / gib).collect()));
    if let Some(tcp) = tcp {
        let floor = tcp + sha1_memory / gib;
        println!(
            "Floor of any TCP leecher that hashes what it receives (TCP receive only + in-memory \
             SHA-1, writing not counted): {floor:.2} s per GiB = {:.2}x the in-memory SHA-1",
            floor / (sha1_memory / gib).max(1e-3),
        );
    }
    for (row, cpu) in ferro_rows {
        println!(
            "CPU goal (issue #5: a Ferro leecher's CPU per GiB <= 1.3x SHA-1 of that GiB): {row} \
             {cpu:.2} s per GiB = {:.2}x the in-memory SHA-1 ({}), {:.2}x SHA-1 with reading",
            cpu / (sha1_memory / gib).max(1e-3),
            if cpu <= 1.3 * sha1_memory / gib {
                "met"
            } else {
                "not met"
            },
            cpu / (sha1_read / gib).max(1e-3),
        );
    }
    println!(
        "SHA-1 over the payload (warm cache): sha1sum {:.2} s CPU ({:.2} s per GiB, {:.0} MB/s); \
         ferro create (Ferro's sha1 crate, {} threads) {:.2} s CPU ({:.2} s per GiB)",
        sha1sum.cpu,
        sha1sum.cpu / gib,
        size as f64 / 1e6 / sha1sum.cpu.max(1e-3),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        create.cpu,
        create.cpu / gib,
    );
    Ok(())
}

fn row_line(seeder: &str, leecher: &str, size: u64, m: &Measure) -> String {
    let mbps = size as f64 / 1e6 / m.wall;
    let mut s = format!(
        "{seeder:>10} → {leecher:<10} {mbps:7.1} MB/s  cpu {:5.2} s (sys {:5.2} s)  rss {:4} MiB",
        m.cpu,
        m.sys,
        m.rss_kib / 1024
    );
    if let Some(p) = m.phases {
        s += &format!(
            "  ready {:.2} s, first byte {:.2} s, complete {:.2} s, exit {:.2} s",
            p.ready, p.first_byte, p.complete, m.wall
        );
    }
    s
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn print_table(pairs: &[(&str, &str)], results: &[Vec<Measure>], size: u64, repeat: usize) {
    let gib = size as f64 / (1024.0 * MIB as f64);
    let of = |ms: &[Measure], f: &dyn Fn(&Measure) -> f64| median(ms.iter().map(f).collect());
    println!(
        "\nMedians of {repeat} run(s). Phases in seconds from the leecher's start: ready (first output), \
         first byte (estimated), complete (last piece verified), exit.\n"
    );
    println!(
        "| seeder → leecher | MB/s (wall) | MB/s (first byte → complete) | CPU s | of which kernel s | CPU s per GiB | peak RSS MiB | ready | first byte | complete | exit |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for ((s, l), ms) in pairs.iter().zip(results) {
        if ms.is_empty() {
            continue;
        }
        let name = if *s == "dd" {
            "dd 1 MiB blocks (floor)".to_owned()
        } else if *s == "tcp" {
            "TCP receive only (floor)".to_owned()
        } else {
            format!("{s} → {l}")
        };
        let phase = |f: &dyn Fn(&Phases) -> f64| -> String {
            let v: Vec<f64> = ms.iter().filter_map(|m| m.phases.as_ref().map(f)).collect();
            if v.is_empty() {
                "–".into()
            } else {
                format!("{:.2}", median(v))
            }
        };
        let transfer: Vec<f64> = ms
            .iter()
            .filter_map(|m| m.phases)
            .map(|p| size as f64 / 1e6 / (p.complete - p.first_byte).max(1e-3))
            .collect();
        println!(
            "| {name} | {:.1} | {} | {:.2} | {:.2} | {:.2} | {} | {} | {} | {} | {:.2} |",
            of(ms, &|m| size as f64 / 1e6 / m.wall),
            if transfer.is_empty() {
                "–".into()
            } else {
                format!("{:.1}", median(transfer))
            },
            of(ms, &|m| m.cpu),
            of(ms, &|m| m.sys),
            of(ms, &|m| m.cpu / gib),
            of(ms, &|m| m.rss_kib as f64 / 1024.0) as u64,
            phase(&|p| p.ready),
            phase(&|p| p.first_byte),
            phase(&|p| p.complete),
            of(ms, &|m| m.wall),
        );
    }
}

fn files_equal(a: &Path, b: &Path) -> Result<bool> {
    use std::io::Read;
    let mut fa = std::fs::File::open(a).map_err(|e| e.to_string())?;
    let mut fb = std::fs::File::open(b).map_err(|e| e.to_string())?;
    let (mut ba, mut bb) = (vec![0u8; MIB as usize], vec![0u8; MIB as usize]);
    // Bounded by the files' sizes.
    loop {
        let na = read_full(&mut fa, &mut ba)?;
        let nb = read_full(&mut fb, &mut bb)?;
        if na != nb || ba[..na] != bb[..nb] {
            return Ok(false);
        }
        if na == 0 {
            return Ok(true);
        }
    }
    fn read_full(f: &mut std::fs::File, buf: &mut [u8]) -> Result<usize> {
        let mut n = 0;
        while n < buf.len() {
            let k = f.read(&mut buf[n..]).map_err(|e| e.to_string())?;
            if k == 0 {
                break;
            }
            n += k;
        }
        Ok(n)
    }
}
