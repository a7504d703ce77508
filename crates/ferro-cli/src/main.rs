//! `ferro`: Ferro's command-line tool.
//!
//! Each subcommand lives in its own module with an `Args` struct (clap
//! derive) and a `run(args) -> Result<()>` function; this file only lists
//! them and turns errors into one line on stderr and an exit code:
//! 0 success, 1 failure, 2 usage error (clap's own).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod create;
mod demo;
mod download;
mod info;
mod magnet;
mod output;
mod seed;
mod tracker;

/// What a subcommand returns; the error becomes `ferro: error: <message>`.
pub(crate) type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Ferro: a BitTorrent library and client.
#[derive(Debug, Parser)]
#[command(name = "ferro", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show what a .torrent file holds.
    Info(info::Args),
    /// Make a .torrent file from a file or a directory.
    Create(create::Args),
    /// Run a BitTorrent tracker (HTTP and/or UDP) until Ctrl-C.
    Tracker(tracker::Args),
    /// Print the magnet link of a .torrent file.
    Magnet(magnet::Args),
    /// Download a torrent (exit 0 only when every piece is verified on disk).
    Download(download::Args),
    /// Check a torrent's data, then seed it until Ctrl-C.
    Seed(seed::Args),
    /// Run a whole swarm in this process on 127.0.0.1: tracker, seeders, a download.
    Demo(demo::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Info(args) => info::run(args),
        Command::Create(args) => create::run(args),
        Command::Tracker(args) => tracker::run(args),
        Command::Magnet(args) => magnet::run(args),
        Command::Download(args) => download::run(args),
        Command::Seed(args) => seed::run(args),
        Command::Demo(args) => demo::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line, whatever the error's own formatting.
            let msg = e.to_string().replace('\n', " ");
            eprintln!("ferro: error: {msg}");
            ExitCode::FAILURE
        }
    }
}
