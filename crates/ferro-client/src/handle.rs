//! Adding a torrent, its background tasks, and the handle users hold.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ferro_core::InfoHash;
use ferro_tracker::{AnnounceRequest, Event, TrackerTiers};
use ferro_wire::Bitfield;
use tokio::sync::broadcast;

use crate::event::{TorrentEvent, TorrentStats};
use crate::picker::PiecePicker;
use crate::resume::{ResumeData, resume_path};
use crate::session::{AddTorrent, SessionInner, new_shared};
use crate::storage::{Storage, hashing_threads};
use crate::torrent::{TorrentShared, dial_candidates};
use crate::{Error, FilePriority, FileProgress, connect};

/// A torrent in a [`Session`](crate::Session). Cheap to clone.
#[derive(Clone)]
pub struct TorrentHandle {
    shared: Arc<TorrentShared>,
    session: Arc<SessionInner>,
}

impl std::fmt::Debug for TorrentHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TorrentHandle")
            .field("info_hash", &self.shared.info_hash)
            .finish()
    }
}

impl TorrentHandle {
    pub(crate) fn new(shared: Arc<TorrentShared>, session: Arc<SessionInner>) -> Self {
        TorrentHandle { shared, session }
    }

    /// The torrent's info-hash.
    pub fn info_hash(&self) -> InfoHash {
        self.shared.info_hash
    }

    /// The torrent's `info`.
    pub fn info(&self) -> &ferro_metainfo::Info {
        &self.shared.info
    }

    /// A snapshot of the torrent's numbers.
    pub fn stats(&self) -> TorrentStats {
        self.shared.stats()
    }

    /// The [`TorrentEvent::Checked`] of the startup check, once it is done.
    /// The check runs inside `add_torrent`, before anyone can subscribe to
    /// [`events`](Self::events), so this is how a caller learns its result.
    pub fn checked(&self) -> Option<TorrentEvent> {
        self.shared.lock().checked.clone()
    }

    /// Addresses of the peers connected now.
    pub fn connected_peers(&self) -> Vec<SocketAddr> {
        self.shared.lock().peers.values().map(|p| p.addr).collect()
    }

    /// Each connected peer's queues (requests queued for upload, bytes
    /// waiting to be sent, our requests in flight), as its task reported
    /// them in the last second: the sizes a hostile peer cannot grow past
    /// the configured limits.
    pub fn peer_queues(&self) -> Vec<crate::PeerQueues> {
        self.shared
            .lock()
            .peers
            .values()
            .map(|p| p.queues)
            .collect()
    }

    /// Known peer addresses (to connect to, or connected before), each with
    /// where we first learned it.
    pub fn known_peers(&self) -> Vec<(SocketAddr, crate::PeerSource)> {
        let st = self.shared.lock();
        st.known
            .keys()
            .map(|a| {
                let source = if st.known_pex.contains(a) {
                    crate::PeerSource::Pex
                } else {
                    crate::PeerSource::Other
                };
                (*a, source)
            })
            .collect()
    }

    /// Verified pieces.
    pub fn have(&self) -> Bitfield {
        self.shared.lock().picker.have().clone()
    }

    /// A stream of events from now on (a slow receiver skips events; see
    /// [`broadcast::Receiver`]).
    pub fn events(&self) -> broadcast::Receiver<TorrentEvent> {
        self.shared.events.subscribe()
    }

    /// Waits until every piece is verified on disk. Fails if the torrent
    /// stops on an error or is removed first.
    pub async fn wait_until_complete(&self) -> Result<(), Error> {
        let mut complete = self.shared.complete.subscribe();
        let mut stop = self.shared.stop.subscribe();
        // Bounded by the torrent's life: each wake is a state change.
        loop {
            if *complete.borrow_and_update() {
                return Ok(());
            }
            if let Some(e) = self.shared.lock().error.clone() {
                return Err(Error::Torrent(e));
            }
            if *stop.borrow_and_update() {
                return Err(Error::Stopped);
            }
            tokio::select! {
                r = complete.changed() => if r.is_err() { return Err(Error::Stopped) },
                r = stop.changed() => if r.is_err() { return Err(Error::Stopped) },
            }
        }
    }

    /// Dials these peers (besides those from trackers).
    pub fn add_peers(&self, addrs: impl IntoIterator<Item = SocketAddr>) {
        self.shared.add_known(addrs);
    }

    /// Adds web seed URLs (BEP 19) and starts fetching from each new one
    /// (a URL already known is ignored).
    pub fn add_web_seeds<S: Into<String>>(&self, urls: impl IntoIterator<Item = S>) {
        let urls: Vec<String> = urls.into_iter().map(Into::into).collect();
        crate::webseed::start(&self.shared, &self.session.web_client, &urls);
    }

    /// The priority of each file (`info().files()` order, padding included).
    pub fn file_priorities(&self) -> Vec<FilePriority> {
        let files = self.shared.info.files().len();
        let mut p = self.shared.lock().file_priorities.clone();
        p.resize(files, FilePriority::Normal);
        p
    }

    /// Sets the priority of file `index` while the torrent runs. A skipped
    /// file is no longer downloaded (blocks in flight still land); a file
    /// raised from skip is created and downloaded, and the torrent is no
    /// longer complete until it is. Remembered in the resume data.
    pub fn set_file_priority(&self, index: usize, priority: FilePriority) -> Result<(), Error> {
        let mut all = self.file_priorities();
        let files = all.len();
        let Some(slot) = all.get_mut(index) else {
            return Err(Error::FileIndex { index, files });
        };
        *slot = priority;
        self.set_file_priorities(all)
    }

    /// Sets every file's priority (one entry per file of `info().files()`);
    /// see [`set_file_priority`](Self::set_file_priority). Files newly
    /// wanted are created here (a few file system calls each).
    pub fn set_file_priorities(&self, priorities: Vec<FilePriority>) -> Result<(), Error> {
        let files = self.shared.info.files().len();
        if priorities.len() != files {
            return Err(Error::FileIndex {
                index: priorities.len(),
                files,
            });
        }
        for (i, p) in priorities.iter().enumerate() {
            if p.is_wanted() {
                self.shared.storage.ensure_file(i)?;
            }
        }
        self.shared.set_file_priorities(priorities);
        Ok(())
    }

    /// Picks pieces in index order (for streaming) or, `false`, rarest
    /// first (the default). See [`crate::picker`].
    pub fn set_sequential(&self, sequential: bool) {
        self.shared.lock().picker.set_sequential(sequential);
    }

    /// Whether pieces are picked in index order.
    pub fn is_sequential(&self) -> bool {
        self.shared.lock().picker.is_sequential()
    }

    /// Progress of each file: bytes inside verified pieces, with its priority.
    pub fn file_progress(&self) -> Vec<FileProgress> {
        let (have, priorities) = {
            let st = self.shared.lock();
            (st.picker.have().clone(), st.file_priorities.clone())
        };
        crate::selection::file_progress(&self.shared.info, &have, &priorities)
    }

    /// Disconnects every peer and stops making connections until [`resume`](Self::resume).
    pub fn pause(&self) {
        let mut st = self.shared.lock();
        st.paused = true;
        for p in st.peers.values_mut() {
            p.disconnect = Some("paused".into());
            p.wake.notify_one();
        }
    }

    /// Undoes [`pause`](Self::pause).
    pub fn resume(&self) {
        self.shared.lock().paused = false;
        self.shared.wake.notify_one();
    }

    /// Writes the resume file now.
    pub async fn save_resume(&self) -> Result<(), Error> {
        save_resume(&self.shared).await
    }

    /// Stops the torrent: peers are disconnected, resume data written, and
    /// trackers told `stopped` (waiting a few seconds at most). Data stays on disk.
    pub async fn remove(&self) {
        self.shared.stop.send_replace(true);
        {
            let mut map = self
                .session
                .torrents
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            map.remove(&self.shared.info_hash);
        }
        let announcer = self
            .shared
            .announcer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        // Pieces already handed to the hash-and-write workers still land in
        // the have-bitfield; let them finish (a few seconds at most) so the
        // resume file records every piece that is verified on disk.
        let drained = tokio::time::timeout(Duration::from_secs(10), async {
            while self.shared.pending_verify.load(Ordering::Relaxed) > 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        if drained.is_err() {
            tracing::warn!("pieces still being verified when the resume data was written");
        }
        if let Err(e) = save_resume(&self.shared).await {
            tracing::warn!(error = %e, "could not write resume data");
        }
        if let Some(a) = announcer {
            let _ = tokio::time::timeout(Duration::from_secs(5), a).await;
        }
    }
}

async fn save_resume(shared: &Arc<TorrentShared>) -> Result<(), Error> {
    if shared.lock().checking {
        return Ok(());
    }
    let _saving = shared.resume_save.lock().await;
    let (have, priorities) = {
        let st = shared.lock();
        (st.picker.have().clone(), st.file_priorities.clone())
    };
    let count = have.count_ones() as u64;
    let storage = shared.storage.clone();
    let path = shared.resume_path.clone();
    let ih = shared.info_hash;
    tokio::task::spawn_blocking(move || {
        ResumeData::capture(&ih, &have, storage.paths())
            .with_priorities(&priorities)
            .save(&path)
    })
    .await
    .map_err(|e| Error::Internal(e.to_string()))??;
    shared.resume_saved_at.store(count, Ordering::Relaxed);
    Ok(())
}

pub(crate) async fn add_torrent(
    inner: &Arc<SessionInner>,
    add: AddTorrent,
) -> Result<TorrentHandle, Error> {
    let info = Arc::new(add.metainfo.info.clone());
    let ih = info.info_hash();
    if inner
        .torrents
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .contains_key(&ih)
    {
        return Err(Error::DuplicateTorrent(ih.to_hex()));
    }
    // File priorities: the caller's, else the resume data's, else all normal.
    let files = info.files().len();
    let priorities = match &add.file_priorities {
        Some(p) if p.len() != files => {
            return Err(Error::FileIndex {
                index: p.len(),
                files,
            });
        }
        Some(p) => p.clone(),
        None => add
            .use_resume
            .then(|| ResumeData::load(&resume_path(&add.download_dir, &ih)).ok())
            .flatten()
            .flatten()
            .and_then(|r| r.file_priorities(files))
            .unwrap_or_else(|| vec![FilePriority::Normal; files]),
    };
    let wanted: Vec<bool> = priorities.iter().map(|p| p.is_wanted()).collect();
    let dir = add.download_dir.clone();
    let storage = {
        let info = info.clone();
        tokio::task::spawn_blocking(move || Storage::open_selected(info, &dir, &wanted))
            .await
            .map_err(|e| Error::Internal(e.to_string()))??
    };
    let storage = Arc::new(storage);
    let mut picker = PiecePicker::new(info.piece_length(), info.total_length());
    picker.set_piece_priorities(&crate::selection::piece_priorities(&info, &priorities));
    picker.set_sequential(add.sequential);
    let rpath = resume_path(&add.download_dir, &ih);
    let shared = new_shared(inner, info.clone(), storage.clone(), rpath.clone(), picker);
    shared.lock().file_priorities = priorities;
    {
        let mut map = inner.torrents.lock().unwrap_or_else(|p| p.into_inner());
        if map.contains_key(&ih) {
            return Err(Error::DuplicateTorrent(ih.to_hex()));
        }
        map.insert(ih, shared.clone());
    }
    let handle = TorrentHandle::new(shared.clone(), inner.clone());

    // Check existing data: trust the resume file where files are unchanged.
    let use_resume = add.use_resume;
    let checked = tokio::task::spawn_blocking(move || -> Result<(Bitfield, u32), Error> {
        let n = info.piece_count();
        let resume = if use_resume {
            ResumeData::load(&rpath).ok().flatten()
        } else {
            None
        };
        let progress = AtomicU64::new(0);
        if let Some(r) = resume
            && let Some(checked) = r.check(&storage, hashing_threads(), &progress)?
        {
            return Ok(checked);
        }
        if !storage.had_existing_data() {
            return Ok((Bitfield::new(n as usize), 0));
        }
        Ok((storage.recheck(None, hashing_threads(), &progress)?, n))
    })
    .await
    .map_err(|e| Error::Internal(e.to_string()));
    let (have, hashed) = match checked {
        Ok(Ok(v)) => v,
        Ok(Err(e)) | Err(e) => {
            handle.remove().await;
            return Err(e);
        }
    };
    let checked_event = TorrentEvent::Checked {
        pieces: have.count_ones() as u32,
        hashed,
    };
    let complete = {
        let mut st = shared.lock();
        st.picker.set_have(&have);
        st.checking = false;
        st.checked = Some(checked_event.clone());
        st.picker.is_complete()
    };
    shared.emit(checked_event);
    if complete {
        shared.complete.send_replace(true);
    }
    // A read-only directory can still be seeded: resume data is a convenience.
    if add.use_resume
        && let Err(e) = save_resume(&shared).await
    {
        tracing::warn!(error = %e, "could not write resume data");
    }
    shared.add_known(add.peers.iter().copied());

    let mut tiers: Vec<Vec<String>> = if add.no_trackers {
        Vec::new()
    } else {
        add.metainfo.trackers.clone()
    };
    tiers.extend(add.extra_trackers.iter().map(|u| vec![u.clone()]));
    if !tiers.is_empty() {
        let a = tokio::spawn(announcer(shared.clone(), inner.clone(), tiers));
        *shared.announcer.lock().unwrap_or_else(|p| p.into_inner()) = Some(a);
    }
    if let Some(d) = &inner.dht {
        d.spawn_torrent(&shared);
    }
    tokio::spawn(torrent_task(shared.clone(), add.use_resume));
    // Web seeds (BEP 19): the torrent's url-list, then the caller's (magnet ws=, --web-seed).
    let mut web_seeds = add.metainfo.web_seeds.clone();
    web_seeds.extend(add.web_seeds.iter().cloned());
    crate::webseed::start(&shared, &inner.web_client, &web_seeds);
    Ok(handle)
}

/// Connects to known peers, runs the choker, keeps rates and resume data.
async fn torrent_task(shared: Arc<TorrentShared>, use_resume: bool) {
    let cfg = shared.config.clone();
    let mut stop = shared.stop.subscribe();
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let start = Instant::now();
    let mut last = start;
    let mut last_choke = start;
    let mut last_optimistic = start;
    let mut last_resume = start;
    // After a failed write (disk full, read-only), wait the interval
    // instead of retrying every tick once the torrent is complete.
    let mut resume_failed = false;
    let mut last_down = 0u64;
    let mut last_up = 0u64;
    // Runs until the torrent stops.
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shared.wake.notified() => {}
            _ = stop.changed() => return,
        }
        if shared.is_stopped() {
            return;
        }
        let now = Instant::now();
        // Dial known peers up to the caps.
        let dial = {
            let mut st = shared.lock();
            if st.paused || st.error.is_some() {
                Vec::new()
            } else {
                let used = st.peers.len() + st.connecting.len();
                let session_free = (cfg.max_peers as u64)
                    .saturating_sub(shared.session_peers.load(Ordering::Relaxed))
                    as usize;
                let free = cfg
                    .max_peers_per_torrent
                    .saturating_sub(used)
                    .min(session_free);
                let addrs = dial_candidates(&st, now, free.min(10));
                for a in &addrs {
                    st.connecting.insert(*a);
                }
                addrs
            }
        };
        for addr in dial {
            let shared = shared.clone();
            tokio::spawn(async move {
                let r = connect::run_outgoing(shared.clone(), addr).await;
                let mut st = shared.lock();
                st.connecting.remove(&addr);
                if let Some(slot) = st.known.get_mut(&addr) {
                    // Retry a failed or closed address only after a while:
                    // a minute after a failure, 10 s after the peer closed a
                    // working connection (Transmission drops every peer when
                    // a magnet's metadata completes, then waits to be dialled
                    // again: it never dials loopback peers itself). A reset
                    // or an end of stream in the handshake counts as a close:
                    // Transmission hangs up on the first connection to a
                    // magnet link it has just added.
                    if slot.is_none_or(|t| t <= Instant::now()) {
                        let now = Instant::now();
                        let closed = match &r {
                            Ok(()) => true,
                            Err(Error::Net(e)) => matches!(
                                e.kind(),
                                std::io::ErrorKind::ConnectionReset
                                    | std::io::ErrorKind::UnexpectedEof
                            ),
                            Err(_) => false,
                        };
                        *slot = Some(if closed {
                            now.checked_sub(Duration::from_secs(50)).unwrap_or(now)
                        } else {
                            now
                        });
                    }
                }
                if let Err(e) = r {
                    tracing::debug!(%addr, error = %e, "outgoing peer ended");
                }
            });
        }
        if now.saturating_duration_since(last) >= Duration::from_millis(500) {
            let elapsed = now.saturating_duration_since(last);
            last = now;
            let down = shared.downloaded.load(Ordering::Relaxed);
            let up = shared.uploaded.load(Ordering::Relaxed);
            let mut st = shared.lock();
            st.download_rate.add(down - last_down);
            st.upload_rate.add(up - last_up);
            st.download_rate.tick(elapsed);
            st.upload_rate.tick(elapsed);
            last_down = down;
            last_up = up;
        }
        if now.saturating_duration_since(last_choke) >= cfg.choke_interval {
            let rotate = now.saturating_duration_since(last_optimistic) >= cfg.optimistic_interval;
            if rotate {
                last_optimistic = now;
            }
            last_choke = now;
            shared.rechoke(rotate);
        }
        let have = shared.lock().picker.have().count_ones() as u64;
        let saved = shared.resume_saved_at.load(Ordering::Relaxed);
        let complete = *shared.complete.borrow();
        if use_resume
            && saved != have
            && ((complete && !resume_failed)
                || now.saturating_duration_since(last_resume) >= cfg.resume_interval)
        {
            last_resume = now;
            let r = save_resume(&shared).await;
            resume_failed = r.is_err();
            if let Err(e) = r {
                tracing::warn!(error = %e, "could not write resume data");
            }
        }
    }
}

/// BEP 3 / BEP 12 announces: `started`, regular re-announces at the
/// tracker's interval, `completed` once, `stopped` on removal.
async fn announcer(
    shared: Arc<TorrentShared>,
    session: Arc<SessionInner>,
    tiers: Vec<Vec<String>>,
) {
    let mut tiers = TrackerTiers::new(tiers, &mut rand::rng());
    let mut stop = shared.stop.subscribe();
    let mut complete = shared.complete.subscribe();
    let was_complete = *complete.borrow_and_update();
    let mut event = Event::Started;
    let mut completed_sent = was_complete;
    let mut backoff = Duration::from_secs(5);
    let mut announced = false;
    let key: u32 = rand::random();
    let request = |event: Event| {
        // Bytes of every piece we lack, skipped files included (as
        // libtorrent does): a finished selection is not a seed to the tracker.
        let left = shared.info.total_length() - shared.lock().picker.verified_bytes();
        let mut req = AnnounceRequest::new(
            shared.info_hash,
            shared.config.peer_id,
            shared.listen_port,
            left,
        );
        req.event = event;
        req.uploaded = shared.uploaded.load(Ordering::Relaxed);
        req.downloaded = shared.downloaded.load(Ordering::Relaxed);
        req.numwant = Some(50);
        req.key = Some(key);
        req
    };
    // Runs until the torrent stops; each pass waits an interval or an event.
    loop {
        let req = request(event);
        let answers = announce_tiers(&shared, &session, &mut tiers, &req, true).await;
        let wait = if answers.is_empty() {
            backoff = (backoff * 2).min(Duration::from_secs(300));
            backoff
        } else {
            announced = true;
            backoff = Duration::from_secs(5);
            event = Event::None;
            let mut interval = Duration::from_secs(1800);
            for (url, resp) in answers {
                shared.emit(TorrentEvent::Announced {
                    url,
                    peers: resp.peers.len(),
                });
                shared.add_known(resp.peers.iter().map(|p| p.addr));
                interval = interval.min(resp.interval);
            }
            interval.max(shared.config.min_announce_interval)
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            r = complete.changed(), if !completed_sent => {
                if r.is_ok() && *complete.borrow_and_update() {
                    completed_sent = true;
                    if event == Event::None {
                        event = Event::Completed;
                    }
                }
            }
            _ = stop.changed() => break,
        }
    }
    if announced {
        let req = request(Event::Stopped);
        let _ = tokio::time::timeout(
            Duration::from_secs(3),
            announce_tiers(&shared, &session, &mut tiers, &req, false),
        )
        .await;
    }
}

/// One announce to every tier (BEP 12: within a tier, trackers in order
/// until one answers). Each tracker gets `Config::tracker_timeout`, so one
/// that accepts and never answers cannot keep the next tiers from being
/// asked; each failure is reported with its URL (when `report`).
async fn announce_tiers(
    shared: &TorrentShared,
    session: &SessionInner,
    tiers: &mut TrackerTiers,
    req: &AnnounceRequest,
    report: bool,
) -> Vec<(String, ferro_tracker::AnnounceResponse)> {
    let limit = shared.config.tracker_timeout;
    let mut cursor = tiers.cursor();
    let mut answers = Vec::new();
    // Each step advances the cursor: one step per tracker at most.
    while let Some((_, url)) = cursor.current(tiers) {
        let url = url.to_owned();
        let result = match tokio::time::timeout(limit, session.tracker.announce(&url, req)).await {
            Ok(r) => r.map_err(|e| e.to_string()),
            Err(_) => Err(format!("no answer in {limit:?}")),
        };
        cursor.report(tiers, result.is_ok());
        match result {
            Ok(r) => answers.push((url, r)),
            Err(e) if report => shared.emit(TorrentEvent::AnnounceFailed(format!("{url}: {e}"))),
            Err(_) => {}
        }
    }
    answers
}
