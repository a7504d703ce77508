//! `cargo xtask bench-swarm`: one seeder → one leecher on 127.0.0.1, for
//! {Ferro, libtorrent} seeders × {Ferro, libtorrent, aria2c} leechers, over
//! a 1 GiB payload, through a `ferro tracker`. Reports the leecher's wall
//! MB/s, CPU seconds (user + system) and peak RSS, and the CPU cost of
//! SHA-1 over the same bytes (coreutils `sha1sum`).
//!
//! Settings: libtorrent with uTP off, `allow_multiple_connections_per_ip`,
//! DHT/LSD/UPnP/NAT-PMP off (xtask/interop/client_lt_peer.py); aria2c with
//! DHT, LPD and PEX off, bound to 127.0.0.1, no file preallocation.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::swarm::{
    Guard, MIB, create_torrent, free_port, in_scratch_dir, release_ferro, size_arg, start_tracker,
};
use crate::{Result, root};

fn wait_port(port: u16, timeout: Duration) -> Result {
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if start.elapsed() > timeout {
            return Err(format!("nothing listens on port {port}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// A leecher's measurements, from `/usr/bin/time -f "%U %S %M"`.
struct Measure {
    wall: f64,
    cpu: f64,
    /// The kernel's share of `cpu` (socket reads, page-cache writes).
    sys: f64,
    rss_kib: u64,
}

fn timed(mut cmd: Command, timeout: Duration) -> Result<Measure> {
    let report = std::env::temp_dir().join(format!("ferro-bench-time-{}", std::process::id()));
    let mut timed = Command::new("/usr/bin/time");
    timed
        .args(["-f", "%U %S %M", "-o"])
        .arg(&report)
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .stdout(Stdio::null());
    if let Some(dir) = cmd.get_current_dir() {
        timed.current_dir(dir);
    }
    cmd = timed;
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run /usr/bin/time: {e}"))?;
    // Bounded by `timeout`.
    let status = loop {
        if let Some(s) = child.try_wait().map_err(|e| e.to_string())? {
            break s;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("leecher did not finish in {timeout:?}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let wall = start.elapsed().as_secs_f64();
    let text = std::fs::read_to_string(&report).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(&report);
    if !status.success() {
        return Err(format!("leecher failed: {status}: {text}"));
    }
    let nums: Vec<f64> = text
        .lines()
        .last()
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|t| t.parse().ok())
        .collect();
    match nums.as_slice() {
        [u, s, m] => Ok(Measure {
            wall,
            cpu: u + s,
            sys: *s,
            rss_kib: *m as u64,
        }),
        _ => Err(format!("cannot read /usr/bin/time output {text:?}")),
    }
}

fn write_payload(path: &Path, size: u64) -> Result {
    use std::io::Write;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).map_err(|e| e.to_string())?);
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut buf = vec![0u8; MIB as usize];
    for _ in 0..size / MIB {
        for chunk in buf.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes());
        }
        f.write_all(&buf).map_err(|e| e.to_string())?;
    }
    f.flush().map_err(|e| e.to_string())
}

/// CPU seconds of SHA-1 over the payload, measured with coreutils'
/// `sha1sum` under GNU time (xtask is a debug build, so not in-process).
fn sha1_cost(path: &Path) -> Result<f64> {
    let mut c = Command::new("sha1sum");
    c.arg(path);
    // Warm the page cache first so the figure is hashing, not reading.
    let _ = Command::new("sha1sum")
        .arg(path)
        .stdout(Stdio::null())
        .status();
    Ok(timed(c, Duration::from_secs(300))?.cpu)
}

pub fn run(args: &[String]) -> Result {
    let size = size_arg(args, 1024)?;
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
    in_scratch_dir("bench-swarm", |work| bench(&ferro, work, size))
}

fn bench(ferro: &Path, work: &Path, size: u64) -> Result {
    let seed_dir = work.join("seed");
    std::fs::create_dir_all(&seed_dir).map_err(|e| e.to_string())?;
    let payload = seed_dir.join("payload.bin");
    write_payload(&payload, size)?;
    let sha1_secs = sha1_cost(&payload)?;
    let (_tracker, tracker_port) = start_tracker(ferro, &["--rate-limit", "0"])?;
    let torrent = work.join("bench.torrent");
    create_torrent(ferro, "1M", tracker_port, &torrent, &payload)?;
    let script = root().join("xtask/interop/client_lt_peer.py");
    let mut rows = Vec::new();
    for seeder in ["ferro", "libtorrent"] {
        let port = free_port()?;
        let child = match seeder {
            "ferro" => Command::new(ferro)
                .arg("seed")
                .arg(&torrent)
                .arg(&seed_dir)
                .args(["--port", &port.to_string(), "--json", "--no-dht"])
                .stdout(Stdio::null())
                .spawn(),
            _ => Command::new("/usr/bin/python3")
                .arg(&script)
                .arg("--torrent")
                .arg(&torrent)
                .arg("--save")
                .arg(&seed_dir)
                .args(["--port", &port.to_string(), "--seed", "--timeout", "900"])
                .stdout(Stdio::null())
                .spawn(),
        }
        .map_err(|e| format!("cannot start the {seeder} seeder: {e}"))?;
        let _seed = Guard(child);
        wait_port(port, Duration::from_secs(120))?;
        // Let it finish checking its data and announce.
        std::thread::sleep(Duration::from_secs(3));
        for leecher in ["ferro", "libtorrent", "aria2c"] {
            let dir = work.join(format!("leech-{seeder}-{leecher}"));
            std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
            let peer = format!("127.0.0.1:{port}");
            let cmd = match leecher {
                "ferro" => {
                    let mut c = Command::new(ferro);
                    c.arg("download")
                        .arg(&torrent)
                        .arg("-o")
                        .arg(&dir)
                        .args(["--port", "0", "--json", "--no-dht", "--peer", &peer]);
                    c
                }
                "libtorrent" => {
                    let mut c = Command::new("/usr/bin/python3");
                    c.arg(&script)
                        .arg("--torrent")
                        .arg(&torrent)
                        .arg("--save")
                        .arg(&dir)
                        .args(["--port", &free_port()?.to_string(), "--peer", &peer])
                        .args(["--exit-on-finish", "--timeout", "600"]);
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
                    ])
                    .arg(&dir)
                    .arg(&torrent);
                    c
                }
            };
            // Flush earlier runs' dirty pages first: otherwise the kernel's
            // writeback throttling lands on whichever leecher runs next.
            let _ = Command::new("sync").status();
            let m = timed(cmd, Duration::from_secs(600))?;
            let got = dir.join("payload.bin");
            let ok = std::fs::metadata(&got)
                .map(|m| m.len() == size)
                .unwrap_or(false)
                && files_equal(&got, &payload)?;
            let _ = std::fs::remove_dir_all(&dir);
            if !ok {
                return Err(format!(
                    "{seeder} → {leecher}: the download differs from the payload"
                ));
            }
            let mbps = size as f64 / 1e6 / m.wall;
            println!(
                "{seeder:>10} → {leecher:<10} {mbps:7.1} MB/s  cpu {:5.2} s (sys {:5.2} s)  rss {:4} MiB",
                m.cpu,
                m.sys,
                m.rss_kib / 1024
            );
            rows.push((seeder, leecher, mbps, m));
        }
    }
    let gib = size as f64 / (1024.0 * MIB as f64);
    println!(
        "\n| seeder → leecher | MB/s | leecher CPU s | of which kernel s | CPU s per GiB | peak RSS MiB |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for (s, l, mbps, m) in &rows {
        println!(
            "| {s} → {l} | {mbps:.1} | {:.2} | {:.2} | {:.2} | {} |",
            m.cpu,
            m.sys,
            m.cpu / gib,
            m.rss_kib / 1024
        );
    }
    println!(
        "\nSHA-1 over the payload: {sha1_secs:.2} s ({:.2} s per GiB, {:.0} MB/s)",
        sha1_secs / gib,
        size as f64 / 1e6 / sha1_secs
    );
    Ok(())
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
