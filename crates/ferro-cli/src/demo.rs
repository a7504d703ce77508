//! `ferro demo`: a whole swarm in one process, on 127.0.0.1 only.
//!
//! Makes a payload in a temporary directory, starts Ferro's tracker and
//! several Ferro seeders, downloads the payload with the same code and
//! progress display as `ferro download`, re-hashes the result and prints
//! size, time and speed. Touches no file of the user's and no network
//! beyond loopback.

use std::time::Instant;

use ferro_client::storage::{Storage, hashing_threads};
use ferro_client::{AddTorrent, Config, Session};
use ferro_metainfo::TorrentBuilder;
use ferro_tracker::server::{Server, ServerConfig};

use crate::download::{Display, Mode, runtime};
use crate::output::human_size;

/// Arguments of `ferro demo`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Payload size in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 64)]
    size: u64,
    /// Number of seeders.
    #[arg(long, value_name = "N", default_value_t = 3)]
    seeders: usize,
    /// One JSON object per line on stdout.
    #[arg(long)]
    json: bool,
}

/// Deterministic bytes, fast to make (xorshift).
fn fill(buf: &mut [u8], seed: u64) {
    let mut x = seed | 1;
    for chunk in buf.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let bytes = x.to_le_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
}

/// Runs `ferro demo`.
pub(crate) fn run(args: Args) -> crate::Result<()> {
    if args.size == 0 || args.size > 4096 {
        return Err("--size must be between 1 and 4096 MiB".into());
    }
    let seeders = args.seeders.clamp(1, 16);
    let mode = if args.json {
        Mode::Json
    } else if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        Mode::Bar
    } else {
        Mode::Lines
    };
    let say = |s: String| {
        if mode != Mode::Json {
            let _ = crate::output::print(&format!("{s}\n"));
        }
    };
    let tmp = tempfile::Builder::new().prefix("ferro-demo-").tempdir()?;
    let seed_dir = tmp.path().join("seed");
    let payload = seed_dir.join("ferro-demo");
    std::fs::create_dir_all(payload.join("extras"))?;
    // Files of odd sizes so pieces cross file boundaries; one empty file.
    let total = args.size * 1024 * 1024;
    let sizes = [total / 2 + 12_345, total / 4 - 6_789, total / 4 - 5_556, 0];
    let names = [
        "movie.bin",
        "extras/making-of.bin",
        "extras/photos.bin",
        "extras/empty.txt",
    ];
    for (i, (name, size)) in names.iter().zip(sizes).enumerate() {
        let mut buf = vec![0u8; size as usize];
        fill(&mut buf, 0x5eed + i as u64);
        std::fs::write(payload.join(name), buf)?;
    }
    say(format!(
        "ferro demo: {} payload in {}",
        human_size(total),
        tmp.path().display()
    ));

    runtime()?.block_on(async move {
        let tracker = Server::bind(ServerConfig {
            http: Some("127.0.0.1:0".parse()?),
            udp: Some("127.0.0.1:0".parse()?),
            rate_limit: None,
            ..ServerConfig::default()
        })
        .await?
        .spawn();
        let url = tracker.http_announce_url().ok_or("tracker has no HTTP address")?;
        let made = {
            let payload = payload.clone();
            let url = url.clone();
            tokio::task::spawn_blocking(move || TorrentBuilder::new(payload).tracker(url).build()).await??
        };
        let torrent = made.metainfo;
        say(format!(
            "tracker {url}, {} pieces of {}",
            torrent.info.piece_count(),
            human_size(torrent.info.piece_length())
        ));

        let mut seeds = Vec::new();
        for _ in 0..seeders {
            let s = Session::new(Config::loopback()).await?;
            s.add_torrent(AddTorrent::new(torrent.clone(), &seed_dir)).await?;
            seeds.push(s);
        }
        say(format!(
            "{seeders} seeders on {}",
            seeds
                .iter()
                .map(|s| s.listen_addr().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));

        let download_dir = tmp.path().join("download");
        let leecher = Session::new(Config::loopback()).await?;
        let start = Instant::now();
        let handle = leecher
            .add_torrent(AddTorrent::new(torrent.clone(), &download_dir))
            .await?;
        let mut display = Display::new(mode, &handle);
        let outcome = tokio::select! {
            r = display.follow_until_complete(&handle) => r,
            _ = tokio::signal::ctrl_c() => Err("interrupted".into()),
        };
        let secs = start.elapsed().as_secs_f64();
        let stats = handle.stats();
        display.finish(&stats);
        leecher.shutdown().await;
        for s in &seeds {
            s.shutdown().await;
        }
        tracker.stop().await;
        outcome?;

        // Verify independently: re-hash every piece of what landed on disk.
        let info = std::sync::Arc::new(torrent.info.clone());
        let have = tokio::task::spawn_blocking(move || -> Result<_, ferro_client::Error> {
            let storage = Storage::open(info, &download_dir)?;
            storage.recheck(None, hashing_threads(), &Default::default())
        })
        .await??;
        let pieces = torrent.info.piece_count() as usize;
        if have.count_ones() != pieces {
            return Err(format!("only {} of {pieces} pieces verify on disk", have.count_ones()).into());
        }
        let mbps = total as f64 / 1e6 / secs.max(1e-9);
        if mode == Mode::Json {
            crate::output::print(&format!(
                "{}\n",
                serde_json::json!({"event": "demo", "bytes": total, "seconds": secs, "mb_per_s": mbps, "seeders": seeders, "pieces_verified": pieces})
            ))?;
        } else {
            say(format!(
                "downloaded {} from {seeders} seeders in {secs:.2} s ({mbps:.1} MB/s); all {pieces} pieces verified (SHA-1), files removed",
                human_size(total)
            ));
        }
        Ok(())
    })
}
