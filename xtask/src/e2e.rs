//! `cargo xtask e2e`: the 64 MiB end-to-end run with the release binary.
//!
//! On 127.0.0.1 only: `ferro tracker`, one `ferro seed`, three
//! `ferro download` leechers of a multi-file payload whose pieces cross file
//! boundaries (with an empty file). The first leecher is rate limited, killed
//! with SIGKILL halfway and restarted: it must finish without downloading
//! its verified pieces again. Every copy must have the seed's sha256.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::swarm::{
    Guard, MIB, create_torrent, free_port, in_scratch_dir, release_ferro, size_arg, start_tracker,
};
use crate::{Result, run_output};

fn write_payload(dir: &Path, size: u64) -> Result {
    let p = dir.join("payload");
    std::fs::create_dir_all(p.join("sub")).map_err(|e| e.to_string())?;
    let sizes = [
        ("a.bin", size / 3 + 12_345),
        ("empty.txt", 0),
        ("sub/b.bin", size / 2 + 777),
        ("sub/c.bin", size - size / 3 - 12_345 - size / 2 - 777),
    ];
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for (name, len) in sizes {
        let mut buf = vec![0u8; len as usize];
        for chunk in buf.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
        }
        std::fs::write(p.join(name), buf).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn sha256s(dir: &Path) -> Result<String> {
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
fn field(line: &str, name: &str) -> Option<u64> {
    let key = format!("\"{name}\":");
    let rest = &line[line.find(&key)? + key.len()..];
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

fn download(bin: &Path, torrent: &Path, out: &Path, extra: &[&str]) -> Result<Child> {
    Command::new(bin)
        .arg("download")
        .arg(torrent)
        .arg("-o")
        .arg(out)
        .args(["--port", "0", "--json", "--no-dht"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start ferro download: {e}"))
}

/// Waits for a download to exit 0 and returns its last JSON line.
fn finish(mut child: Child, what: &str, timeout: Duration) -> Result<String> {
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

pub fn run(args: &[String]) -> Result {
    let size = size_arg(args, 64)?;
    let bin = release_ferro()?;
    in_scratch_dir("e2e", |work| scenario(&bin, work, size))
}

fn scenario(bin: &Path, work: &Path, size: u64) -> Result {
    let started = Instant::now();
    let seed_dir = work.join("seed");
    write_payload(&seed_dir, size)?;
    let (_tracker, tracker_port) = start_tracker(bin, &[])?;
    let torrent = work.join("e2e.torrent");
    create_torrent(
        bin,
        "256K",
        tracker_port,
        &torrent,
        &seed_dir.join("payload"),
    )?;
    let seed_port = free_port()?;
    let _seeder = Guard(
        Command::new(bin)
            .arg("seed")
            .arg(&torrent)
            .arg(&seed_dir)
            .args(["--port", &seed_port.to_string(), "--json", "--no-dht"])
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| e.to_string())?,
    );
    let expected = sha256s(&seed_dir)?;
    println!(
        "e2e: {} MiB payload, tracker :{tracker_port}, seeder :{seed_port}",
        size / MIB
    );

    // Leecher 0: slowed down, SIGKILLed halfway, restarted.
    let l0 = work.join("leech0");
    let mut first = download(bin, &torrent, &l0, &["--download-limit", "8M"])?;
    let stdout = first.stdout.take().ok_or("no stdout")?;
    let mut before_kill = 0;
    for line in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
        if let Some(v) = field(&line, "verified_bytes") {
            before_kill = v;
            if v >= size / 2 {
                break;
            }
        }
    }
    first.kill().map_err(|e| e.to_string())?; // SIGKILL
    let _ = first.wait();
    println!(
        "e2e: leecher 0 killed (SIGKILL) with {} MiB verified",
        before_kill / MIB
    );

    let others: Vec<Child> = (1..3)
        .map(|i| download(bin, &torrent, &work.join(format!("leech{i}")), &[]))
        .collect::<Result<_>>()?;
    let again = download(bin, &torrent, &l0, &[])?;
    let t0 = Instant::now();
    let last = finish(again, "restarted leecher 0", Duration::from_secs(120))?;
    let downloaded = field(&last, "downloaded").unwrap_or(u64::MAX);
    println!(
        "e2e: leecher 0 restarted and finished in {:.1} s, downloading {} MiB after the restart",
        t0.elapsed().as_secs_f64(),
        downloaded / MIB
    );
    if downloaded > size - before_kill + 8 * MIB {
        return Err(format!(
            "leecher 0 downloaded {downloaded} bytes after restart; {} were missing",
            size - before_kill
        ));
    }
    for (i, c) in others.into_iter().enumerate() {
        finish(c, "leecher", Duration::from_secs(120))?;
        println!("e2e: leecher {} done", i + 1);
    }
    for i in 0..3 {
        let got = sha256s(&work.join(format!("leech{i}")))?;
        if got != expected {
            return Err(format!(
                "leecher {i}: sha256 differs\n{got}\nexpected\n{expected}"
            ));
        }
    }
    print!("{expected}");
    println!(
        "e2e: passed in {:.1} s: 3 leechers identical to the seed (sha256), resume after SIGKILL ok",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
