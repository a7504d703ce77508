//! `ferro seed`: check existing data (parallel hashing), then seed it.

use std::path::PathBuf;

use ferro_client::Session;

use crate::download::{Common, Display, read_torrent, runtime};

/// Arguments of `ferro seed`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The .torrent file.
    torrent: PathBuf,
    /// The directory that holds the torrent's data (the parent of its files).
    dir: PathBuf,
    #[command(flatten)]
    common: Common,
}

/// Runs `ferro seed` until Ctrl-C.
pub(crate) fn run(args: Args) -> crate::Result<()> {
    args.common.init_logging();
    let torrent = read_torrent(&args.torrent)?;
    let mode = args.common.display_mode();
    let add = args.common.add(torrent, args.dir.clone())?;
    runtime()?.block_on(async move {
        let session = Session::new(args.common.config()).await?;
        let handle = session.add_torrent(add).await?;
        let stats = handle.stats();
        if stats.pieces_have != stats.piece_count {
            session.shutdown().await;
            return Err(format!(
                "{}: only {} of {} pieces are present and valid; use `ferro download` to fetch the rest",
                args.dir.display(),
                stats.pieces_have,
                stats.piece_count
            )
            .into());
        }
        let mut display = Display::new(mode, &handle);
        display.seeding(&handle);
        if !args.common.is_json() {
            crate::output::print(&format!("listening on {}\n", session.listen_addr()))?;
        }
        tokio::select! {
            _ = display.follow_seeding(&handle, None, None) => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        let stats = handle.stats();
        session.shutdown().await;
        display.finish(&stats);
        Ok(())
    })
}
