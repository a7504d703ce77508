//! What the swarm tasks (`e2e`, `chaos`, `bench-swarm`) share: the release `ferro`
//! binary, a scratch directory, child processes stopped by PID on drop, free
//! loopback ports, a `ferro tracker`, `ferro create`, `ferro seed` and
//! `ferro download`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Result, cargo, root, run_output, run_status};

pub const MIB: u64 = 1024 * 1024;

/// A child process, killed (by PID) and reaped when dropped.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// The payload size from `--mib N`, or `default_mib`.
pub fn size_arg(args: &[String], default_mib: u64) -> Result<u64> {
    let mib = match args.iter().position(|a| a == "--mib") {
        Some(i) => args
            .get(i + 1)
            .and_then(|s| s.parse().ok())
            .ok_or("--mib N")?,
        None => default_mib,
    };
    Ok(mib * MIB)
}

/// Builds `ferro` in release mode and returns its path.
pub fn release_ferro() -> Result<PathBuf> {
    build_ferro(true)
}

/// Builds `ferro` in release mode and returns its path; with `release`
/// false, the dev binary `cargo test --workspace` already built is used as
/// it is (built only if missing: a `cargo build` with other features would
/// rebuild half the workspace).
pub fn build_ferro(release: bool) -> Result<PathBuf> {
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root().join("target"));
    let bin = target.join(if release {
        "release/ferro"
    } else {
        "debug/ferro"
    });
    if release || !bin.is_file() {
        let mut cmd = cargo();
        cmd.args(["build", "-p", "ferro"]);
        if release {
            cmd.arg("--release");
        }
        run_status(&mut cmd)?;
    }
    Ok(bin)
}

/// Runs `f` in a fresh scratch directory named after `task`, removed afterwards.
pub fn in_scratch_dir(task: &str, f: impl FnOnce(&Path) -> Result) -> Result {
    let work = std::env::temp_dir().join(format!("ferro-{task}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let result = f(&work);
    let _ = std::fs::remove_dir_all(&work);
    result
}

/// Starts `ferro tracker --http 127.0.0.1:PORT --interval 5 EXTRA...`.
pub fn start_tracker(ferro: &Path, extra: &[&str]) -> Result<(Guard, u16)> {
    let port = free_port()?;
    let child = Command::new(ferro)
        .args([
            "tracker",
            "--http",
            &format!("127.0.0.1:{port}"),
            "--interval",
            "5",
        ])
        .args(extra)
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    Ok((Guard(child), port))
}

/// `ferro create --piece-length PIECE -t http://127.0.0.1:PORT/announce -o OUT PAYLOAD`.
pub fn create_torrent(
    ferro: &Path,
    piece_length: &str,
    tracker_port: u16,
    out: &Path,
    payload: &Path,
) -> Result {
    run_status(
        Command::new(ferro)
            .args(["create", "--piece-length", piece_length, "-t"])
            .arg(format!("http://127.0.0.1:{tracker_port}/announce"))
            .arg("-o")
            .arg(out)
            .arg(payload)
            .stdout(Stdio::null()),
    )
}

/// Writes DIR/payload: a multi-file tree of `size` pseudo-random bytes whose
/// pieces cross file boundaries (with an empty file).
pub fn write_payload(dir: &Path, size: u64) -> Result {
    let sizes = [
        ("payload/a.bin", size / 3 + 12_345),
        ("payload/empty.txt", 0),
        ("payload/sub/b.bin", size / 2 + 777),
        (
            "payload/sub/c.bin",
            size - size / 3 - 12_345 - size / 2 - 777,
        ),
    ];
    write_files(dir, &sizes, 0x9e37_79b9_7f4a_7c15)
}

/// Writes `files` (relative path, length) of pseudo-random bytes under `dir`.
pub fn write_files(dir: &Path, files: &[(&str, u64)], seed: u64) -> Result {
    use std::io::Write;
    let mut x = seed | 1;
    for (name, len) in files {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        let mut f = std::io::BufWriter::new(
            std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?,
        );
        let mut left = *len;
        let mut buf = vec![0u8; 1 << 16];
        while left > 0 {
            for chunk in buf.chunks_mut(8) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
            }
            let n = left.min(buf.len() as u64) as usize;
            f.write_all(&buf[..n]).map_err(|e| e.to_string())?;
            left -= n as u64;
        }
        f.flush().map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// `sha256sum` of every file under DIR/payload, sorted, one line each.
pub fn sha256s(dir: &Path) -> Result<String> {
    let mut files = Vec::new();
    let mut stack = vec![dir.join("payload")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).map_err(|e| e.to_string())? {
            let p = e.map_err(|e| e.to_string())?.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    files.sort();
    let mut out = String::new();
    for f in files {
        let line = run_output(Command::new("sha256sum").arg(&f))?;
        let hash = line
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned();
        let rel = f.strip_prefix(dir).map_err(|e| e.to_string())?;
        out.push_str(&format!("{hash}  {}\n", rel.display()));
    }
    Ok(out)
}

/// A number field of a JSON line, without a JSON parser.
pub fn field(line: &str, name: &str) -> Option<u64> {
    let key = format!("\"{name}\":");
    let rest = &line[line.find(&key)? + key.len()..];
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// `ferro download TORRENT -o OUT --port 0 --json --no-dht EXTRA...` with
/// its stdout piped (stderr is the caller's choice).
pub fn download_command(bin: &Path, torrent: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new(bin);
    cmd.arg("download")
        .arg(torrent)
        .arg("-o")
        .arg(out)
        .args(["--port", "0", "--json", "--no-dht"])
        .args(extra)
        .stdout(Stdio::piped());
    cmd
}

/// Starts `ferro download TORRENT -o OUT --port 0 --json --no-dht EXTRA...`
/// with its stdout piped.
pub fn download(bin: &Path, torrent: &Path, out: &Path, extra: &[&str]) -> Result<Child> {
    download_command(bin, torrent, out, extra)
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start ferro download: {e}"))
}

/// `ferro seed TORRENT DIR --port PORT --json`.
pub fn seed_command(ferro: &Path, torrent: &Path, dir: &Path, port: u16) -> Command {
    let mut cmd = Command::new(ferro);
    cmd.arg("seed")
        .arg(torrent)
        .arg(dir)
        .args(["--port", &port.to_string(), "--json"]);
    cmd
}

/// `ferro seed TORRENT DIR --json --no-dht` on a free port; returns it and
/// the port.
pub fn start_seeder(ferro: &Path, torrent: &Path, dir: &Path) -> Result<(Guard, u16)> {
    let port = free_port()?;
    let child = seed_command(ferro, torrent, dir, port)
        .arg("--no-dht")
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    Ok((Guard(child), port))
}

/// A `ferro tracker` and one `ferro seed` on 127.0.0.1 (the seeder is
/// stopped first).
pub struct Swarm {
    pub seeder: Guard,
    pub seed_port: u16,
    pub tracker: Guard,
    pub tracker_port: u16,
}

/// Writes SEED_DIR/payload of `size` bytes ([`write_payload`]), starts a
/// tracker, creates TORRENT for it with `piece_length`, and seeds it.
pub fn start_swarm(
    ferro: &Path,
    seed_dir: &Path,
    size: u64,
    torrent: &Path,
    piece_length: &str,
) -> Result<Swarm> {
    write_payload(seed_dir, size)?;
    let (tracker, tracker_port) = start_tracker(ferro, &[])?;
    create_torrent(
        ferro,
        piece_length,
        tracker_port,
        torrent,
        &seed_dir.join("payload"),
    )?;
    let (seeder, seed_port) = start_seeder(ferro, torrent, seed_dir)?;
    Ok(Swarm {
        seeder,
        seed_port,
        tracker,
        tracker_port,
    })
}

/// Waits for a download to exit 0 and returns its last JSON line.
pub fn finish(mut child: Child, what: &str, timeout: Duration) -> Result<String> {
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let reader = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(|l| l.ok())
            .last()
            .unwrap_or_default()
    });
    let start = Instant::now();
    // Bounded by `timeout`.
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            let last = reader.join().unwrap_or_default();
            return if status.success() {
                Ok(last)
            } else {
                Err(format!("{what} failed: {status}; last line {last}"))
            };
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            return Err(format!("{what} did not finish in {timeout:?}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What the disk and resume checks need to know of a torrent.
pub struct TorrentSummary {
    /// The info-hash, 40 lowercase hex digits.
    pub info_hash: String,
    pub piece_count: u64,
    pub file_count: usize,
}

/// `ferro info --json TORRENT`.
pub fn run_ferro_info(ferro: &Path, torrent: &Path) -> Result<TorrentSummary> {
    let text = run_output(Command::new(ferro).args(["info", "--json"]).arg(torrent))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("ferro info --json: {e}"))?;
    Ok(TorrentSummary {
        info_hash: v["info_hash"]
            .as_str()
            .ok_or("ferro info: no info_hash")?
            .to_owned(),
        piece_count: v["piece_count"]
            .as_u64()
            .ok_or("ferro info: no piece_count")?,
        file_count: v["files"].as_array().map_or(0, Vec::len),
    })
}
