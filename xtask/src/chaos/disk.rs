//! The disk faults of `cargo xtask chaos`, on real mounts (root needed; a
//! failing `mount` fails the task, it is never skipped):
//!
//! - **disk full**: a 32 MiB download into an 8 MiB tmpfs must exit non-zero
//!   with one `No space left on device` error (on stderr and as one `error`
//!   event), leave a whole, loadable resume file (and no temporary file);
//!   after the tmpfs is remounted at 64 MiB the same command must complete,
//!   keeping every piece verified before the error and downloading at most
//!   what was missing + 2 pieces, with the seed's sha256.
//! - **read-only**: a download into a read-only tmpfs exits non-zero with
//!   `Read-only file system`; a read-only bind mount of complete data can be
//!   seeded (a fresh leecher gets the seed's sha256), and one of partial
//!   data stops with a clear read-only error instead of "bad file
//!   descriptor".

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::Progress;
use crate::swarm::{
    Guard, MIB, download_command, field, run_ferro_info, sha256s, start_seeder, start_swarm,
};
use crate::{Result, run_status};

/// A mount point, unmounted (lazily, so a busy one still goes) when dropped.
struct Mount(PathBuf);

impl Mount {
    fn new(dir: &Path, args: &[&str]) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        run_status(Command::new("mount").args(args).arg(dir)).map_err(|e| {
            format!("{e}\nchaos: the disk tests need real mounts (run as root); not skipped")
        })?;
        Ok(Mount(dir.to_owned()))
    }

    /// A tmpfs of `opts` (e.g. `size=8m` or `ro,size=1m`).
    fn tmpfs(dir: &Path, opts: &str) -> Result<Self> {
        Self::new(dir, &["-t", "tmpfs", "-o", opts, "tmpfs"])
    }

    /// `from` seen read-only at `dir` (a bind mount, then remounted ro).
    fn read_only_bind(from: &Path, dir: &Path) -> Result<Self> {
        let m = Self::new(dir, &["--bind", &from.to_string_lossy()])?;
        run_status(
            Command::new("mount")
                .args(["-o", "remount,bind,ro"])
                .arg(dir),
        )?;
        Ok(m)
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// What a finished `ferro download --json` printed.
struct Outcome {
    status: ExitStatus,
    lines: Vec<String>,
    stderr: String,
}

impl Outcome {
    fn first_progress(&self) -> Option<Progress> {
        self.lines.iter().find_map(|l| Progress::parse(l))
    }
    fn last_progress(&self) -> Option<Progress> {
        self.lines.iter().rev().find_map(|l| Progress::parse(l))
    }
    fn events(&self, name: &str) -> Vec<&String> {
        let tag = format!("\"event\":\"{name}\"");
        self.lines.iter().filter(|l| l.contains(&tag)).collect()
    }
    /// The one `ferro: error:` line (there must be exactly one).
    fn error_line(&self) -> Result<&str> {
        let errors: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| l.starts_with("ferro: error:"))
            .collect();
        match errors.as_slice() {
            [one] => Ok(one),
            _ => Err(format!(
                "expected one error line on stderr, got:\n{}",
                self.stderr
            )),
        }
    }
}

/// Runs `ferro download --json` to its end (at most `timeout`).
fn download(
    bin: &Path,
    torrent: &Path,
    out: &Path,
    extra: &[&str],
    timeout: Duration,
) -> Result<Outcome> {
    let mut child = Guard(
        download_command(bin, torrent, out, extra)
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start ferro download: {e}"))?,
    );
    let mut stdout = child.0.stdout.take().ok_or("no stdout")?;
    let mut stderr = child.0.stderr.take().ok_or("no stderr")?;
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    // Bounded by `timeout`.
    let status = loop {
        if let Some(s) = child.0.try_wait().map_err(|e| e.to_string())? {
            break s;
        }
        if start.elapsed() > timeout {
            return Err(format!(
                "ferro download into {} hung for {timeout:?}",
                out.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let lines = out_reader
        .join()
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect();
    let stderr = err_reader.join().unwrap_or_default();
    Ok(Outcome {
        status,
        lines,
        stderr,
    })
}

/// A seeded 32 MiB torrent: (torrent, seed dir, --peer address, guards).
fn seeded(
    bin: &Path,
    work: &Path,
    name: &str,
    size: u64,
) -> Result<(PathBuf, PathBuf, String, [Guard; 2])> {
    let seed_dir = work.join(format!("{name}-seed"));
    let torrent = work.join(format!("{name}.torrent"));
    let swarm = start_swarm(bin, &seed_dir, size, &torrent, "256K")?;
    let peer = format!("127.0.0.1:{}", swarm.seed_port);
    Ok((torrent, seed_dir, peer, [swarm.tracker, swarm.seeder]))
}

/// The resume file in `dir` decodes and matches the torrent: its info-hash,
/// a bitfield of the right length, one stamp per file. Returns its pieces.
fn check_resume(bin: &Path, torrent: &Path, dir: &Path) -> Result<u32> {
    let info = run_ferro_info(bin, torrent)?;
    let hex = info.info_hash;
    let ferro_dir = dir.join(".ferro");
    let path = ferro_dir.join(format!("{hex}.resume"));
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let doc = ferro_bencode::decode(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    let d = doc
        .root()
        .as_dict()
        .ok_or("resume file: not a dictionary")?;
    let ih = d
        .get(b"info-hash")
        .and_then(|v| v.as_bytes())
        .ok_or("resume: no info-hash")?;
    let ih_hex: String = ih.iter().map(|b| format!("{b:02x}")).collect();
    let pieces = d
        .get(b"pieces")
        .and_then(|v| v.as_bytes())
        .ok_or("resume: no pieces")?;
    let files = d
        .get(b"files")
        .and_then(|v| v.as_list())
        .ok_or("resume: no files")?;
    if ih_hex != hex {
        return Err(format!("resume file is for {ih_hex}, not {hex}"));
    }
    if pieces.len() as u64 != info.piece_count.div_ceil(8) || files.len() != info.file_count {
        return Err(format!(
            "resume file: {} bitfield bytes, {} files; torrent: {} pieces, {} files",
            pieces.len(),
            files.len(),
            info.piece_count,
            info.file_count
        ));
    }
    for e in std::fs::read_dir(&ferro_dir).map_err(|e| e.to_string())? {
        let name = e.map_err(|e| e.to_string())?.file_name();
        if name.to_string_lossy().ends_with(".tmp") {
            return Err(format!("a temporary resume file was left behind: {name:?}"));
        }
    }
    Ok(pieces.iter().map(|b| b.count_ones()).sum())
}

pub fn disk_full(bin: &Path, work: &Path) -> Result {
    let size = 32 * MIB;
    let (torrent, seed_dir, peer, _guards) = seeded(bin, work, "full", size)?;
    let mnt = work.join("full-mnt");
    let mount = Mount::tmpfs(&mnt, "size=8m")?;
    let out = mnt.join("dl");
    let extra = ["--peer", peer.as_str()];
    let full = download(bin, &torrent, &out, &extra, Duration::from_secs(60))?;
    if full.status.success() {
        return Err("a 32 MiB download into an 8 MiB tmpfs exited 0".into());
    }
    let line = full.error_line()?;
    if !line.contains("No space left on device") {
        return Err(format!("disk full: unclear error: {line}"));
    }
    let events = full.events("error");
    if events.len() != 1 || !events.iter().all(|e| e.contains("No space left on device")) {
        return Err(format!(
            "disk full: expected one error event, got {events:?}"
        ));
    }
    let before = full.last_progress().map(|p| p.pieces).unwrap_or(0);
    let saved = check_resume(bin, &torrent, &out)?;
    println!(
        "chaos: disk full: exit code {:?}, {line:?}; {before} pieces shown verified; resume file whole ({saved} pieces in it)",
        full.status.code()
    );

    run_status(
        Command::new("mount")
            .args(["-o", "remount,size=64m"])
            .arg(&mnt),
    )?;
    let again = download(bin, &torrent, &out, &extra, Duration::from_secs(120))?;
    if !again.status.success() {
        return Err(format!(
            "after freeing space: {}\n{}",
            again.status, again.stderr
        ));
    }
    let first = again
        .first_progress()
        .ok_or("no progress line after freeing space")?;
    if first.pieces < before {
        return Err(format!(
            "after freeing space: started with {} pieces, {before} were verified before",
            first.pieces
        ));
    }
    let finished = again.events("finished");
    let downloaded = finished
        .first()
        .and_then(|l| field(l, "downloaded"))
        .ok_or("no finished line")?;
    let missing = size - first.verified_bytes + first.downloaded;
    if downloaded > missing + 2 * 256 * 1024 {
        return Err(format!(
            "after freeing space: downloaded {downloaded} bytes, {missing} were missing"
        ));
    }
    if sha256s(&out)? != sha256s(&seed_dir)? {
        return Err("after freeing space: sha256 differs from the seed".into());
    }
    println!(
        "chaos: disk full: after remounting at 64 MiB: completed, {} pieces kept, {downloaded} of {missing} missing bytes downloaded, sha256 ok",
        first.pieces
    );
    drop(mount);
    Ok(())
}

pub fn read_only(bin: &Path, work: &Path) -> Result {
    let size = 8 * MIB;
    let (torrent, seed_dir, peer, [_tracker, rw_seeder]) = seeded(bin, work, "ro", size)?;
    let extra = ["--peer", peer.as_str()];

    // 1. Into a read-only file system.
    let ro = work.join("ro-mnt");
    let _ro = Mount::tmpfs(&ro, "ro,size=1m")?;
    let r = download(
        bin,
        &torrent,
        &ro.join("dl"),
        &extra,
        Duration::from_secs(30),
    )?;
    let line = r.error_line()?;
    if r.status.success() || !line.contains("Read-only file system") {
        return Err(format!("read-only tmpfs: exit {}, {line}", r.status));
    }
    println!(
        "chaos: read-only tmpfs: exit code {:?}, {line:?}",
        r.status.code()
    );

    // 2. Seeding complete data from a read-only bind mount, alone (the
    // tracker must not hand out the read-write seeder).
    drop(rw_seeder);
    let ro_seed = work.join("ro-seed");
    let _bind = Mount::read_only_bind(&seed_dir, &ro_seed)?;
    let (mut ro_seeder, ro_port) = start_seeder(bin, &torrent, &ro_seed)?;
    let ro_peer = format!("127.0.0.1:{ro_port}");
    let fresh = work.join("ro-leech");
    let r = download(
        bin,
        &torrent,
        &fresh,
        &["--peer", ro_peer.as_str()],
        Duration::from_secs(60),
    )?;
    if let Some(status) = ro_seeder.0.try_wait().map_err(|e| e.to_string())? {
        return Err(format!("the read-only seeder exited: {status}"));
    }
    if !r.status.success() || sha256s(&fresh)? != sha256s(&seed_dir)? {
        return Err(format!(
            "seeding from a read-only mount failed: {}\n{}",
            r.status, r.stderr
        ));
    }
    println!("chaos: read-only bind mount of complete data: seeded, the leecher's sha256 matches");

    // 3. Partial data on a read-only bind mount: stops with a clear error.
    let partial = work.join("ro-partial-src");
    copy_payload(&seed_dir, &partial)?;
    let a = partial.join("payload/a.bin");
    let len = std::fs::metadata(&a).map_err(|e| e.to_string())?.len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&a)
        .and_then(|f| f.set_len(len / 2))
        .map_err(|e| e.to_string())?;
    let ro_partial = work.join("ro-partial");
    let _bind2 = Mount::read_only_bind(&partial, &ro_partial)?;
    let from_ro = ["--peer", ro_peer.as_str()];
    let r = download(
        bin,
        &torrent,
        &ro_partial,
        &from_ro,
        Duration::from_secs(60),
    )?;
    let line = r.error_line()?;
    if r.status.success() || !line.contains("read-only") {
        return Err(format!(
            "partial data on a read-only mount: exit {}, {line}",
            r.status
        ));
    }
    println!(
        "chaos: read-only bind mount of partial data: exit code {:?}, {line:?}",
        r.status.code()
    );
    Ok(())
}

fn copy_payload(from: &Path, to: &Path) -> Result {
    run_status(Command::new("cp").arg("-a").arg(from).arg(to))
}
