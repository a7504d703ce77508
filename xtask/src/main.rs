//! `cargo xtask`: Ferro's developer tasks, one Rust program instead of shell scripts.
//!
//! - `cargo xtask interop [--no-install] [FILTER]`: installs the third-party clients
//!   (Debian packages), runs every `interop_*` test of the workspace (they are
//!   `#[ignore]`d in `cargo test`), prints a table and `N passed, N failed`.
//! - `cargo xtask fuzz [--seconds N | --minutes N] [--corpus-out DIR] [TARGET...]`: runs every cargo-fuzz
//!   target (or those named) for the given time each, on stable (`-s none`).
//! - `cargo xtask chaos [--rounds N] [--mib N] [--seed S] [--debug] [--disk-only]`: a leecher killed with
//!   SIGKILL at seeded random moments and restarted N times must lose no
//!   verified piece, download none twice, and end with the seed's sha256;
//!   then a download into a full tmpfs and into read-only mounts (root).
//! - `cargo xtask install-clients`: only the Debian packages interop needs.
//! - `cargo xtask bench [CRATE]`: the criterion benches.
//! - `cargo xtask dht-sim --nodes N`: ferro-dht's simulator of N nodes with virtual time.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

mod bench_swarm;
mod chaos;
mod dht_sim;
mod e2e;
mod fuzz;
mod interop;
mod matrix;
mod swarm;

type Result<T = ()> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (cmd, rest) = match args.split_first() {
        Some((c, r)) => (c.as_str(), r),
        None => ("help", &[][..]),
    };
    // `cargo xtask <task> --help` prints the help instead of starting the task
    // (every task takes its flags by hand, and several run for minutes).
    let cmd = if rest.iter().any(|a| a == "--help" || a == "-h") {
        "help"
    } else {
        cmd
    };
    let result = match cmd {
        "interop" => interop::run(rest),
        "install-clients" => interop::install_clients(),
        "fuzz" => fuzz::run(rest),
        "e2e" => e2e::run(rest),
        "chaos" => chaos::run(rest),
        "bench-swarm" => bench_swarm::run(rest),
        "bench" => bench(rest),
        "dht-sim" => dht_sim::run(rest),
        "dht-sim-release" => dht_sim::run_release(rest),
        // Hidden: `interop` re-runs itself under `unshare -n` (matrix/netns.rs).
        matrix::netns::SUBCOMMAND => matrix::netns::child_main(rest),
        "help" | "--help" | "-h" => {
            println!("{}", HELP);
            Ok(())
        }
        other => Err(format!("unknown task {other:?}\n{HELP}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e}");
            ExitCode::FAILURE
        }
    }
}

const HELP: &str = "usage: cargo xtask <task>
  interop [--no-install] [--mib N] [--matrix-only|--tests-only] [FILTER]
                                        the interop matrix against real clients (libtorrent,
                                        Transmission, aria2c, opentracker, nginx) and the
                                        ignored interop_* tests; a table and N passed, N failed
  install-clients                       install the Debian packages interop needs
  bench-swarm [--mib N] [--repeat N] [--rows S:L,..,dd,tcp]
                                        1 GiB: {Ferro, libtorrent} seeders x {Ferro, libtorrent, aria2c} leechers,
                                        dd and TCP-receive floor rows, Ferro's SHA-1 in memory (the CPU goal's
                                        reference); page cache dropped before each row (root); medians
  e2e [--mib N]                         64 MiB swarm with the release binary: tracker, seeder, 3 leechers, SIGKILL + resume
  chaos [--rounds N] [--mib N] [--seed S] [--debug] [--disk-only]
                                        SIGKILL a leecher at random moments (download, recheck) N times (20); it must finish intact;
                                        then disk full (8 MiB tmpfs) and read-only mounts (needs root)
  fuzz [--seconds N|--minutes N] [--corpus-out DIR] [T..]
                                        run every fuzz target (default 20 s each)
  bench [CRATE]                         criterion benchmarks (all crates, or one)
  dht-sim --nodes N [--loss P] [--seed S] [--lookups L] [--churn C]
                                        simulate a DHT of N nodes in one process (release build)";

/// The workspace root (the parent of xtask/).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

/// Runs a command to completion, failing on a non-zero exit.
fn run_status(cmd: &mut Command) -> Result {
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed: {status}"))
    }
}

/// Runs a command and returns its stdout.
fn run_output(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{cmd:?} failed: {}", out.status));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn bench(args: &[String]) -> Result {
    let mut c = cargo();
    c.arg("bench");
    match args.first() {
        Some(krate) => c.args(["-p", krate]),
        None => c.arg("--workspace"),
    };
    let start = Instant::now();
    run_status(&mut c)?;
    println!(
        "benchmarks done in {:.0} s; criterion reports are in target/criterion",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
