//! `ferro magnet <file.torrent>`: print the torrent's magnet link.

use std::path::PathBuf;

use ferro_magnet::MagnetLink;

/// Print a magnet link for a .torrent file (info-hash, name, length, trackers, web seeds).
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The .torrent file.
    torrent: PathBuf,
}

pub(crate) fn run(args: Args) -> crate::Result<()> {
    let meta = crate::info::load(&args.torrent)?;
    println!("{}", magnet_for(&meta));
    Ok(())
}

/// The magnet link of a parsed torrent: `xt`, `dn`, `xl`, every tracker (tiers
/// flattened in order) and every web seed.
pub(crate) fn magnet_for(meta: &ferro_metainfo::Metainfo) -> MagnetLink {
    let mut link = MagnetLink::new(meta.info_hash());
    link.display_name = Some(meta.name().to_string());
    link.exact_length = Some(meta.info.total_length());
    for url in meta.trackers.iter().flatten() {
        if !link.trackers.contains(url) {
            link.trackers.push(url.clone());
        }
    }
    link.web_seeds = meta.web_seeds.clone();
    link
}
