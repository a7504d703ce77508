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
    let filter = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .cloned()
        .unwrap_or_default();
    if install {
        install_clients()?;
    }
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
        .filter(|name| name.contains(filter.as_str()))
        .collect();
    cases.sort();
    cases.dedup();
    if cases.is_empty() {
        return Err("no interop_* tests found".into());
    }
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
        rows.push((case.clone(), ok, start.elapsed().as_secs_f64()));
    }
    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(10).max(10);
    println!(
        "\n{:<width$}  {:<6} {:>8}",
        "interop case", "result", "secs"
    );
    for (case, ok, secs) in &rows {
        println!(
            "{:<width$}  {:<6} {:>8.1}",
            case,
            if *ok { "PASS" } else { "FAIL" },
            secs
        );
    }
    let failed = rows.iter().filter(|r| !r.1).count();
    println!("{} passed, {} failed", rows.len() - failed, failed);
    if failed > 0 {
        Err(format!("{failed} interop case(s) failed"))
    } else {
        Ok(())
    }
}
