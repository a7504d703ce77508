//! The references of the CPU goal of `cargo xtask bench-swarm` (issue #5:
//! a leecher's CPU per GiB against the cost of SHA-1 over that GiB).
//!
//! `cargo run --release -p ferro-client --example cpu_reference -- sha1 FILE`
//! prints one line: `memory <cpu s> read+hash <cpu s> bytes <n> check <x>`,
//! the cost of Ferro's own SHA-1 (the `sha1` crate, which uses the CPU's
//! SHA instructions where present) over FILE, one 1 MiB piece at a time, on
//! one thread:
//!
//! - `memory`: the whole file is first read into memory, then hashed; only
//!   the hashing is timed. The strictest reference (no I/O at all).
//! - `read+hash`: the file read with `read` (from the page cache when warm)
//!   into a 1 MiB buffer and hashed piece by piece, as a checker would.
//!
//! CPU time is this thread's, from `/proc/thread-self/schedstat` (in
//! nanoseconds), so other processes on a loaded machine do not count; where
//! that file is missing, wall time is used.
//!
//! `... -- recv PORT` listens on 127.0.0.1:PORT, accepts one connection,
//! reads it to its end in 1 MiB reads and discards the bytes, then prints
//! `received <n>`: run under `/usr/bin/time`, the least CPU any TCP leecher
//! spends receiving that many bytes on this machine (the kernel's copy out
//! of the socket and its wake-ups), without hashing or writing.

use std::io::Read;
use std::time::Instant;

use sha1::{Digest, Sha1};

const PIECE: usize = 1 << 20;

/// This thread's CPU time in seconds, or `None` without schedstat.
fn thread_cpu() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns as f64 / 1e9)
}

/// Runs `f` and returns the CPU (or wall) seconds it took and its result.
fn measure<T>(f: impl FnOnce() -> T) -> (f64, T) {
    let (c0, w0) = (thread_cpu(), Instant::now());
    let out = f();
    let secs = match (c0, thread_cpu()) {
        (Some(a), Some(b)) => b - a,
        _ => w0.elapsed().as_secs_f64(),
    };
    (secs, out)
}

fn hash_pieces(data: &[u8]) -> u8 {
    // Fold the digests so the work cannot be optimised away.
    data.chunks(PIECE)
        .map(|p| Sha1::digest(p)[0])
        .fold(0, |a, b| a ^ b)
}

/// `recv PORT`: one connection's bytes, discarded.
fn receive(port: &str) -> std::io::Result<()> {
    let port: u16 = port
        .parse()
        .map_err(|_| std::io::Error::other(format!("bad port {port:?}")))?;
    let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
    let (mut conn, _) = listener.accept()?;
    let mut buf = vec![0u8; PIECE];
    let mut total = 0u64;
    // Bounded by the sender's end of stream.
    loop {
        match conn.read(&mut buf)? {
            0 => break,
            n => total += n as u64,
        }
    }
    println!("received {total}");
    Ok(())
}

fn main() -> std::io::Result<()> {
    let usage = || std::io::Error::other("usage: cpu_reference sha1 FILE | recv PORT");
    let mut args = std::env::args_os().skip(1);
    let (mode, arg) = (
        args.next().ok_or_else(usage)?,
        args.next().ok_or_else(usage)?,
    );
    match mode.to_str() {
        Some("sha1") => hash_file(&arg),
        Some("recv") => receive(&arg.to_string_lossy()),
        _ => Err(usage()),
    }
}

/// `sha1 FILE`: the two SHA-1 references.
fn hash_file(path: &std::ffi::OsStr) -> std::io::Result<()> {
    let data = std::fs::read(path)?;
    let (memory, a) = measure(|| hash_pieces(&data));
    let bytes = data.len();
    drop(data);
    let (read_hash, b) = measure(|| -> std::io::Result<u8> {
        let mut f = std::fs::File::open(path)?;
        let mut buf = vec![0u8; PIECE];
        let mut acc = 0;
        // Bounded by the file's size.
        loop {
            let mut n = 0;
            while n < PIECE {
                let k = f.read(&mut buf[n..])?;
                if k == 0 {
                    break;
                }
                n += k;
            }
            if n == 0 {
                return Ok(acc);
            }
            acc ^= Sha1::digest(&buf[..n])[0];
        }
    });
    let b = b?;
    println!(
        "memory {memory:.3} read+hash {read_hash:.3} bytes {bytes} check {:02x}",
        a ^ b
    );
    Ok(())
}
