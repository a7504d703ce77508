//! Running one leecher (or floor) command under GNU time and reading what
//! it printed.

use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{LATE_FIRST_BYTE, PhaseParser, Phases};
use crate::Result;
use crate::swarm::Guard;

/// Lines a child printed on stdout, each with the time it arrived.
pub(super) type Lines = mpsc::Receiver<(Instant, String)>;

/// Reads `child`'s stdout (piped) line by line on a thread.
pub(super) fn watch_lines(child: &mut std::process::Child) -> Lines {
    let (tx, rx) = mpsc::channel();
    if let Some(out) = child.stdout.take() {
        std::thread::spawn(move || {
            // Ends at the child's EOF.
            for line in std::io::BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send((Instant::now(), line)).is_err() {
                    break;
                }
            }
        });
    }
    rx
}

/// Waits (at most `timeout`) for a line satisfying `pred`.
pub(super) fn wait_line(lines: &Lines, timeout: Duration, pred: impl Fn(&str) -> bool) -> Result {
    let deadline = Instant::now() + timeout;
    // Bounded by the deadline.
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok((_, l)) if pred(&l) => return Ok(()),
            Ok(_) => {}
            Err(_) => return Err(format!("no expected output line in {timeout:?}")),
        }
    }
}

/// A leecher's measurements, from `/usr/bin/time -f "%U %S %M"` and its output.
#[derive(Clone, Copy)]
pub(super) struct Measure {
    pub(super) wall: f64,
    pub(super) cpu: f64,
    /// The kernel's share of `cpu` (socket reads, page-cache writes).
    pub(super) sys: f64,
    pub(super) rss_kib: u64,
    pub(super) phases: Option<Phases>,
}

/// Runs `cmd` under GNU time; `progress` turns its stdout lines into phases.
pub(super) fn timed(
    cmd: Command,
    timeout: Duration,
    progress: Option<PhaseParser>,
) -> Result<Measure> {
    timed_logged(cmd, timeout, progress, None)
}

/// [`timed`], with `cmd`'s environment, and its stderr into `log` if given.
pub(super) fn timed_logged(
    cmd: Command,
    timeout: Duration,
    progress: Option<PhaseParser>,
    log: Option<&Path>,
) -> Result<Measure> {
    let report = std::env::temp_dir().join(format!("ferro-bench-time-{}", std::process::id()));
    let mut timed = Command::new("/usr/bin/time");
    timed
        .args(["-f", "%U %S %M", "-o"])
        .arg(&report)
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .stdout(Stdio::piped());
    if let Some(dir) = cmd.get_current_dir() {
        timed.current_dir(dir);
    }
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            timed.env(k, v);
        }
    }
    if let Some(log) = log {
        timed.stderr(std::fs::File::create(log).map_err(|e| e.to_string())?);
    }
    let start = Instant::now();
    let mut child = Guard(
        timed
            .spawn()
            .map_err(|e| format!("cannot run /usr/bin/time: {e}"))?,
    );
    let lines = watch_lines(&mut child.0);
    // Bounded by `timeout`.
    let status = loop {
        if let Some(s) = child.0.try_wait().map_err(|e| e.to_string())? {
            break s;
        }
        if start.elapsed() > timeout {
            return Err(format!("leecher did not finish in {timeout:?}"));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let wall = start.elapsed().as_secs_f64();
    let text = std::fs::read_to_string(&report).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(&report);
    if !status.success() {
        return Err(format!("leecher failed: {status}: {text}"));
    }
    // The reader thread ends at EOF, right after the exit.
    let out: Vec<(f64, String)> =
        std::iter::from_fn(|| lines.recv_timeout(Duration::from_secs(2)).ok())
            .map(|(t, l)| (t.saturating_duration_since(start).as_secs_f64(), l))
            .collect();
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
            phases: progress.and_then(|f| f(&out)),
        }),
        _ => Err(format!("cannot read /usr/bin/time output {text:?}")),
    }
}

/// A first byte later than [`LATE_FIRST_BYTE`] after the leecher was ready
/// is not explained by the transfer: keeps the leecher's log (and a Ferro
/// seeder's, connection events at debug level) in the temporary directory.
pub(super) fn keep_late_logs(m: &Measure, work: &Path, log: &Path, row: &str) -> Result {
    let Some(p) = m.phases else { return Ok(()) };
    if p.first_byte - p.ready <= LATE_FIRST_BYTE {
        return Ok(());
    }
    let keep = std::env::temp_dir().join(format!("ferro-bench-swarm-late-{row}"));
    std::fs::create_dir_all(&keep).map_err(|e| e.to_string())?;
    for (from, name) in [
        (log.to_path_buf(), "leecher.log"),
        (work.join("ferro-seeder.log"), "ferro-seeder.log"),
    ] {
        if from.is_file() {
            std::fs::copy(&from, keep.join(name)).map_err(|e| e.to_string())?;
        }
    }
    println!(
        "{row}: first byte {:.2} s after ready; logs kept in {}",
        p.first_byte - p.ready,
        keep.display()
    );
    Ok(())
}
