//! `ferro info`: what a .torrent file holds.

use std::fmt::Write as _;
use std::path::PathBuf;

use ferro_metainfo::Metainfo;
use serde_json::json;

use crate::output::{human_size, print, utc_date};

/// Largest .torrent file read (a torrent of a million files is ~100 MiB).
const MAX_TORRENT_FILE: u64 = 128 << 20;

/// Arguments of `ferro info`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The .torrent file.
    torrent: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Reads and parses a .torrent file, with the path in any error.
pub(crate) fn load(path: &std::path::Path) -> crate::Result<Metainfo> {
    let io = |e: std::io::Error| format!("{}: {e}", path.display());
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > MAX_TORRENT_FILE {
        return Err(format!(
            "{}: {len} bytes is too large for a .torrent file",
            path.display()
        )
        .into());
    }
    let bytes = std::fs::read(path).map_err(io)?;
    Metainfo::from_bytes(&bytes).map_err(|e| format!("{}: {e}", path.display()).into())
}

/// Runs `ferro info`.
pub(crate) fn run(args: Args) -> crate::Result<()> {
    let m = load(&args.torrent)?;
    let text = if args.json {
        let mut s = serde_json::to_string_pretty(&to_json(&m))?;
        s.push('\n');
        s
    } else {
        to_text(&m)
    };
    print(&text)
}

fn to_json(m: &Metainfo) -> serde_json::Value {
    let info = &m.info;
    let files: Vec<_> = info
        .files()
        .iter()
        .enumerate()
        .map(|(index, f)| {
            json!({
                "index": index,
                "path": f.path.to_string_lossy(),
                "size": f.length,
                "offset": f.offset,
                "padding": f.is_padding(),
            })
        })
        .collect();
    json!({
        "name": info.name(),
        "info_hash": info.info_hash().to_hex(),
        "total_size": info.total_length(),
        "piece_length": info.piece_length(),
        "piece_count": info.piece_count(),
        "last_piece_size": info.last_piece_size(),
        "multi_file": info.is_multi_file(),
        "private": info.is_private(),
        "files": files,
        "trackers": m.trackers,
        "web_seeds": m.web_seeds,
        "http_seeds": m.http_seeds,
        "comment": m.comment,
        "created_by": m.created_by,
        "creation_date": m.creation_date,
    })
}

fn to_text(m: &Metainfo) -> String {
    let info = &m.info;
    let mut s = String::new();
    let size = |n: u64| format!("{} ({n} bytes)", human_size(n));
    // Writing to a String cannot fail.
    let _ = writeln!(s, "name:         {}", info.name());
    let _ = writeln!(s, "info-hash:    {}", info.info_hash());
    let _ = writeln!(s, "total size:   {}", size(info.total_length()));
    let _ = writeln!(s, "piece length: {}", size(info.piece_length()));
    let _ = writeln!(
        s,
        "pieces:       {} (last {} bytes)",
        info.piece_count(),
        info.last_piece_size()
    );
    let _ = writeln!(
        s,
        "private:      {}",
        if info.is_private() { "yes" } else { "no" }
    );
    if let Some(c) = &m.comment {
        let _ = writeln!(s, "comment:      {c}");
    }
    if let Some(c) = &m.created_by {
        let _ = writeln!(s, "created by:   {c}");
    }
    if let Some(d) = m.creation_date {
        let _ = writeln!(s, "created:      {} ({d})", utc_date(d));
    }
    if m.trackers.is_empty() {
        let _ = writeln!(s, "trackers:     none");
    } else {
        let _ = writeln!(s, "trackers:");
        for (i, tier) in m.trackers.iter().enumerate() {
            let _ = writeln!(s, "  tier {}: {}", i + 1, tier.join(" "));
        }
    }
    if !m.web_seeds.is_empty() {
        let _ = writeln!(s, "web seeds:");
        for url in &m.web_seeds {
            let _ = writeln!(s, "  {url}");
        }
    }
    if !m.http_seeds.is_empty() {
        let _ = writeln!(s, "http seeds:");
        for url in &m.http_seeds {
            let _ = writeln!(s, "  {url}");
        }
    }
    // Indices are those of `ferro download --select` and magnet `so=` (BEP 53).
    let _ = writeln!(s, "files ({}):", info.files().len());
    for (i, f) in info.files().iter().enumerate() {
        let pad = if f.is_padding() { "  [padding]" } else { "" };
        let _ = writeln!(
            s,
            "  {i:>4}  {:>12}  {}{pad}",
            human_size(f.length),
            f.path.display()
        );
    }
    s
}
