//! `cargo xtask fuzz`: every cargo-fuzz target, on a stable toolchain.
//!
//! `-s none` builds without a sanitizer (AddressSanitizer needs nightly), which
//! still gives coverage-guided fuzzing that catches panics, overflows (debug
//! assertions are on) and timeouts. New inputs go to a scratch directory; the
//! checked-in corpus in `fuzz/corpus/<target>` is read, not modified.
//! `--corpus-out DIR` keeps the new inputs in `DIR/<target>`.

use std::time::Instant;

use crate::{Result, root, run_output};

pub fn run(args: &[String]) -> Result {
    let mut seconds = 20u64;
    let mut targets = Vec::new();
    let mut corpus_out: Option<std::path::PathBuf> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seconds" | "--minutes" => {
                let n: u64 = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or_else(|| format!("{a} needs a whole number"))?;
                seconds = if a == "--seconds" { n } else { n * 60 };
            }
            "--corpus-out" => {
                corpus_out = Some(it.next().ok_or("--corpus-out needs a directory")?.into());
            }
            t => targets.push(t.to_string()),
        }
    }
    let fuzz_dir = root().join("fuzz");
    if targets.is_empty() {
        let list = run_output(
            std::process::Command::new("cargo")
                .current_dir(&fuzz_dir)
                .args(["fuzz", "list"]),
        )?;
        targets = list
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect();
    }
    if targets.is_empty() {
        return Err("no fuzz targets found".into());
    }
    // One build for all targets.
    crate::run_status(
        std::process::Command::new("cargo")
            .current_dir(&fuzz_dir)
            .args(["fuzz", "build", "-s", "none"]),
    )?;
    // New inputs go to a scratch directory, or to --corpus-out DIR (kept, so a
    // long run's findings can be minimized into the checked-in corpus).
    let scratch = corpus_out
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join(format!("ferro-fuzz-{}", std::process::id())));
    let mut rows = Vec::new();
    let mut failed = 0;
    for t in &targets {
        let out_corpus = scratch.join(t);
        std::fs::create_dir_all(&out_corpus).map_err(|e| e.to_string())?;
        let seed = fuzz_dir.join("corpus").join(t);
        std::fs::create_dir_all(&seed).map_err(|e| e.to_string())?;
        let start = Instant::now();
        let out = std::process::Command::new("cargo")
            .current_dir(&fuzz_dir)
            .args(["fuzz", "run", "-s", "none", t])
            .arg(&out_corpus)
            .arg(&seed)
            .arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .arg("-print_final_stats=1")
            .output()
            .map_err(|e| format!("cannot run cargo fuzz: {e}"))?;
        let log = String::from_utf8_lossy(&out.stderr);
        let execs = log
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("stat::number_of_executed_units:"))
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|| "?".into());
        let ok = out.status.success();
        if !ok {
            failed += 1;
            eprintln!("--- {t} failed; last lines of its log:");
            for l in log
                .lines()
                .rev()
                .take(40)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
            {
                eprintln!("{l}");
            }
        }
        rows.push((t.clone(), ok, execs, start.elapsed().as_secs()));
    }
    if corpus_out.is_none() {
        let _ = std::fs::remove_dir_all(&scratch);
    }
    println!(
        "\n{:<28} {:<6} {:>14} {:>6}",
        "fuzz target", "result", "executions", "secs"
    );
    for (t, ok, execs, secs) in &rows {
        println!(
            "{:<28} {:<6} {:>14} {:>6}",
            t,
            if *ok { "PASS" } else { "FAIL" },
            execs,
            secs
        );
    }
    println!("fuzz: {} passed, {} failed", rows.len() - failed, failed);
    if failed > 0 {
        Err(format!("{failed} fuzz target(s) found a crash"))
    } else {
        Ok(())
    }
}
