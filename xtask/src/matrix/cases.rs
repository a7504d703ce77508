//! The matrix's cells: every case × client × direction, and how each runs.
//!
//! A cell starts a seeder and a leecher (one of them `ferro`), tells each how
//! to find the other (tracker, DHT node, `x.pe`, a peer to dial), times the
//! leecher from its start to its completion and checks its copy by sha256.
//! Transmission 3.00 never dials loopback peers (interop-notes gotcha 8), so
//! when it leeches it starts first and Ferro dials it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::party::{self, Find, Proc, local};
use super::transmission::Transmission;
use super::{Client, Ctx, Direction, Measured};
use crate::Result;
use crate::swarm::{MIB, free_port};

/// How long one transfer may take before the cell fails.
pub const TRANSFER_TIMEOUT: Duration = Duration::from_secs(120);

/// Files to share and their sha256, relative to `parent`.
pub struct Payload {
    /// The directory that holds the payload (a seeder's data directory).
    pub parent: PathBuf,
    /// The file or directory a torrent is made of.
    pub root: PathBuf,
    pub files: Vec<(String, String)>,
    pub bytes: u64,
}

impl Payload {
    /// One file of `mib` MiB.
    pub fn single(work: &Path, mib: u64) -> Result<Payload> {
        let size = mib * MIB;
        Self::make(
            work.join("data-single"),
            "payload.bin",
            &[("", size)],
            0x2545_f491,
        )
    }

    /// Several files of odd sizes (one empty, one in a subdirectory), about
    /// `mib` / 2 MiB in all, so pieces cross file boundaries unless padded.
    pub fn multi(work: &Path, mib: u64) -> Result<Payload> {
        let half = mib * MIB / 2;
        Self::make(
            work.join("data-multi"),
            "multi",
            &[
                ("a.bin", half / 3 + 12_345),
                ("empty.txt", 0),
                ("sub/b.bin", half / 2 + 777),
                ("sub/c.bin", half / 6 + 4_321),
            ],
            0x9e37_79b9,
        )
    }

    fn make(parent: PathBuf, name: &str, files: &[(&str, u64)], seed: u64) -> Result<Payload> {
        let root = parent.join(name);
        let rels: Vec<(String, u64)> = files
            .iter()
            .map(|(f, n)| {
                let rel = if f.is_empty() {
                    name.to_owned()
                } else {
                    format!("{name}/{f}")
                };
                (rel, *n)
            })
            .collect();
        let refs: Vec<(&str, u64)> = rels.iter().map(|(r, n)| (r.as_str(), *n)).collect();
        party::write_files(&parent, &refs, seed)?;
        let mut hashed = Vec::new();
        for (rel, _) in &rels {
            hashed.push((rel.clone(), party::sha256(&parent.join(rel))?));
        }
        Ok(Payload {
            parent,
            root,
            files: hashed,
            bytes: rels.iter().map(|r| r.1).sum(),
        })
    }
}

/// sha256 of `dir/rel` (coreutils `sha256sum`; xtask is a debug build).
pub fn sha256(path: &Path) -> Result<String> {
    let line = crate::run_output(std::process::Command::new("sha256sum").arg(path))?;
    Ok(line
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned())
}

/// Checks that every `(relative path, sha256)` of `expected` is in `dir`.
pub fn verify(dir: &Path, expected: &[(String, String)]) -> Result {
    for (rel, hash) in expected {
        let got = dir.join(rel);
        if !got.exists() {
            return Err(format!("{} is missing", got.display()));
        }
        let h = sha256(&got)?;
        if &h != hash {
            return Err(format!("{}: sha256 {h}, expected {hash}", got.display()));
        }
    }
    Ok(())
}

/// Who plays a part.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Who {
    Ferro,
    Client(Client),
}

/// A running seeder or leecher.
pub enum Party {
    Ferro(Proc),
    Lt(Proc),
    Aria2(Proc),
    Tr(Box<Transmission>, i64),
}

/// Starts a seeder of `torrent` whose data is in `data`, listening on `port`.
pub fn seed(
    ctx: &Ctx,
    who: Who,
    torrent: &Path,
    data: &Path,
    port: u16,
    find: &Find,
    row: &Path,
) -> Result<Party> {
    let t = torrent.display().to_string();
    Ok(match who {
        Who::Ferro => Party::Ferro(party::ferro_seed(&ctx.ferro, torrent, data, port, find)?),
        Who::Client(Client::Libtorrent) => {
            let mut p = party::lt(&t, data, port, find, false)?;
            p.wait_line(Duration::from_secs(60), |l| l == "FINISHED")?;
            Party::Lt(p)
        }
        Who::Client(Client::Aria2) => Party::Aria2(party::aria2(&t, data, port, true, find)?),
        Who::Client(Client::Transmission) => {
            let mut tr = Transmission::start(&row.join("transmission-seed"), find.host(), port)?;
            let id = tr.seed(torrent, data)?;
            Party::Tr(Box::new(tr), id)
        }
    })
}

/// Starts a leecher of `source` (a .torrent path or a magnet link) into `dir`.
pub fn leech(
    ctx: &Ctx,
    who: Who,
    source: &str,
    dir: &Path,
    port: u16,
    find: &Find,
    row: &Path,
) -> Result<Party> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    Ok(match who {
        Who::Ferro => Party::Ferro(party::ferro_download(
            &ctx.ferro, source, dir, port, find, None,
        )?),
        Who::Client(Client::Libtorrent) => Party::Lt(party::lt(source, dir, port, find, true)?),
        Who::Client(Client::Aria2) => Party::Aria2(party::aria2(source, dir, port, false, find)?),
        Who::Client(Client::Transmission) => {
            let mut tr = Transmission::start(&row.join("transmission-leech"), find.host(), port)?;
            let id = tr.add(source, dir)?;
            tr.wait_active(id, Duration::from_secs(30))?;
            // Seen here: a connection in the first moment after a magnet
            // link was added is reset, and the dialer waits a minute.
            std::thread::sleep(Duration::from_secs(2));
            Party::Tr(Box::new(tr), id)
        }
    })
}

/// Waits until a leecher has every piece.
pub fn wait_done(p: &mut Party, timeout: Duration) -> Result {
    match p {
        Party::Ferro(p) | Party::Aria2(p) => p.wait_exit(timeout),
        Party::Lt(p) => p.wait_line(timeout, |l| l == "FINISHED").map(|_| ()),
        Party::Tr(tr, id) => tr.wait_complete(*id, timeout),
    }
}

/// One transfer between Ferro and `client`.
pub struct Transfer<'a> {
    pub torrent: PathBuf,
    /// What the leecher is given: the torrent's path, or a magnet link
    /// (built from the seeder's and leecher's ports).
    pub source: Box<dyn Fn(u16, u16) -> Result<String> + 'a>,
    pub payload: &'a Payload,
    /// (seeder's, leecher's) ways to find each other, from their ports.
    pub finds: Box<dyn Fn(u16, u16) -> (Find, Find) + 'a>,
    /// The tracker's HTTP port and the info-hash, to wait until the party
    /// started first has announced.
    pub tracker: Option<(u16, String)>,
    /// The client seeder's data directory, when not the payload's own.
    pub client_data: Option<PathBuf>,
}

/// sha256 of zero bytes.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Runs one transfer in `dir` direction and checks the copy.
pub fn transfer(
    ctx: &Ctx,
    client: Client,
    direction: Direction,
    row: &Path,
    t: &Transfer<'_>,
) -> Result<(Measured, Party, Party)> {
    let (seeder, leecher) = match direction {
        Direction::ToFerro => (Who::Client(client), Who::Ferro),
        Direction::FromFerro => (Who::Ferro, Who::Client(client)),
    };
    let (seed_port, leech_port) = (free_port()?, free_port()?);
    let (seed_find, leech_find) = (t.finds)(seed_port, leech_port);
    let source = (t.source)(seed_port, leech_port)?;
    let out = row.join("leech");
    let torrent = &t.torrent;
    let data = match (&t.client_data, seeder) {
        (Some(d), Who::Client(_)) => d,
        _ => &t.payload.parent,
    };
    // A leecher that never dials (Transmission) or that the seeder is told to
    // dial must be there first.
    let leech_first = leecher == Who::Client(Client::Transmission)
        || seed_find.peers.contains(&local(leech_port));
    let (s, mut l, start) = if leech_first {
        let start = Instant::now();
        let l = leech(ctx, leecher, &source, &out, leech_port, &leech_find, row)?;
        party::wait_port(leech_port, Duration::from_secs(30))?;
        if let Some((port, hash)) = &t.tracker {
            party::wait_announced(*port, hash, false, Duration::from_secs(30))?;
        }
        let s = seed(ctx, seeder, torrent, data, seed_port, &seed_find, row)?;
        (s, l, start)
    } else {
        let s = seed(ctx, seeder, torrent, data, seed_port, &seed_find, row)?;
        if let Some((port, hash)) = &t.tracker {
            party::wait_announced(*port, hash, true, Duration::from_secs(30))?;
        }
        let start = Instant::now();
        let l = leech(ctx, leecher, &source, &out, leech_port, &leech_find, row)?;
        (s, l, start)
    };
    wait_done(&mut l, TRANSFER_TIMEOUT)?;
    let secs = start.elapsed().as_secs_f64();
    let mut note = String::new();
    if leecher == Who::Client(Client::Transmission) {
        // Transmission 3.00 creates no zero-length file.
        let files: Vec<_> = t
            .payload
            .files
            .iter()
            .filter(|f| f.1 != EMPTY_SHA256)
            .cloned()
            .collect();
        if files.len() < t.payload.files.len() {
            note = "transmission creates no empty file; the others match".into();
        }
        party::verify(&out, &files)?;
    } else {
        party::verify(&out, &t.payload.files)?;
    }
    if leecher == Who::Ferro {
        no_extra_files(&out, &t.payload.files)?;
    }
    Ok((
        Measured {
            secs,
            bytes: t.payload.bytes,
            note,
        },
        s,
        l,
    ))
}

/// Ferro writes the payload's files and its own `.ferro/` state, nothing
/// else: no BEP 47 padding file reaches the disk.
pub fn no_extra_files(dir: &Path, files: &[(String, String)]) -> Result {
    let mut stack = vec![dir.to_path_buf()];
    // Bounded by the tree's size.
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).map_err(|e| e.to_string())? {
            let p = e.map_err(|e| e.to_string())?.path();
            let rel = p.strip_prefix(dir).map_err(|e| e.to_string())?;
            if rel.starts_with(".ferro") {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else if !files.iter().any(|(f, _)| Path::new(f) == rel) {
                return Err(format!(
                    "ferro wrote {} which is not a payload file",
                    rel.display()
                ));
            }
        }
    }
    Ok(())
}

/// The port a Find points at, for a tracker URL.
pub fn http_announce(port: u16) -> String {
    format!("http://{}/announce", local(port))
}
