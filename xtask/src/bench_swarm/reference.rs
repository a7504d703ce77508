//! The references of bench-swarm's CPU goal: Ferro's own SHA-1 over the
//! payload, and the CPU a process spends only receiving it over loopback
//! TCP (both from ferro-client's `cpu_reference` example, release build).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::{Measure, timed};
use crate::swarm::free_port;
use crate::{Result, root, run_output, run_status};

/// Builds ferro-client's `cpu_reference` example (release) and returns its path.
pub(super) fn cpu_reference() -> Result<PathBuf> {
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root().join("target"));
    run_status(crate::cargo().args([
        "build",
        "--release",
        "-p",
        "ferro-client",
        "--example",
        "cpu_reference",
    ]))?;
    Ok(target.join("release/examples/cpu_reference"))
}

/// SHA-1 of the payload with Ferro's `sha1` crate, one thread, CPU seconds:
/// (over the bytes in memory, reading them from the page cache too).
pub(super) fn sha1_reference(reference: &Path, payload: &Path) -> Result<(f64, f64)> {
    let out = run_output(Command::new(reference).arg("sha1").arg(payload))?;
    let words: Vec<&str> = out.split_whitespace().collect();
    let num = |key: &str| -> Result<f64> {
        words
            .iter()
            .position(|w| *w == key)
            .and_then(|i| words.get(i + 1))
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("cpu_reference sha1: no {key} in {out:?}"))
    };
    Ok((num("memory")?, num("read+hash")?))
}

/// The `tcp` row: `cpu_reference recv PORT` under GNU time, fed the payload
/// over loopback by a thread of ours (`std::io::copy` uses `sendfile`).
pub(super) fn tcp_floor(reference: &Path, payload: &Path) -> Result<Measure> {
    let port = free_port()?;
    let mut c = Command::new(reference);
    c.args(["recv", &port.to_string()]);
    let payload = payload.to_path_buf();
    let sender = std::thread::spawn(move || -> Result {
        // Bounded: 200 tries, 25 ms apart, while the receiver starts.
        let mut conn = None;
        for _ in 0..200 {
            match std::net::TcpStream::connect(("127.0.0.1", port)) {
                Ok(s) => {
                    conn = Some(s);
                    break;
                }
                Err(_) => std::thread::sleep(Duration::from_millis(25)),
            }
        }
        let mut conn = conn.ok_or("tcp row: the receiver never listened")?;
        let mut file = std::fs::File::open(&payload).map_err(|e| e.to_string())?;
        std::io::copy(&mut file, &mut conn).map_err(|e| format!("tcp row: {e}"))?;
        Ok(())
    });
    let m = timed(c, Duration::from_secs(300), None);
    sender
        .join()
        .map_err(|_| "tcp row: the sender panicked".to_owned())??;
    m
}
