//! Damaged resume files: truncated, bytes flipped, another torrent's, a wrong
//! piece count, or a bitfield claiming pieces whose data is wrong on disk.
//! Each must be detected (the pieces are found by hashing, never trusted from
//! the damaged file), the download must complete from a seeder with the
//! seed's exact bytes, and nothing may panic.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use ferro_client::resume::{ResumeData, resume_path};
use ferro_client::{AddTorrent, Session};
use ferro_metainfo::Metainfo;
use ferro_wire::Bitfield;
use sha1::{Digest, Sha1};

const TIMEOUT: Duration = Duration::from_secs(60);
const PIECE: u64 = 32 * 1024;

/// A seeder and the torrent it seeds.
struct Swarm {
    tmp: tempfile::TempDir,
    seed_dir: PathBuf,
    torrent: Metainfo,
    seeder: Session,
}

async fn swarm() -> Swarm {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = common::make_payload(tmp.path(), 1024 * 1024);
    let torrent = common::make_torrent(&seed_dir, PIECE, &[]);
    let seeder = common::seeder(common::config(), &torrent, &seed_dir).await;
    Swarm {
        tmp,
        seed_dir,
        torrent,
        seeder,
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), dst).unwrap();
        }
    }
}

/// The pieces whose data in `dir` hashes right, computed without Ferro's
/// storage code (the files in torrent order, cut into pieces).
fn good_pieces(torrent: &Metainfo, dir: &Path) -> Vec<u32> {
    let info = &torrent.info;
    let mut all = Vec::new();
    for f in info.files() {
        let mut data = std::fs::read(dir.join(&f.path)).unwrap_or_default();
        data.resize(f.length as usize, 0);
        all.extend_from_slice(&data);
    }
    all.chunks(info.piece_length() as usize)
        .enumerate()
        .filter(|(i, chunk)| {
            let h: [u8; 20] = Sha1::digest(chunk).into();
            Some(&h) == info.piece_hash(*i as u32)
        })
        .map(|(i, _)| i as u32)
        .collect()
}

impl Swarm {
    /// A complete copy of the seed in a fresh directory, with the valid
    /// resume file a Ferro session writes for it.
    async fn complete_copy(&self, name: &str) -> PathBuf {
        let dir = self.tmp.path().join(name);
        copy_tree(&self.seed_dir, &dir);
        let s = Session::new(common::config()).await.unwrap();
        let h = s
            .add_torrent(AddTorrent::new(self.torrent.clone(), &dir))
            .await
            .unwrap();
        assert_eq!(h.stats().pieces_have, h.stats().piece_count);
        s.shutdown().await;
        assert!(self.resume_file(&dir).is_file(), "no resume file written");
        dir
    }

    fn resume_file(&self, dir: &Path) -> PathBuf {
        resume_path(dir, &self.torrent.info.info_hash())
    }

    /// Adds the torrent over `dir`'s damaged state: the pieces found at start
    /// must be exactly `expected_have` (or a subset of the good ones when
    /// `exact` is false); then it completes from the seeder, byte-exact.
    async fn restart_and_complete(&self, dir: &Path, what: &str, exact: bool) {
        let good = good_pieces(&self.torrent, dir);
        let s = Session::new(common::config()).await.unwrap();
        let h = s
            .add_torrent(AddTorrent::new(self.torrent.clone(), dir))
            .await
            .unwrap_or_else(|e| panic!("{what}: add failed: {e}"));
        let have: Vec<u32> = h.have().iter_ones().collect();
        for p in &have {
            assert!(
                good.contains(p),
                "{what}: piece {p} claimed but wrong on disk"
            );
        }
        if exact {
            assert_eq!(
                have, good,
                "{what}: good pieces on disk not found by the recheck"
            );
        }
        h.add_peers([self.seeder.listen_addr()]);
        tokio::time::timeout(TIMEOUT, h.wait_until_complete())
            .await
            .unwrap_or_else(|_| panic!("{what}: download timed out"))
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(
            common::digests(dir),
            common::digests(&self.seed_dir),
            "{what}: data differs from the seed"
        );
        s.shutdown().await;
        // The resume file written on exit is whole again and says complete.
        let r = ResumeData::load(&self.resume_file(dir)).unwrap().unwrap();
        let saved =
            Bitfield::from_bytes(&r.pieces, self.torrent.info.piece_count() as usize).unwrap();
        assert_eq!(
            saved.count_ones() as u32,
            self.torrent.info.piece_count(),
            "{what}"
        );
    }
}

/// Zeroes `len` bytes of `file` at `at`, then sets its mtime back to what it
/// was: the damage is invisible to the resume file's size/mtime stamps.
fn damage_keeping_mtime(file: &Path, at: u64, len: usize) {
    use std::os::unix::fs::FileExt;
    let mtime = std::fs::metadata(file).unwrap().modified().unwrap();
    let f = std::fs::OpenOptions::new().write(true).open(file).unwrap();
    f.write_all_at(&vec![0u8; len], at).unwrap();
    f.set_modified(mtime).unwrap();
}

/// Zeroes `len` bytes of `file` at `at` (its mtime moves, as in real life).
fn damage(file: &Path, at: u64, len: usize) {
    use std::os::unix::fs::FileExt;
    // Make sure the new mtime differs from the stamped one even on coarse clocks.
    std::thread::sleep(Duration::from_millis(20));
    let f = std::fs::OpenOptions::new().write(true).open(file).unwrap();
    f.write_all_at(&vec![0u8; len], at).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_resume_files_mean_a_full_recheck() {
    let sw = swarm().await;
    let template = sw.complete_copy("template").await;
    let bytes = std::fs::read(sw.resume_file(&template)).unwrap();
    let len = bytes.len();
    for cut in [0, 1, 7, 40, len / 2, len - 2, len - 1] {
        let dir = sw.complete_copy(&format!("cut{cut}")).await;
        // Some data missing too, with mtimes kept: only hashing can tell.
        damage_keeping_mtime(&dir.join("payload/sub/b.bin"), 1000, 100_000);
        std::fs::write(sw.resume_file(&dir), &bytes[..cut]).unwrap();
        sw.restart_and_complete(&dir, &format!("resume cut at {cut}/{len}"), true)
            .await;
    }
    sw.seeder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flipped_bytes_never_make_bad_pieces_trusted() {
    let sw = swarm().await;
    let template = sw.complete_copy("template").await;
    let bytes = std::fs::read(sw.resume_file(&template)).unwrap();
    let len = bytes.len();
    // Every eighth byte, and the last: structure, stamps and bitfield alike.
    let positions: Vec<usize> = (0..len).step_by(len.div_ceil(8)).chain([len - 1]).collect();
    for (i, at) in positions.into_iter().enumerate() {
        let dir = sw.complete_copy(&format!("flip{i}")).await;
        // The data changes after the resume file was written (mtime moves).
        damage(&dir.join("payload/a.bin"), 5000, 70_000);
        let mut b = bytes.clone();
        b[at] ^= 0x5a;
        std::fs::write(sw.resume_file(&dir), &b).unwrap();
        sw.restart_and_complete(&dir, &format!("byte {at}/{len} flipped"), false)
            .await;
    }
    sw.seeder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_data_of_another_torrent_or_piece_count_is_rejected() {
    let sw = swarm().await;
    let template = sw.complete_copy("template").await;
    let valid = ResumeData::load(&sw.resume_file(&template))
        .unwrap()
        .unwrap();
    let pieces = sw.torrent.info.piece_count() as usize;

    let mut other_hash = valid.clone();
    other_hash.info_hash[0] ^= 1;
    let mut short_info_hash = valid.clone();
    short_info_hash.info_hash.truncate(7);
    let mut more_pieces = valid.clone();
    more_pieces.pieces = Bitfield::new(pieces + 9).as_bytes().to_vec();
    more_pieces.pieces.fill(0xff);
    let mut fewer_pieces = valid.clone();
    fewer_pieces.pieces.truncate(1);
    let mut fewer_files = valid.clone();
    fewer_files.files.pop();
    let mut empty_bitfield = valid.clone();
    empty_bitfield.pieces.clear();
    let cases = [
        ("info-hash of another torrent", other_hash),
        ("7-byte info-hash", short_info_hash),
        ("bitfield for more pieces", more_pieces),
        ("bitfield for fewer pieces", fewer_pieces),
        ("one file fewer", fewer_files),
        ("empty bitfield", empty_bitfield),
    ];
    for (i, (what, data)) in cases.into_iter().enumerate() {
        let dir = sw.complete_copy(&format!("case{i}")).await;
        damage_keeping_mtime(&dir.join("payload/a.bin"), 40_000, 50_000);
        std::fs::write(sw.resume_file(&dir), data.to_bytes().unwrap()).unwrap();
        sw.restart_and_complete(&dir, what, true).await;
    }
    sw.seeder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bitfield_claiming_pieces_wrong_on_disk_is_caught() {
    let sw = swarm().await;
    // A whole file's data lost while its stamp still matches (restored
    // mtime, a copy tool that keeps times, a disk that lost writes): the
    // resume file claims every piece.
    let dir = sw.complete_copy("claims").await;
    let b = dir.join("payload/sub/b.bin");
    let b_len = std::fs::metadata(&b).unwrap().len() as usize;
    damage_keeping_mtime(&b, 0, b_len);
    sw.restart_and_complete(&dir, "claims pieces of a zeroed file", true)
        .await;

    // Same with data changed after the save (the stamp differs).
    let dir = sw.complete_copy("claims-mtime").await;
    damage(&dir.join("payload/sub/c.bin"), 0, 20_000);
    sw.restart_and_complete(&dir, "claims pieces of a changed file", true)
        .await;
    sw.seeder.shutdown().await;
}

/// Resume saves from several places at once (the periodic task, completion,
/// stop, the API) are serialized: none fails on another's temporary file and
/// the file left on disk is whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_resume_saves_all_succeed() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = common::make_payload(tmp.path(), 1024 * 1024);
    let torrent = common::make_torrent(&seed_dir, PIECE, &[]);
    let session = Session::new(common::config()).await.unwrap();
    let h = session
        .add_torrent(AddTorrent::new(torrent.clone(), &seed_dir))
        .await
        .unwrap();
    tokio::time::timeout(TIMEOUT, h.wait_until_complete())
        .await
        .expect("the seeder's check finishes")
        .unwrap();
    let saves: Vec<_> = (0..400)
        .map(|_| {
            let h = h.clone();
            tokio::spawn(async move { h.save_resume().await })
        })
        .collect();
    for s in saves {
        s.await.unwrap().expect("every concurrent save succeeds");
    }
    let path = resume_path(&seed_dir, &torrent.info_hash());
    let data = ResumeData::load(&path).unwrap().expect("a resume file");
    assert_eq!(data.info_hash, torrent.info_hash().as_bytes().to_vec());
}
