//! `cargo xtask interop`: Ferro against real third-party clients on 127.0.0.1.
//!
//! Interop cases are ordinary Rust tests named `interop_*`, marked `#[ignore]` so
//! that `cargo test` needs nothing but Rust. This task installs the clients,
//! discovers every such test in the workspace, runs each on its own, and prints
//! one row per case.

use std::process::Command;
use std::time::Instant;

use crate::{Result, cargo, run_output, run_status};

/// Debian packages the interop tests use.
const PACKAGES: &[&str] = &[
    "python3-libtorrent",
    "mktorrent",
    "aria2",
    "opentracker",
    "nginx-light",
    "transmission-daemon",
    "transmission-cli",
    // `ip` sets up the private network namespace of the matrix's
    // distinct-address cells (matrix/netns.rs); `unshare` is util-linux.
    "iproute2",
];

pub fn install_clients() -> Result {
    let missing: Vec<&str> = PACKAGES
        .iter()
        .copied()
        .filter(|p| {
            !Command::new("dpkg-query")
                .args(["-W", "-f=${Status}", p])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
                .unwrap_or(false)
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    println!("installing {}", missing.join(" "));
    // Packaged services (nginx, transmission) must not start by themselves and
    // listen on every interface: a policy-rc.d that forbids starting them.
    let policy = std::path::Path::new("/usr/sbin/policy-rc.d");
    let had_policy = policy.exists();
    if !had_policy {
        std::fs::write(policy, "#!/bin/sh\nexit 101\n")
            .map_err(|e| format!("writing {policy:?}: {e}"))?;
        run_status(Command::new("chmod").args(["+x", "/usr/sbin/policy-rc.d"]))?;
    }
    let result = run_status(Command::new("apt-get").args(["update", "-qq"])).and_then(|()| {
        run_status(
            Command::new("apt-get")
                .env("DEBIAN_FRONTEND", "noninteractive")
                .args(["install", "-y", "-qq", "--no-install-recommends"])
                .args(&missing),
        )
    });
    if !had_policy {
        let _ = std::fs::remove_file(policy);
    }
    result
}

pub fn run(args: &[String]) -> Result {
    let install = !args.iter().any(|a| a == "--no-install");
    let only_matrix = args.iter().any(|a| a == "--matrix-only");
    let skip_matrix = args.iter().any(|a| a == "--tests-only");
    let mib = crate::swarm::size_arg(args, 32)? / crate::swarm::MIB;
    let filter = args
        .iter()
        .enumerate()
        .find(|(i, a)| {
            let after_mib = *i > 0 && args.get(i - 1).is_some_and(|p| p == "--mib");
            !(a.starts_with("--") || after_mib)
        })
        .map(|(_, a)| a.clone())
        .unwrap_or_default();
    if install {
        install_clients()?;
    }
    let started = Instant::now();
    let mut rows = Vec::new();
    if !skip_matrix {
        // FERRO_BIN: an already built `ferro` (iterating on the matrix itself).
        let ferro = match std::env::var_os("FERRO_BIN") {
            Some(p) => std::path::PathBuf::from(p),
            None => crate::swarm::release_ferro()?,
        };
        crate::swarm::in_scratch_dir("interop-matrix", |work| {
            rows = crate::matrix::run(&ferro, work, &filter, mib)?;
            Ok(())
        })?;
    }
    if !only_matrix {
        rows.extend(rust_tests(&filter)?);
    }
    if rows.is_empty() {
        return Err(format!("no interop case matches {filter:?}"));
    }
    crate::matrix::print_table(&rows);
    let failed = rows
        .iter()
        .filter(|r| matches!(r.outcome, crate::matrix::Outcome::Fail))
        .count();
    let na = rows
        .iter()
        .filter(|r| matches!(r.outcome, crate::matrix::Outcome::NotApplicable))
        .count();
    println!(
        "{} passed, {failed} failed ({na} not applicable) in {:.0} s",
        rows.len() - failed - na,
        started.elapsed().as_secs_f64()
    );
    if failed > 0 {
        Err(format!("{failed} interop case(s) failed"))
    } else {
        Ok(())
    }
}

/// The workspace's ignored `interop_*` Rust tests, each run on its own, as rows.
fn rust_tests(filter: &str) -> Result<Vec<crate::matrix::Row>> {
    // Build once, then list the ignored tests of every test binary.
    run_status(cargo().args(["test", "--workspace", "--all-features", "--no-run", "-q"]))?;
    let list = run_output(cargo().args([
        "test",
        "--workspace",
        "--all-features",
        "-q",
        "--",
        "--ignored",
        "--list",
    ]))?;
    let mut cases: Vec<String> = list
        .lines()
        .filter_map(|l| l.strip_suffix(": test"))
        .map(|name| name.to_string())
        .filter(|name| {
            name.rsplit("::")
                .next()
                .is_some_and(|n| n.starts_with("interop_"))
        })
        .filter(|name| name.contains(filter))
        .collect();
    cases.sort();
    cases.dedup();
    let mut rows = Vec::new();
    for case in &cases {
        println!("=== {case}");
        let start = Instant::now();
        let ok = cargo()
            .args([
                "test",
                "--workspace",
                "--all-features",
                "-q",
                "--",
                "--ignored",
                "--exact",
                case,
            ])
            .args(["--test-threads=1", "--nocapture"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        rows.push(crate::matrix::Row {
            case: case.clone(),
            client: "(Rust test)".into(),
            direction: "-".into(),
            outcome: if ok {
                crate::matrix::Outcome::Pass
            } else {
                crate::matrix::Outcome::Fail
            },
            secs: start.elapsed().as_secs_f64(),
            mbps: None,
            note: String::new(),
        });
    }
    Ok(rows)
}
