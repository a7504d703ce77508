//! `cargo xtask e2e`: the 64 MiB end-to-end run with the release binary.
//!
//! On 127.0.0.1 only: `ferro tracker`, one `ferro seed`, three
//! `ferro download` leechers of a multi-file payload whose pieces cross file
//! boundaries (with an empty file). The first leecher is rate limited, killed
//! with SIGKILL halfway and restarted: it must finish without downloading
//! its verified pieces again. Every copy must have the seed's sha256.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use crate::Result;
use crate::swarm::{
    MIB, download, field, finish, in_scratch_dir, release_ferro, sha256s, size_arg, start_swarm,
};

pub fn run(args: &[String]) -> Result {
    let size = size_arg(args, 64)?;
    let bin = release_ferro()?;
    in_scratch_dir("e2e", |work| scenario(&bin, work, size))
}

fn scenario(bin: &Path, work: &Path, size: u64) -> Result {
    let started = Instant::now();
    let seed_dir = work.join("seed");
    let torrent = work.join("e2e.torrent");
    let swarm = start_swarm(bin, &seed_dir, size, &torrent, "256K")?;
    let (tracker_port, seed_port) = (swarm.tracker_port, swarm.seed_port);
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
