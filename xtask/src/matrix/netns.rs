//! The matrix cells that need each party on its own, non-loopback address,
//! run inside a private network namespace.
//!
//! On 127.0.0.1 aria2c leaves every peer with the recipient's IP out of its
//! ut_pex, Transmission 3.00 keeps one peer per IP and never dials a
//! 127.0.0.0/8 peer it hears of, and Transmission's DHT bootstraps from a
//! public host when it knows few nodes. So `cargo xtask interop` re-executes
//! itself as `unshare -n -- xtask matrix-netns ...`: the child is in a
//! network namespace of its own whose only interface is `lo`, brings `lo`
//! up, adds 10.77.0.1-3 to it (client, Ferro X, Ferro Y) and 10.77.0.10-21
//! (DHT nodes, `dht_tr.rs`), runs those cells and prints
//! each row as one `ROW {json}` line on stdout. The namespace has no route
//! anywhere else, so nothing a party does can leave the machine; it ends
//! with its last process. The parent starts the child before its own cells
//! and joins it at the end: the cells' 60-90 s PEX timers run meanwhile.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Ctx, Outcome, Row, cells};
use crate::Result;
use crate::swarm::Guard;

/// The hidden subcommand the child runs.
pub const SUBCOMMAND: &str = "matrix-netns";

/// The addresses the child puts on its `lo` (see `pex::Hosts::NETNS`).
const ADDRS: [&str; 3] = ["10.77.0.1/24", "10.77.0.2/24", "10.77.0.3/24"];

/// How long the whole namespace run may take.
const TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// The child running in the background.
pub struct Background {
    child: Guard,
    reader: std::thread::JoinHandle<Vec<Row>>,
    started: Instant,
}

/// This process's network namespace (`net:[inode]`).
fn netns_id() -> Result<String> {
    std::fs::read_link("/proc/self/ns/net")
        .map(|p| p.display().to_string())
        .map_err(|e| format!("/proc/self/ns/net: {e}"))
}

/// Whether this process's network namespace has no interface but `lo`
/// (`/proc/net/dev` lists the interfaces of the caller's namespace): nothing
/// sent from here can leave the machine.
pub fn isolated() -> bool {
    std::fs::read_to_string("/proc/net/dev").is_ok_and(|t| {
        t.lines()
            .skip(2)
            .filter_map(|l| l.split(':').next())
            .all(|name| name.trim() == "lo")
    })
}

/// Starts the child for the namespace cells matching `filter`, or says why
/// it cannot (no `unshare`, not root, namespaces disabled).
pub fn start(ferro: &Path, work: &Path, filter: &str, mib: u64) -> Result<Background> {
    let probe = Command::new("unshare")
        .args(["-n", "true"])
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot run unshare: {e}"))?;
    if !probe.status.success() {
        return Err(format!(
            "`unshare -n true` failed ({}): {}",
            probe.status,
            String::from_utf8_lossy(&probe.stderr).trim()
        ));
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut c = Command::new("unshare");
    c.args(["-n", "--"])
        .arg(exe)
        .arg(SUBCOMMAND)
        .arg("--ferro")
        .arg(ferro)
        .arg("--work")
        .arg(work)
        .args(["--mib", &mib.to_string(), "--host-netns", &netns_id()?]);
    c.arg("--").arg(filter);
    let mut child = c
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start unshare: {e}"))?;
    let out = child.stdout.take().ok_or("no stdout")?;
    let reader = std::thread::spawn(move || {
        let mut rows = Vec::new();
        for line in BufReader::new(out).lines().map_while(|l| l.ok()) {
            match line
                .strip_prefix("ROW ")
                .and_then(|j| row_from_json(j).ok())
            {
                Some(r) => rows.push(r),
                None => println!("[netns] {line}"),
            }
        }
        rows
    });
    Ok(Background {
        child: Guard(child),
        reader,
        started: Instant::now(),
    })
}

impl Background {
    /// Waits (bounded) for the child and returns its rows.
    pub fn finish(mut self) -> Vec<Row> {
        // Bounded by TIMEOUT from the child's start.
        loop {
            match self.child.0.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if self.started.elapsed() > TIMEOUT => {
                    println!("    network-namespace run still going after {TIMEOUT:?}: stopped");
                    let _ = self.child.0.kill();
                    break;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
        let _ = self.child.0.wait();
        self.reader.join().unwrap_or_default()
    }
}

fn row_to_json(r: &Row) -> String {
    let outcome = match r.outcome {
        Outcome::Pass => "PASS",
        Outcome::Fail => "FAIL",
        Outcome::NotApplicable => "N/A",
    };
    json!({
        "case": r.case, "client": r.client, "direction": r.direction,
        "outcome": outcome, "secs": r.secs, "mbps": r.mbps, "note": r.note,
    })
    .to_string()
}

fn row_from_json(s: &str) -> Result<Row> {
    let v: Value = serde_json::from_str(s).map_err(|e| e.to_string())?;
    let text = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
    Ok(Row {
        case: text("case"),
        client: text("client"),
        direction: text("direction"),
        outcome: match v["outcome"].as_str() {
            Some("PASS") => Outcome::Pass,
            Some("N/A") => Outcome::NotApplicable,
            _ => Outcome::Fail,
        },
        secs: v["secs"].as_f64().unwrap_or(0.0),
        mbps: v["mbps"].as_f64(),
        note: text("note"),
    })
}

/// `xtask matrix-netns --ferro BIN --work DIR --mib N --host-netns ID
/// -- FILTER`: the child, inside `unshare -n`.
pub fn child_main(args: &[String]) -> Result {
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
            .ok_or_else(|| format!("{SUBCOMMAND}: {name} missing"))
    };
    let ferro = std::path::PathBuf::from(value("--ferro")?);
    let work = std::path::PathBuf::from(value("--work")?);
    let mib: u64 = value("--mib")?.parse().map_err(|_| "--mib N")?;
    let filter = args
        .iter()
        .position(|a| a == "--")
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_default();
    // Never touch the host's `lo`: only inside a namespace of our own.
    let here = netns_id()?;
    if here == value("--host-netns")? || !isolated() {
        return Err(format!(
            "{SUBCOMMAND} runs only inside `unshare -n` (still in {here})"
        ));
    }
    crate::run_status(Command::new("ip").args(["link", "set", "lo", "up"]))?;
    let dht_nodes = (0..super::dht_tr::NODES)
        .map(|i| format!("10.77.0.{}/24", super::dht_tr::FIRST_NODE_HOST + i));
    for a in ADDRS.iter().map(|a| a.to_string()).chain(dht_nodes) {
        crate::run_status(Command::new("ip").args(["addr", "add", &a, "dev", "lo"]))?;
    }
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    let ctx = Ctx::new(&ferro, &work, mib)?;
    for cell in cells::cells() {
        if cell.netns && cell.label().contains(&filter) {
            let row = super::run_cell(&ctx, &cell);
            println!("ROW {}", row_to_json(&row));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_cross_the_pipe_unchanged() {
        let row = Row {
            case: "PEX discovery".into(),
            client: "transmission".into(),
            direction: "transmission → ferro".into(),
            outcome: Outcome::Pass,
            secs: 140.25,
            mbps: Some(0.125),
            note: "a \"quoted\" note | with a pipe".into(),
        };
        let back = row_from_json(&row_to_json(&row)).unwrap();
        assert_eq!(row_to_json(&back), row_to_json(&row));
        assert_eq!(back.direction, "transmission → ferro");
        assert!(matches!(back.outcome, Outcome::Pass));
        let failed = Row {
            outcome: Outcome::Fail,
            mbps: None,
            ..row
        };
        let back = row_from_json(&row_to_json(&failed)).unwrap();
        assert!(matches!(back.outcome, Outcome::Fail));
        assert_eq!(back.mbps, None);
        assert!(row_from_json("not json").is_err());
    }
}
