//! `cargo xtask chaos [--rounds N] [--mib N] [--seed S] [--debug] [--disk-only]`: SIGKILL at random
//! moments, then restart, N times; the download must still complete intact.
//!
//! On 127.0.0.1 only: a `ferro tracker`, one `ferro seed` and one
//! `ferro download --json` leecher of the e2e multi-file payload, rate limited
//! so that the whole download takes about 16 s. Each round starts the
//! leecher and kills it with SIGKILL at a moment drawn from a seeded RNG
//! (the seed is printed; `--seed S` replays it):
//!
//! - download rounds: a random delay after the first progress line;
//! - recheck rounds (every third): a random delay in `[0, t)` after spawn,
//!   `t` being how long the previous start took to check the data on disk
//!   (so the kill lands while the files are opened and hashed).
//!
//! A last run completes the download. Assertions (exact):
//!
//! 1. Verified pieces survive a kill: the first progress line of every run
//!    (printed right after the startup check) reports at least as many
//!    verified pieces as the last progress line of any earlier run.
//! 2. Verified pieces are not downloaded again: the final run downloads at
//!    most `missing + 2 * piece_length` bytes, where `missing` is what its
//!    startup check left unverified (`total - verified_bytes + downloaded`
//!    of its first progress line, so a piece that raced into that line is
//!    still accounted for) and the two pieces cover blocks re-requested
//!    after a request timeout.
//! 3. The final run exits 0 and every file has the seed's sha256.
//!
//! Then the disk faults of [`disk`]: a full file system and read-only ones.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

mod disk;

use crate::Result;
use crate::swarm::{
    Guard, MIB, build_ferro, download, field, in_scratch_dir, sha256s, size_arg, start_swarm,
};

/// Piece length of the chaos torrent (the assertions are in pieces).
const PIECE: u64 = 256 * 1024;
/// How long the whole download would take at the leecher's rate limit.
const DOWNLOAD_SECS: u64 = 16;

/// xorshift64*: a tiny seeded RNG, so a failing run can be replayed.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn num_arg(args: &[String], name: &str) -> Result<Option<u64>> {
    match args.iter().position(|a| a == name) {
        Some(i) => args
            .get(i + 1)
            .and_then(|s| s.parse().ok())
            .map(Some)
            .ok_or_else(|| format!("{name} N")),
        None => Ok(None),
    }
}

pub fn run(args: &[String]) -> Result {
    let rounds = num_arg(args, "--rounds")?.unwrap_or(20);
    let size = size_arg(args, 64)?;
    let seed = match num_arg(args, "--seed")? {
        Some(s) => s,
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1),
    };
    println!(
        "chaos: {rounds} rounds, {} MiB, seed {seed} (replay: cargo xtask chaos --rounds {rounds} --mib {} --seed {seed})",
        size / MIB,
        size / MIB
    );
    // `--debug`: target/debug/ferro as `cargo test --workspace` built it (CI's short run).
    let bin = build_ferro(!args.iter().any(|a| a == "--debug"))?;
    in_scratch_dir("chaos", |work| {
        // `--disk-only`: skip the kills (a quick run of the disk faults).
        if !args.iter().any(|a| a == "--disk-only") {
            kills(&bin, work, size, rounds, seed)?;
        }
        disk::disk_full(&bin, work)?;
        disk::read_only(&bin, work)
    })
}

/// A progress line's numbers.
#[derive(Debug, Clone, Copy, Default)]
struct Progress {
    pieces: u64,
    verified_bytes: u64,
    downloaded: u64,
}

impl Progress {
    fn parse(line: &str) -> Option<Self> {
        if !line.contains("\"event\":\"progress\"") {
            return None;
        }
        Some(Progress {
            pieces: field(line, "pieces")?,
            verified_bytes: field(line, "verified_bytes")?,
            downloaded: field(line, "downloaded")?,
        })
    }
}

/// One `ferro download --json` process and its stdout lines.
struct Leecher {
    child: Guard,
    lines: Receiver<String>,
    spawned: Instant,
    first: Option<(Progress, Duration)>,
    last: Option<Progress>,
    finished: Option<String>,
}

impl Leecher {
    fn start(bin: &Path, torrent: &Path, out: &Path, extra: &[&str]) -> Result<Self> {
        let mut child = download(bin, torrent, out, extra)?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let child = Guard(child);
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Ok(Leecher {
            child,
            lines,
            spawned: Instant::now(),
            first: None,
            last: None,
            finished: None,
        })
    }

    fn take(&mut self, line: String) {
        if let Some(p) = Progress::parse(&line) {
            if self.first.is_none() {
                self.first = Some((p, self.spawned.elapsed()));
            }
            self.last = Some(p);
        } else if line.contains("\"event\":\"finished\"") {
            self.finished = Some(line);
        }
    }

    /// Reads lines until `until` (or until stdout closes).
    fn read_until(&mut self, until: Instant) {
        // Bounded by `until`.
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => self.take(line),
                Err(_) => return,
            }
        }
    }

    /// Waits for the first progress line (the state right after the check).
    fn first_line(&mut self, timeout: Duration) -> Result<Progress> {
        let until = Instant::now() + timeout;
        // Bounded by `until`.
        while self.first.is_none() && Instant::now() < until {
            self.read_until(Instant::now() + Duration::from_millis(50));
            if self.exited()? {
                self.read_until(Instant::now() + Duration::from_secs(1));
                break;
            }
        }
        self.first
            .map(|(p, _)| p)
            .ok_or_else(|| format!("no progress line within {timeout:?}"))
    }

    fn exited(&mut self) -> Result<bool> {
        Ok(self
            .child
            .0
            .try_wait()
            .map_err(|e| e.to_string())?
            .is_some())
    }

    /// SIGKILL, then the lines it printed before dying.
    fn kill(mut self) -> Result<Self> {
        self.child.0.kill().map_err(|e| e.to_string())?;
        let _ = self.child.0.wait();
        // The pipe closes with the process: read what is left.
        self.read_until(Instant::now() + Duration::from_secs(5));
        Ok(self)
    }
}

fn kills(bin: &Path, work: &Path, size: u64, rounds: u64, seed: u64) -> Result {
    let started = Instant::now();
    let mut rng = Rng::new(seed);
    let seed_dir = work.join("seed");
    let torrent = work.join("chaos.torrent");
    let piece_length = format!("{}K", PIECE / 1024);
    let swarm = start_swarm(bin, &seed_dir, size, &torrent, &piece_length)?;
    let seed_port = swarm.seed_port;
    let expected = sha256s(&seed_dir)?;
    let piece_count = size.div_ceil(PIECE);
    let rate = format!("{}K", (size / DOWNLOAD_SECS / 1024).max(64));
    let peer = format!("127.0.0.1:{seed_port}");
    let extra = ["--peer", peer.as_str(), "--download-limit", rate.as_str()];
    let out = work.join("leech");

    // The most pieces any run has shown verified so far.
    let mut floor = 0u64;
    // How long the last start took to print its first line (open + check).
    let mut check_time = Duration::from_millis(300);
    let (mut in_check, mut in_download) = (0, 0);
    for round in 0..rounds {
        let mut l = Leecher::start(bin, &torrent, &out, &extra)?;
        let recheck_round = round % 3 == 2;
        if recheck_round {
            let delay = check_time.mul_f64(rng.unit());
            l.read_until(l.spawned + delay);
        } else {
            let first = l.first_line(Duration::from_secs(30))?;
            check_floor(round, first, floor)?;
            // Spread the kills over what is left, so that the rounds
            // together cover about the whole download.
            let left = piece_count.saturating_sub(first.pieces) as f64 / piece_count as f64;
            let kills_left = (round..rounds).filter(|r| r % 3 != 2).count() as f64;
            let mean = Duration::from_secs(DOWNLOAD_SECS).mul_f64(left / (kills_left + 1.0));
            let delay = mean.mul_f64(0.3 + 1.4 * rng.unit());
            l.read_until(Instant::now() + delay);
        }
        let alive = !l.exited()?;
        let l = l.kill()?;
        if let Some((first, took)) = l.first {
            check_floor(round, first, floor)?;
            check_time = took;
        }
        let last = l.last.map(|p| p.pieces).unwrap_or(0);
        floor = floor.max(last);
        let when = if l.first.is_none() {
            in_check += 1;
            "during startup/recheck"
        } else {
            in_download += 1;
            "during download"
        };
        println!(
            "chaos: round {round}: SIGKILL after {:.0} ms {when}{}; {last}/{piece_count} pieces shown verified",
            l.spawned.elapsed().as_secs_f64() * 1000.0,
            if alive {
                ""
            } else {
                " (it had already exited)"
            },
        );
        if l.finished.is_some() {
            println!("chaos: the download completed before round {round}'s kill");
            break;
        }
    }

    // The last run completes.
    let mut l = Leecher::start(bin, &torrent, &out, &extra)?;
    let first = l.first_line(Duration::from_secs(60))?;
    check_floor(rounds, first, floor)?;
    let deadline = Instant::now() + Duration::from_secs(DOWNLOAD_SECS * 4 + 60);
    // Bounded by `deadline`.
    while !l.exited()? && Instant::now() < deadline {
        l.read_until(Instant::now() + Duration::from_millis(200));
    }
    let status = l.child.0.try_wait().map_err(|e| e.to_string())?;
    l.read_until(Instant::now() + Duration::from_secs(2));
    let Some(status) = status else {
        return Err(format!(
            "the final run did not finish in time; last {:?}",
            l.last
        ));
    };
    let finished = l.finished.clone().ok_or("no finished line")?;
    if !status.success() {
        return Err(format!("the final run failed: {status}; {finished}"));
    }
    let downloaded = field(&finished, "downloaded").ok_or("finished: no downloaded")?;
    let missing = size - first.verified_bytes + first.downloaded;
    println!(
        "chaos: final run: {}/{piece_count} pieces verified at start, downloaded {downloaded} bytes, {missing} were missing",
        first.pieces
    );
    if downloaded > missing + 2 * PIECE {
        return Err(format!(
            "the final run downloaded {downloaded} bytes; only {missing} (+{} slack) were missing: verified pieces were downloaded again",
            2 * PIECE
        ));
    }
    let got = sha256s(&out)?;
    if got != expected {
        return Err(format!("sha256 differs\n{got}\nexpected\n{expected}"));
    }
    println!(
        "chaos: passed in {:.1} s (seed {seed}): {in_download} kills during download, {in_check} during startup/recheck; \
         no verified piece lost or downloaded again; sha256 matches the seed",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Assertion 1: a run starts with every piece an earlier run showed verified.
fn check_floor(round: u64, first: Progress, floor: u64) -> Result {
    if first.pieces < floor {
        return Err(format!(
            "round {round}: started with {} verified pieces, but {floor} were shown verified before the kill",
            first.pieces
        ));
    }
    Ok(())
}
