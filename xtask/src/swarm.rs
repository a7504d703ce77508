//! What the swarm tasks (`e2e`, `bench-swarm`) share: the release `ferro`
//! binary, a scratch directory, child processes stopped by PID on drop, free
//! loopback ports, a `ferro tracker`, and `ferro create`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::{Result, cargo, root, run_status};

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
    run_status(cargo().args(["build", "--release", "-p", "ferro"]))?;
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root().join("target"));
    Ok(target.join("release/ferro"))
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
