//! `ferro create`: make a .torrent from a file or a directory.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use ferro_metainfo::TorrentBuilder;
use indicatif::{ProgressBar, ProgressStyle};

use crate::output::{parse_size, print};

/// Arguments of `ferro create`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The file or directory to share.
    path: PathBuf,
    /// A tracker URL; repeat for more tiers. Comma-separated URLs form one
    /// tier (BEP 12).
    #[arg(short = 't', long = "tracker", value_name = "URL")]
    trackers: Vec<String>,
    /// A web seed URL (BEP 19 url-list); repeatable.
    #[arg(short = 'w', long = "web-seed", value_name = "URL")]
    web_seeds: Vec<String>,
    /// Piece length in bytes, or with a K/M suffix (a power of two from 16K
    /// to 256M). Default: chosen for about 1,000-2,000 pieces.
    #[arg(long, value_name = "N", value_parser = parse_size)]
    piece_length: Option<u64>,
    /// Mark the torrent private (BEP 27): peers only from its trackers.
    #[arg(long)]
    private: bool,
    /// A comment stored in the torrent.
    #[arg(long, value_name = "S")]
    comment: Option<String>,
    /// The torrent's name (default: the file or directory name).
    #[arg(long, value_name = "S")]
    name: Option<String>,
    /// Where to write the .torrent (default: NAME.torrent in the current directory).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
    /// Overwrite the output file if it exists.
    #[arg(short = 'f', long)]
    force: bool,
    /// Leave out the creation date, so the same files give the same bytes.
    #[arg(long)]
    no_date: bool,
    /// Align every file to a piece boundary with BEP 47 padding files.
    #[arg(long)]
    pad: bool,
}

/// Runs `ferro create`.
pub(crate) fn run(args: Args) -> crate::Result<()> {
    let mut builder = TorrentBuilder::new(&args.path)
        .private(args.private)
        .pad_files(args.pad)
        .created_by(concat!("ferro/", env!("CARGO_PKG_VERSION")));
    for tier in &args.trackers {
        let urls: Vec<String> = tier
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(str::to_owned)
            .collect();
        builder = builder.tracker_tier(urls);
    }
    for url in &args.web_seeds {
        builder = builder.web_seed(url.clone());
    }
    if let Some(len) = args.piece_length {
        builder = builder.piece_length(len);
    }
    if let Some(c) = &args.comment {
        builder = builder.comment(c.clone());
    }
    if let Some(n) = &args.name {
        builder = builder.name(n.clone());
    }
    if !args.no_date {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        builder = builder.creation_date(i64::try_from(now).unwrap_or(i64::MAX));
    }

    // Decide the output path and refuse to clobber before spending time hashing.
    let output = match &args.output {
        Some(o) => o.clone(),
        None => {
            let name = match &args.name {
                Some(n) => n.clone(),
                None => file_name(&args.path)?,
            };
            PathBuf::from(format!("{name}.torrent"))
        }
    };
    if !args.force && output.exists() {
        return Err(format!("{} exists (use --force to overwrite)", output.display()).into());
    }

    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(0);
        if let Ok(style) = ProgressStyle::with_template(
            "hashing {bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        ) {
            bar.set_style(style);
        }
        bar
    } else {
        ProgressBar::hidden()
    };
    let made = builder.build_with_progress(&|done, total| {
        bar.set_length(total);
        bar.set_position(done);
    });
    bar.finish_and_clear();
    let made = made?;

    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .create_new(!args.force)
        .open(&output)
        .map_err(|e| format!("{}: {e}", output.display()))?;
    file.write_all(&made.bytes)
        .map_err(|e| format!("{}: {e}", output.display()))?;

    print(&format!(
        "info-hash: {}\nwritten:   {}\n",
        made.metainfo.info_hash(),
        output.display()
    ))
}

/// The name a torrent of `path` gets by default (as the library picks it).
fn file_name(path: &std::path::Path) -> crate::Result<String> {
    let named = match path.file_name() {
        Some(n) => PathBuf::from(n),
        None => std::fs::canonicalize(path).map_err(|e| format!("{}: {e}", path.display()))?,
    };
    named
        .file_name()
        .and_then(|n| n.to_str())
        .map(str::to_owned)
        .ok_or_else(|| format!("cannot name a torrent of {}", path.display()).into())
}
