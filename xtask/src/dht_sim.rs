//! `cargo xtask dht-sim --nodes N [--loss P] [--seed S] [--lookups L] [--churn C]
//! [--attackers K] [--no-restrict]`: the in-process DHT simulator of ferro-dht,
//! built in release mode.
//!
//! `--attackers K` adds K sybil ids on one IP around the announced info-hash
//! and runs the simulation twice, with the routing/lookup IP restriction on
//! and off, to show what the restriction buys. `--no-restrict` turns it off
//! for a single run.

use std::time::Instant;

use crate::{Result, cargo, run_status};

/// Re-runs xtask in release mode: a debug build of the simulator is ~10× slower.
pub fn run(args: &[String]) -> Result {
    run_status(
        cargo()
            .args([
                "run",
                "--release",
                "--quiet",
                "--package",
                "xtask",
                "--",
                "dht-sim-release",
            ])
            .args(args),
    )
}

/// The simulation itself (called by [`run`] in the release build).
pub fn run_release(args: &[String]) -> Result {
    let mut cfg = ferro_dht::sim::SimConfig::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--nodes" => cfg.nodes = value()?.parse().map_err(|e| format!("--nodes: {e}"))?,
            "--loss" => cfg.loss = value()?.parse().map_err(|e| format!("--loss: {e}"))?,
            "--seed" => cfg.seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--lookups" => cfg.lookups = value()?.parse().map_err(|e| format!("--lookups: {e}"))?,
            "--churn" => cfg.churn = value()?.parse().map_err(|e| format!("--churn: {e}"))?,
            "--attackers" => {
                cfg.attackers = value()?.parse().map_err(|e| format!("--attackers: {e}"))?
            }
            "--no-restrict" => cfg.dht.routing.restrict_routing_ips = false,
            other => return Err(format!("unknown dht-sim option {other:?}")),
        }
    }
    if cfg.nodes < 2 {
        return Err("--nodes must be at least 2".into());
    }
    println!(
        "simulating {} DHT nodes (seed {}, loss {})",
        cfg.nodes, cfg.seed, cfg.loss
    );
    if cfg.attackers > 0 && cfg.dht.routing.restrict_routing_ips {
        // The comparison run first: the same network without the restriction.
        let mut open = cfg.clone();
        open.dht.routing.restrict_routing_ips = false;
        println!("--- {} sybils, IP restriction OFF ---", cfg.attackers);
        let start = Instant::now();
        let report = ferro_dht::sim::run(&open);
        println!("{report}");
        println!("wall time: {:.1} s", start.elapsed().as_secs_f64());
        println!("--- {} sybils, IP restriction ON ---", cfg.attackers);
    }
    let start = Instant::now();
    let report = ferro_dht::sim::run(&cfg);
    println!("{report}");
    println!("wall time: {:.1} s", start.elapsed().as_secs_f64());
    if cfg.dht.routing.restrict_routing_ips
        && (report.lookups_found_closest == 0 || report.get_peers_found < report.get_peers_tried)
    {
        return Err("the simulated DHT did not converge".into());
    }
    Ok(())
}
