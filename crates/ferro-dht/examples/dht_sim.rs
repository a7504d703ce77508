//! Runs the DHT simulator: `cargo run --release -p ferro-dht --example dht_sim -- [NODES] [SEED] [LOSS]`.
use std::time::Instant;

use ferro_dht::sim::{SimConfig, run};

fn main() {
    let mut args = std::env::args().skip(1);
    let nodes = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let seed = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let loss = args.next().and_then(|a| a.parse().ok()).unwrap_or(0.0);
    let cfg = SimConfig {
        nodes,
        seed,
        loss,
        ..SimConfig::default()
    };
    let started = Instant::now();
    let report = run(&cfg);
    println!("{report}");
    println!(
        "wall time                  {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
