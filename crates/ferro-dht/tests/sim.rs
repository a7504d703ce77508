//! The simulator at 1,000 nodes: bootstrap from one seed converges, lookups
//! find the true closest node in about log2(N) rounds, and get_peers after an
//! announce finds the announcer from any node.
use std::time::Duration;

use ferro_dht::sim::{SimConfig, run};

#[test]
fn thousand_nodes_converge_and_find_the_announcer() {
    let cfg = SimConfig {
        nodes: 1000,
        lookups: 50,
        get_peers: 20,
        ..SimConfig::default()
    };
    let started = std::time::Instant::now();
    let r = run(&cfg);
    eprintln!("{r}\nwall time {:?}", started.elapsed());
    assert_eq!(r.nodes, 1000);
    assert!(
        r.min_table_size >= 8,
        "every node knows at least k nodes: {r}"
    );
    assert_eq!(r.lookups, 50);
    assert!(
        r.lookups_found_closest >= 48,
        "lookups converge on the closest node: {r}"
    );
    assert!(
        r.mean_rounds <= r.log2_nodes,
        "about log2(N) rounds or fewer: {r}"
    );
    assert!(r.announced_to >= 4, "{r}");
    assert_eq!(r.get_peers_found, r.get_peers_tried, "{r}");
}

#[test]
fn lossy_network_still_works_and_runs_are_deterministic() {
    let cfg = SimConfig {
        nodes: 200,
        loss: 0.1,
        latency: Duration::from_millis(50),
        lookups: 20,
        get_peers: 10,
        seed: 7,
        ..SimConfig::default()
    };
    let a = run(&cfg);
    assert!(a.dropped > 0);
    // With 10% loss each way about a fifth of queries fail; lookups still
    // reach the announcer and mostly find the closest node.
    assert!(a.get_peers_found >= 8, "{a}");
    assert!(a.lookups_found_closest >= 12, "{a}");
    assert!(a.mean_table_size >= 8.0, "{a}");
    assert_eq!(run(&cfg), a, "same seed, same run");
}

#[test]
fn churn_is_routed_around() {
    let cfg = SimConfig {
        nodes: 300,
        churn: 0.3,
        lookups: 20,
        get_peers: 10,
        seed: 3,
        ..SimConfig::default()
    };
    let r = run(&cfg);
    eprintln!("{r}");
    assert_eq!(r.offline, 89);
    assert!(r.lookups_found_closest >= 18, "{r}");
    assert_eq!(r.get_peers_found, r.get_peers_tried, "{r}");
}
