//! One task per peer connection: handshake, then messages both ways.
//!
//! The task owns the socket and two buffers. Reads are decoded by
//! ferro-wire's sans-IO [`MessageDecoder`]; everything we send is appended to
//! a write buffer flushed by the same `select!` loop, so a peer that stops
//! reading never blocks us from reading (no deadlock when both sides upload).
//! Disk reads for the blocks a peer requests run on `spawn_blocking`, a few
//! blocks at a time, only while the write buffer is short: memory per peer
//! stays bounded whatever the peer asks.

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use ferro_wire::{
    Bitfield, Block, BlockRequest, Config as WireConfig, Handshake, Message, MessageDecoder,
    Reserved,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use crate::Error;
use crate::picker::{BLOCK_LEN, BlockOutcome, PeerKey};
use crate::rate::RateEstimate;
use crate::torrent::{MAX_PENDING_VERIFY, PeerSlot, PieceBuffer, TorrentShared};

mod extended;

/// Read buffer growth step.
const READ_CHUNK: usize = 64 * 1024;
/// Stop reading while this much unparsed data is buffered.
const MAX_READ_BUF: usize = 1024 * 1024 + 64 * 1024;
/// Fill the write buffer with requested blocks up to this size.
const WRITE_HIGH_WATER: usize = 512 * 1024;
/// Stop reading while this much is waiting to be sent: a peer that floods
/// us with requests (each may earn a `reject`) but never reads our answers
/// must not grow the write buffer without bound. Blocks stop at
/// [`WRITE_HIGH_WATER`] plus one disk batch, so only a peer that does not
/// read ever gets here.
const MAX_WRITE_BUF: usize = 2 * 1024 * 1024;
/// Blocks read from disk per blocking job.
const DISK_BATCH: usize = 16;
/// Request pipeline bounds; in between it follows the measured rate.
const MIN_PIPELINE: usize = 4;
const START_PIPELINE: usize = 64;
/// Seconds of data to keep in flight: the bandwidth-delay product with room
/// for the remote's disk and scheduling latency.
const PIPELINE_SECONDS: u64 = 2;
/// `reqq` assumed when a peer does not say (libtorrent's historical default).
const DEFAULT_REQQ: u32 = 250;

type DiskJob = JoinHandle<Vec<(BlockRequest, Result<Bytes, Error>)>>;

/// One connection's queues, refreshed every second: what a peer could try
/// to grow without bound (see [`TorrentHandle::peer_queues`](crate::TorrentHandle::peer_queues)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerQueues {
    /// The peer's address.
    pub addr: SocketAddr,
    /// Its requests queued for upload (at most [`Config::max_request_queue`](crate::Config::max_request_queue)).
    pub upload_queue: usize,
    /// Bytes waiting to be sent to it.
    pub write_buffer: usize,
    /// Received bytes not yet decoded.
    pub read_buffer: usize,
    /// Our requests to it that are still unanswered.
    pub requests_outstanding: usize,
}

impl Default for PeerQueues {
    fn default() -> Self {
        PeerQueues {
            addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            upload_queue: 0,
            write_buffer: 0,
            read_buffer: 0,
            requests_outstanding: 0,
        }
    }
}

pub(crate) struct Peer {
    shared: Arc<TorrentShared>,
    key: PeerKey,
    addr: SocketAddr,
    fast: bool,
    extended: bool,
    /// The id the peer wants ut_metadata messages under (BEP 9), if any.
    ut_metadata: Option<u8>,
    /// Our DHT port, to send if the peer set the DHT bit too (BEP 5).
    dht_port: Option<u16>,
    /// The peer's DHT node was pinged already: BEP 5 sends `port` once, and
    /// each one costs a task and a datagram, so the rest are ignored.
    port_seen: bool,
    /// Its extended handshake's `p` was taken already (only the first is:
    /// repeated handshakes must not fill the known list with its ports).
    listen_seen: bool,
    pex: crate::pex::PexLink,
    has: Bitfield,
    am_interested: bool,
    am_choking: bool,
    peer_choking: bool,
    peer_interested: bool,
    snubbed: bool,
    outstanding: Vec<BlockRequest>,
    upload_queue: VecDeque<BlockRequest>,
    allowed_fast: HashSet<u32>,
    reqq: u32,
    haves_sent: usize,
    down: RateEstimate,
    up: RateEstimate,
    last_block: Instant,
    /// When the last whole message (keep-alives included) arrived: a peer
    /// that trickles bytes without ever completing a message is idle.
    last_message: Instant,
    last_send: Instant,
    wbuf: BytesMut,
    decoder: MessageDecoder,
}

impl Peer {
    pub(crate) fn new(
        shared: Arc<TorrentShared>,
        key: PeerKey,
        addr: SocketAddr,
        theirs: &Handshake,
    ) -> Self {
        let ours = Reserved::ferro_default();
        let pieces = shared.info.piece_count();
        let now = Instant::now();
        Peer {
            key,
            addr,
            fast: ours.fast() && theirs.reserved.fast(),
            extended: ours.extension_protocol() && theirs.reserved.extension_protocol(),
            ut_metadata: None,
            dht_port: shared
                .dht
                .as_ref()
                .filter(|_| theirs.reserved.dht())
                .map(|d| d.dht.local_addr().port()),
            port_seen: false,
            listen_seen: false,
            pex: Default::default(),
            has: Bitfield::new(pieces as usize),
            am_interested: false,
            am_choking: true,
            peer_choking: true,
            peer_interested: false,
            snubbed: false,
            outstanding: Vec::new(),
            upload_queue: VecDeque::new(),
            allowed_fast: HashSet::new(),
            reqq: DEFAULT_REQQ,
            haves_sent: 0,
            down: RateEstimate::default(),
            up: RateEstimate::default(),
            last_block: now,
            last_message: now,
            last_send: now,
            wbuf: BytesMut::with_capacity(64 * 1024),
            decoder: MessageDecoder::new(WireConfig {
                piece_count: Some(pieces),
                ..WireConfig::default()
            }),
            shared,
        }
    }

    fn send(&mut self, m: &Message) {
        m.encode(&mut self.wbuf);
    }

    fn fail(&self, reason: impl Into<String>) -> Error {
        Error::Peer {
            addr: self.addr,
            reason: reason.into(),
        }
    }

    /// The first messages: extended handshake, then what we have.
    fn greet(&mut self) -> Result<(), Error> {
        if self.extended {
            let ext = self.extended_handshake()?;
            self.send(&ext);
        }
        let st = self.shared.lock();
        let have = st.picker.have().clone();
        self.haves_sent = st.verified_log.len();
        drop(st);
        if self.fast && have.all() {
            self.send(&Message::HaveAll);
        } else if self.fast && have.none() {
            self.send(&Message::HaveNone);
        } else if !have.none() {
            self.send(&Message::Bitfield(have));
        }
        if let Some(port) = self.dht_port {
            self.send(&Message::Port(port));
        }
        Ok(())
    }

    pub(crate) async fn drive(
        &mut self,
        mut stream: TcpStream,
        mut rbuf: BytesMut,
    ) -> Result<(), Error> {
        self.greet()?;
        let (wake, mut stop) = {
            let st = self.shared.lock();
            let wake = st
                .peers
                .get(&self.key)
                .map(|p| p.wake.clone())
                .ok_or(Error::Internal("peer slot vanished".into()))?;
            (wake, self.shared.stop.subscribe())
        };
        let (mut rd, mut wr) = stream.split();
        let mut disk: Option<DiskJob> = None;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_tick = Instant::now();
        let mut read_resume = Instant::now();
        let mut write_resume = Instant::now();
        // Messages that arrived right behind the handshake.
        self.process(&mut rbuf)?;
        // Bounded by the timeouts checked on every tick.
        loop {
            if self.shared.is_stopped() {
                return Ok(());
            }
            self.after_event(&mut disk)?;
            let now = Instant::now();
            let can_read =
                rbuf.len() < MAX_READ_BUF && self.wbuf.len() < MAX_WRITE_BUF && now >= read_resume;
            let can_write = !self.wbuf.is_empty() && now >= write_resume;
            let throttle = read_resume.max(write_resume);
            if rbuf.capacity() - rbuf.len() < READ_CHUNK / 4 {
                rbuf.reserve(READ_CHUNK);
            }
            tokio::select! {
                r = rd.read_buf(&mut rbuf), if can_read => {
                    let n = r?;
                    if n == 0 {
                        return Ok(());
                    }
                    let at = Instant::now();
                    if let Some(l) = &self.shared.download_limit {
                        read_resume = at + l.take(n as u64, at);
                    }
                    self.process(&mut rbuf)?;
                }
                r = wr.write_buf(&mut self.wbuf), if can_write => {
                    let n = r?;
                    self.last_send = Instant::now();
                    if let Some(l) = &self.shared.upload_limit {
                        write_resume = self.last_send + l.take(n as u64, self.last_send);
                    }
                    // Messages left unhandled while the write buffer was full.
                    self.process(&mut rbuf)?;
                }
                r = async { match disk.as_mut() { Some(j) => j.await, None => std::future::pending().await } }, if disk.is_some() => {
                    disk = None;
                    let blocks = r.map_err(|e| Error::Internal(format!("disk task: {e}")))?;
                    for (req, data) in blocks {
                        let data = data?;
                        let len = data.len() as u64;
                        self.send(&Message::Piece(Block { index: req.index, begin: req.begin, data }));
                        self.up.add(len);
                        self.shared.uploaded.fetch_add(len, Ordering::Relaxed);
                    }
                }
                _ = wake.notified() => self.sync()?,
                _ = tokio::time::sleep_until(throttle.into()), if throttle > now => {}
                _ = tick.tick() => {
                    let now = Instant::now();
                    let read_buffer = rbuf.len();
                    self.set_slot(|s| s.queues.read_buffer = read_buffer);
                    self.on_tick(now.saturating_duration_since(last_tick), now)?;
                    last_tick = now;
                }
                _ = stop.changed() => return Ok(()),
            }
        }
    }

    /// Work that follows any event: more requests, more disk reads.
    fn after_event(&mut self, disk: &mut Option<DiskJob>) -> Result<(), Error> {
        self.fill_requests();
        if disk.is_none()
            && !self.am_choking
            && !self.upload_queue.is_empty()
            && self.wbuf.len() < WRITE_HIGH_WATER
        {
            let take = self.upload_queue.len().min(DISK_BATCH);
            let reqs: Vec<BlockRequest> = self.upload_queue.drain(..take).collect();
            let storage = self.shared.storage.clone();
            let info = self.shared.info.clone();
            *disk = Some(tokio::task::spawn_blocking(move || {
                crate::storage::read_blocks(&storage, &info, reqs)
            }));
        }
        Ok(())
    }

    /// Handles the whole messages in `rbuf`, pausing while the write buffer
    /// is over [`MAX_WRITE_BUF`]: a 30-byte ut_metadata request earns up to
    /// 16 KiB, so one read of requests must not be answered all at once.
    /// The rest is handled after the next write.
    fn process(&mut self, rbuf: &mut BytesMut) -> Result<(), Error> {
        // Bounded by the buffer: each message consumes bytes.
        while self.wbuf.len() < MAX_WRITE_BUF
            && let Some(msg) = self.decoder.decode(rbuf)?
        {
            self.last_message = Instant::now();
            self.handle(msg)?;
        }
        Ok(())
    }

    fn handle(&mut self, msg: Message) -> Result<(), Error> {
        match msg {
            Message::KeepAlive | Message::SuggestPiece(_) => {}
            // BEP 5: the peer runs a DHT node on this UDP port.
            Message::Port(port) => {
                if let Some(d) = &self.shared.dht
                    && port != 0
                    && !self.port_seen
                {
                    self.port_seen = true;
                    d.add_node(SocketAddr::new(self.addr.ip(), port));
                }
            }
            Message::Choke => {
                self.peer_choking = true;
                // BEP 6: with the fast extension, pending requests are
                // rejected explicitly; without it a choke drops them all.
                if !self.fast {
                    self.drop_outstanding();
                }
                self.set_slot(|s| s.peer_choking = true);
            }
            Message::Unchoke => {
                self.peer_choking = false;
                self.set_slot(|s| s.peer_choking = false);
            }
            Message::Interested => {
                self.peer_interested = true;
                let slots = self.shared.config.unchoke_slots;
                let mut st = self.shared.lock();
                if let Some(s) = st.peers.get_mut(&self.key) {
                    s.interested = true;
                }
                crate::torrent::TorrentShared::unchoke_if_slot_free(&mut st, self.key, slots);
                drop(st);
                self.sync()?;
            }
            Message::NotInterested => {
                self.peer_interested = false;
                self.set_slot(|s| s.interested = false);
            }
            Message::Have(p) => {
                if p >= self.shared.info.piece_count() {
                    return Err(self.fail(format!("have for piece {p} out of range")));
                }
                if !self.has.get(p) {
                    self.has.set(p, true);
                    let mut st = self.shared.lock();
                    st.picker.add_piece_availability(p);
                    drop(st);
                    self.update_interest();
                }
            }
            Message::Bitfield(b) => self.set_has(b)?,
            Message::HaveAll => self.set_has(Bitfield::full(self.has.len()))?,
            Message::HaveNone => self.set_has(Bitfield::new(self.has.len()))?,
            Message::Request(r) => self.on_request(r),
            Message::Cancel(r) => self.upload_queue.retain(|q| *q != r),
            Message::Piece(block) => self.on_block(block)?,
            Message::RejectRequest(r) => {
                if let Some(i) = self.outstanding.iter().position(|q| *q == r) {
                    self.outstanding.swap_remove(i);
                    self.shared.lock().picker.cancel(self.key, &r);
                }
            }
            Message::AllowedFast(p) => {
                if self.allowed_fast.len() < 64 && p < self.shared.info.piece_count() {
                    self.allowed_fast.insert(p);
                }
            }
            Message::Extended { id, payload } => self.on_extended(id, payload)?,
        }
        Ok(())
    }

    fn set_slot(&self, f: impl FnOnce(&mut PeerSlot)) {
        let mut st = self.shared.lock();
        if let Some(s) = st.peers.get_mut(&self.key) {
            f(s);
        }
    }

    fn set_has(&mut self, b: Bitfield) -> Result<(), Error> {
        let b = b
            .with_piece_count(self.has.len())
            .map_err(|e| self.fail(format!("bad bitfield: {e}")))?;
        let mut st = self.shared.lock();
        st.picker.remove_availability(&self.has);
        st.picker.add_availability(&b);
        let seed = b.all();
        let we_are_seed = st.picker.is_complete();
        if let Some(s) = st.peers.get_mut(&self.key) {
            s.is_seed = seed;
        }
        drop(st);
        self.has = b;
        if seed && we_are_seed {
            return Err(self.fail("both seeds"));
        }
        self.update_interest();
        Ok(())
    }

    fn update_interest(&mut self) {
        let interesting = self.shared.lock().picker.is_interesting(&self.has);
        if interesting != self.am_interested {
            self.am_interested = interesting;
            self.send(if interesting {
                &Message::Interested
            } else {
                &Message::NotInterested
            });
        }
    }

    fn on_request(&mut self, r: BlockRequest) {
        let reject = |this: &mut Self| {
            if this.fast {
                this.send(&Message::RejectRequest(r));
            }
        };
        if self.am_choking
            || self.upload_queue.len() >= self.shared.config.max_request_queue as usize
        {
            return reject(self);
        }
        let st = self.shared.lock();
        let ok = st.picker.have().get(r.index)
            && r.length > 0
            && r.length <= BLOCK_LEN
            && u64::from(r.begin) + u64::from(r.length) <= st.picker.piece_size(r.index);
        drop(st);
        if ok {
            self.upload_queue.push_back(r);
        } else {
            reject(self);
        }
    }

    fn on_block(&mut self, block: Block) -> Result<(), Error> {
        let req = block.request();
        let Some(i) = self.outstanding.iter().position(|q| *q == req) else {
            // Unrequested or cancelled: harmless, but not counted as useful.
            return Ok(());
        };
        self.outstanding.swap_remove(i);
        let len = block.data.len() as u64;
        self.down.add(len);
        self.shared.downloaded.fetch_add(len, Ordering::Relaxed);
        self.last_block = Instant::now();
        self.snubbed = false;
        let mut st = self.shared.lock();
        let (others, complete) = match st.picker.block_received(self.key, &req) {
            BlockOutcome::New {
                others,
                piece_complete,
            } => (others, piece_complete),
            BlockOutcome::Unneeded => return Ok(()),
        };
        let size = st.picker.piece_size(req.index) as usize;
        let blocks = st.picker.block_count(req.index) as usize;
        let storage = &self.shared.storage;
        let buf = st.buffers.entry(req.index).or_insert_with(|| PieceBuffer {
            // Reused, unzeroed: every byte is overwritten before hashing.
            data: storage.piece_buffer(size),
            block_from: vec![None; blocks],
        });
        let begin = req.begin as usize;
        if let Some(dst) = buf.data.get_mut(begin..begin + block.data.len()) {
            dst.copy_from_slice(&block.data);
        }
        if let Some(from) = buf.block_from.get_mut(begin / BLOCK_LEN as usize) {
            *from = Some(self.addr);
        }
        for o in others {
            if let Some(p) = st.peers.get_mut(&o) {
                p.cancels.push(req);
                p.wake.notify_one();
            }
        }
        let finished = if complete {
            st.buffers.remove(&req.index)
        } else {
            None
        };
        drop(st);
        if let Some(buf) = finished {
            self.shared.finish_piece(req.index, buf);
        }
        Ok(())
    }

    fn pipeline_target(&self) -> usize {
        if self.snubbed {
            return 1;
        }
        let cap = self.reqq.min(self.shared.config.max_request_queue).max(1) as usize;
        let rate = self.down.get();
        let by_rate = if rate == 0 {
            START_PIPELINE
        } else {
            (rate * PIPELINE_SECONDS / u64::from(BLOCK_LEN)) as usize
        };
        by_rate.clamp(MIN_PIPELINE, cap.max(MIN_PIPELINE)).min(cap)
    }

    fn fill_requests(&mut self) {
        if !self.am_interested {
            return;
        }
        if self.peer_choking && self.allowed_fast.is_empty() {
            return;
        }
        if self.shared.pending_verify.load(Ordering::Relaxed) > MAX_PENDING_VERIFY {
            return;
        }
        let target = self.pipeline_target();
        // Refill in batches: picking has a cost per call.
        if self.outstanding.len() * 4 > target * 3 {
            return;
        }
        let mut st = self.shared.lock();
        let reqs = if self.peer_choking {
            let mut allowed = Bitfield::new(self.has.len());
            for &p in &self.allowed_fast {
                if self.has.get(p) {
                    allowed.set(p, true);
                }
            }
            st.picker.pick(
                self.key,
                &allowed,
                target - self.outstanding.len(),
                &mut rand::rng(),
            )
        } else {
            st.picker.pick(
                self.key,
                &self.has,
                target - self.outstanding.len(),
                &mut rand::rng(),
            )
        };
        drop(st);
        for r in reqs {
            self.send(&Message::Request(r));
            self.outstanding.push(r);
        }
    }

    fn drop_outstanding(&mut self) {
        if self.outstanding.is_empty() {
            return;
        }
        let mut st = self.shared.lock();
        for r in self.outstanding.drain(..) {
            st.picker.cancel(self.key, &r);
        }
    }

    /// Applies what the torrent decided for this peer.
    fn sync(&mut self) -> Result<(), Error> {
        let mut st = self.shared.lock();
        let Some(slot) = st.peers.get_mut(&self.key) else {
            return Err(self.fail("removed"));
        };
        if let Some(reason) = slot.disconnect.take() {
            return Err(self.fail(reason));
        }
        let choke = slot.choked;
        let cancels = std::mem::take(&mut slot.cancels);
        let new_haves: Vec<u32> = st
            .verified_log
            .get(self.haves_sent..)
            .unwrap_or(&[])
            .to_vec();
        self.haves_sent = st.verified_log.len();
        let complete = st.picker.is_complete();
        drop(st);
        for r in cancels {
            if let Some(i) = self.outstanding.iter().position(|q| *q == r) {
                self.outstanding.swap_remove(i);
                self.send(&Message::Cancel(r));
            }
        }
        for p in new_haves {
            if !self.has.get(p) {
                self.send(&Message::Have(p));
            }
        }
        if choke != self.am_choking {
            self.am_choking = choke;
            if choke {
                self.send(&Message::Choke);
                // BEP 6: each dropped request is rejected explicitly.
                for r in std::mem::take(&mut self.upload_queue) {
                    if self.fast {
                        self.send(&Message::RejectRequest(r));
                    }
                }
            } else {
                self.send(&Message::Unchoke);
            }
        }
        self.update_interest();
        if complete && self.has.all() {
            return Err(self.fail("both seeds"));
        }
        Ok(())
    }

    fn on_tick(&mut self, elapsed: Duration, now: Instant) -> Result<(), Error> {
        self.down.tick(elapsed);
        self.up.tick(elapsed);
        let cfg = self.shared.config.clone();
        if now.saturating_duration_since(self.last_message) > cfg.idle_timeout {
            return Err(Error::Timeout("peer idle"));
        }
        if !self.outstanding.is_empty()
            && now.saturating_duration_since(self.last_block) > cfg.snub_timeout
        {
            // Snubbed: its requests go back to the picker for other peers.
            self.snubbed = true;
            self.drop_outstanding();
        }
        if now.saturating_duration_since(self.last_send) > Duration::from_secs(90)
            && self.wbuf.is_empty()
        {
            self.send(&Message::KeepAlive);
        }
        if let Some(m) = self.pex.poll(&self.shared, self.key, now) {
            self.send(&m);
        }
        let (down, up, snubbed) = (self.down.get(), self.up.get(), self.snubbed);
        let (upload_queue, write_buffer, outstanding) = (
            self.upload_queue.len(),
            self.wbuf.len(),
            self.outstanding.len(),
        );
        self.set_slot(|s| {
            s.download_rate = down;
            s.upload_rate = up;
            s.snubbed = snubbed;
            s.queues.upload_queue = upload_queue;
            s.queues.write_buffer = write_buffer;
            s.queues.requests_outstanding = outstanding;
        });
        self.sync()
    }

    pub(crate) fn cleanup(&mut self) {
        let mut st = self.shared.lock();
        for r in self.outstanding.drain(..) {
            st.picker.cancel(self.key, &r);
        }
        st.picker.remove_availability(&self.has);
        if st.peers.remove(&self.key).is_some() {
            self.shared.session_peers.fetch_sub(1, Ordering::Relaxed);
        }
        drop(st);
        self.shared.wake.notify_one();
    }
}
