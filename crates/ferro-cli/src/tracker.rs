//! `ferro tracker`: run a BitTorrent tracker (HTTP and/or UDP) until Ctrl-C.

use std::net::SocketAddr;
use std::time::Duration;

use ferro_tracker::server::{RateLimit, Server, ServerConfig, SwarmConfig};

/// Arguments of `ferro tracker`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Serve HTTP announce/scrape on this address (e.g. 127.0.0.1:6969; port 0 picks one).
    #[arg(long, value_name = "ADDR")]
    http: Option<SocketAddr>,
    /// Serve UDP (BEP 15) announce/scrape on this address.
    #[arg(long, value_name = "ADDR")]
    udp: Option<SocketAddr>,
    /// Announce interval told to clients, in seconds.
    #[arg(long, value_name = "S", default_value_t = 1800)]
    interval: u64,
    /// Most peers returned per announce.
    #[arg(long, value_name = "N", default_value_t = 200)]
    max_numwant: usize,
    /// Requests per second allowed per client IP (0 turns the limit off).
    #[arg(long, value_name = "N", default_value_t = 20.0)]
    rate_limit: f64,
}

/// Runs `ferro tracker`.
pub(crate) fn run(args: Args) -> crate::Result<()> {
    if args.http.is_none() && args.udp.is_none() {
        return Err("give --http ADDR, --udp ADDR or both".into());
    }
    if args.interval == 0 {
        return Err("--interval must be at least 1 second".into());
    }
    let interval = Duration::from_secs(args.interval);
    let config = ServerConfig {
        http: args.http,
        udp: args.udp,
        swarm: SwarmConfig {
            interval,
            min_interval: interval.min(Duration::from_secs(60)),
            max_numwant: args.max_numwant,
            ..SwarmConfig::default()
        },
        rate_limit: (args.rate_limit > 0.0).then(|| RateLimit {
            per_second: args.rate_limit,
            burst: (args.rate_limit * 10.0).max(1.0),
            ..RateLimit::default()
        }),
        ..ServerConfig::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let server = Server::bind(config).await?;
        let handle = server.spawn();
        if let Some(url) = handle.http_announce_url() {
            println!("http tracker: {url}");
        }
        if let Some(url) = handle.udp_announce_url() {
            println!("udp tracker: {url}");
        }
        println!("press Ctrl-C to stop");
        tokio::signal::ctrl_c().await?;
        handle.stop().await;
        println!("tracker stopped");
        crate::Result::Ok(())
    })
}
