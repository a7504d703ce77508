//! A scriptable fake peer speaking raw ferro-wire bytes on 127.0.0.1, for
//! tests that drive a Ferro session by hand (honest or hostile).
//!
//! ```ignore
//! let (mut p, theirs) = FakePeer::builder(info_hash).fast(false).connect(addr).await;
//! p.run(Script::new()
//!     .send(Message::Interested)
//!     .expect("unchoke", |m| *m == Message::Unchoke)
//!     .raw(&[0, 0, 0, 1, 99])
//!     .expect_closed()).await;
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use ferro_core::{InfoHash, PeerId};
use ferro_wire::{
    Bitfield, Block, ExtendedHandshake, Handshake, HandshakeDecoder, Message, MessageDecoder,
    Reserved,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How long `recv` waits for a message.
pub const RECV_TIMEOUT: Duration = Duration::from_secs(5);

/// Handshake options for a fake peer.
#[derive(Clone, Debug)]
pub struct FakePeerBuilder {
    info_hash: InfoHash,
    peer_id: PeerId,
    reserved: Reserved,
}

impl FakePeerBuilder {
    /// BEP 6 fast extension bit.
    pub fn fast(mut self, on: bool) -> Self {
        self.reserved = self.reserved.with_fast(on);
        self
    }

    /// BEP 10 extension protocol bit.
    pub fn extended(mut self, on: bool) -> Self {
        self.reserved = self.reserved.with_extension_protocol(on);
        self
    }

    /// Our handshake as bytes.
    pub fn handshake(&self) -> Handshake {
        let mut h = Handshake::new(self.info_hash, self.peer_id);
        h.reserved = self.reserved;
        h
    }

    /// Dials `addr`, sends our handshake and reads theirs.
    pub async fn connect(self, addr: SocketAddr) -> (FakePeer, Handshake) {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(&self.handshake().to_bytes())
            .await
            .unwrap();
        let mut p = FakePeer::new(stream);
        let theirs = p.read_handshake().await;
        (p, theirs)
    }

    /// Accepts one connection on `listener`, reads the handshake, answers
    /// with ours (for the info-hash the dialer asked for).
    pub async fn accept(self, listener: &TcpListener) -> (FakePeer, Handshake) {
        self.try_accept(listener)
            .await
            .expect("nobody dialled the fake peer, or it hung up during the handshake")
    }

    /// Like [`accept`](Self::accept), but `None` when nobody dials within
    /// 30 s or the dialler gives up during the handshake (e.g. it no longer
    /// needs us).
    pub async fn try_accept(self, listener: &TcpListener) -> Option<(FakePeer, Handshake)> {
        let (stream, _) = tokio::time::timeout(Duration::from_secs(30), listener.accept())
            .await
            .ok()?
            .ok()?;
        let mut p = FakePeer::new(stream);
        let theirs = p.try_read_handshake().await?;
        let mut ours = self.handshake();
        ours.info_hash = theirs.info_hash;
        p.stream.write_all(&ours.to_bytes()).await.ok()?;
        Some((p, theirs))
    }
}

/// One raw connection.
pub struct FakePeer {
    pub stream: TcpStream,
    buf: BytesMut,
    dec: MessageDecoder,
}

/// One step of a [`Script`].
pub enum Step {
    Send(Message),
    Raw(Vec<u8>),
    Sleep(Duration),
    /// The next message other than keep-alive must satisfy the predicate.
    Expect(&'static str, Box<dyn Fn(&Message) -> bool + Send>),
    /// Some message must satisfy the predicate; the ones before it are skipped.
    Until(&'static str, Box<dyn Fn(&Message) -> bool + Send>),
    /// The remote closes the connection (read returns 0 or fails) within 30 s.
    ExpectClosed,
}

/// A list of steps a fake peer runs in order.
#[derive(Default)]
pub struct Script(pub Vec<Step>);

impl Script {
    pub fn new() -> Self {
        Script(Vec::new())
    }
    pub fn send(mut self, m: Message) -> Self {
        self.0.push(Step::Send(m));
        self
    }
    pub fn raw(mut self, bytes: &[u8]) -> Self {
        self.0.push(Step::Raw(bytes.to_vec()));
        self
    }
    pub fn sleep(mut self, d: Duration) -> Self {
        self.0.push(Step::Sleep(d));
        self
    }
    pub fn expect(
        mut self,
        what: &'static str,
        f: impl Fn(&Message) -> bool + Send + 'static,
    ) -> Self {
        self.0.push(Step::Expect(what, Box::new(f)));
        self
    }
    pub fn until(
        mut self,
        what: &'static str,
        f: impl Fn(&Message) -> bool + Send + 'static,
    ) -> Self {
        self.0.push(Step::Until(what, Box::new(f)));
        self
    }
    pub fn expect_closed(mut self) -> Self {
        self.0.push(Step::ExpectClosed);
        self
    }
}

impl FakePeer {
    /// Options for a peer with a fresh id, the fast and extension bits set.
    pub fn builder(info_hash: InfoHash) -> FakePeerBuilder {
        FakePeerBuilder {
            info_hash,
            peer_id: ferro_wire::generate_peer_id(),
            reserved: Reserved::ferro_default(),
        }
    }

    /// Dials `addr` with the default options.
    pub async fn connect(addr: SocketAddr, info_hash: InfoHash) -> (FakePeer, Handshake) {
        Self::builder(info_hash).connect(addr).await
    }

    /// Wraps a connection whose handshake (if any) the test handles itself.
    pub fn from_stream(stream: TcpStream) -> Self {
        Self::new(stream)
    }

    fn new(stream: TcpStream) -> Self {
        FakePeer {
            stream,
            buf: BytesMut::with_capacity(64 * 1024),
            dec: MessageDecoder::default(),
        }
    }

    async fn read_handshake(&mut self) -> Handshake {
        self.try_read_handshake()
            .await
            .expect("closed during the handshake")
    }

    /// The remote's handshake; `None` if it closes first.
    async fn try_read_handshake(&mut self) -> Option<Handshake> {
        tokio::time::timeout(RECV_TIMEOUT, async {
            loop {
                if let Some(h) = HandshakeDecoder::new().decode(&mut self.buf).unwrap() {
                    return Some(h);
                }
                match self.stream.read_buf(&mut self.buf).await {
                    Ok(0) | Err(_) => return None,
                    Ok(_) => {}
                }
            }
        })
        .await
        .expect("no handshake in 5 s")
    }

    pub async fn send(&mut self, m: Message) {
        let mut out = BytesMut::new();
        m.encode(&mut out);
        self.stream.write_all(&out).await.unwrap();
    }

    /// Sends `m`; false when the remote has closed (no panic).
    pub async fn try_send(&mut self, m: Message) -> bool {
        let mut out = BytesMut::new();
        m.encode(&mut out);
        self.stream.write_all(&out).await.is_ok()
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// Sends our extended handshake (BEP 10).
    pub async fn send_extended_handshake(&mut self, h: &ExtendedHandshake) {
        self.send(h.to_message().unwrap()).await;
    }

    /// The next message other than keep-alive, within [`RECV_TIMEOUT`].
    pub async fn recv(&mut self) -> Message {
        self.try_recv(RECV_TIMEOUT)
            .await
            .expect("no message in time")
            .expect("closed")
    }

    /// The next message other than keep-alive: `Err` on timeout, `Ok(None)`
    /// when the remote closed.
    pub async fn try_recv(
        &mut self,
        within: Duration,
    ) -> Result<Option<Message>, tokio::time::error::Elapsed> {
        tokio::time::timeout(within, async {
            loop {
                match self.dec.decode(&mut self.buf) {
                    Ok(Some(Message::KeepAlive)) => continue,
                    Ok(Some(m)) => return Some(m),
                    Ok(None) => {}
                    Err(e) => panic!("the session sent garbage: {e}"),
                }
                match self.stream.read_buf(&mut self.buf).await {
                    Ok(0) | Err(_) => return None,
                    Ok(_) => {}
                }
            }
        })
        .await
    }

    /// Messages until one satisfies `f` (others are returned too, skipped).
    pub async fn recv_until(&mut self, f: impl Fn(&Message) -> bool) -> (Message, Vec<Message>) {
        let mut skipped = Vec::new();
        // Bounded: each pass waits at most RECV_TIMEOUT or panics.
        loop {
            let m = self.recv().await;
            if f(&m) {
                return (m, skipped);
            }
            skipped.push(m);
        }
    }

    /// Reads and discards until the remote closes: true when it did within
    /// `within`.
    pub async fn closed_within(&mut self, within: Duration) -> bool {
        let mut sink = vec![0u8; 64 * 1024];
        tokio::time::timeout(within, async {
            loop {
                match self.stream.read(&mut sink).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        })
        .await
        .is_ok()
    }

    /// Runs `script`, panicking at the first step that does not hold.
    pub async fn run(&mut self, script: Script) {
        for (i, step) in script.0.into_iter().enumerate() {
            match step {
                Step::Send(m) => self.send(m).await,
                Step::Raw(b) => self.send_raw(&b).await,
                Step::Sleep(d) => tokio::time::sleep(d).await,
                Step::Expect(what, f) => {
                    let m = self.recv().await;
                    assert!(f(&m), "step {i}: expected {what}, got {m:?}");
                }
                Step::Until(what, f) => {
                    // Bounded: each recv waits at most RECV_TIMEOUT.
                    loop {
                        match self.try_recv(RECV_TIMEOUT).await {
                            Ok(Some(m)) if f(&m) => break,
                            Ok(Some(_)) => {}
                            Ok(None) => panic!("step {i}: closed before {what}"),
                            Err(_) => panic!("step {i}: no {what} in time"),
                        }
                    }
                }
                Step::ExpectClosed => assert!(
                    self.closed_within(Duration::from_secs(30)).await,
                    "step {i}: the connection stayed open"
                ),
            }
        }
    }
}

/// A seed that answers every request with wrong bytes (0xAA), on every
/// connection to `listener`, until the test drops the task.
pub async fn garbage_seed(listener: TcpListener, pieces: usize) {
    // Serves connections until the test aborts the task.
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        tokio::spawn(serve_garbage(stream, pieces));
    }
}

async fn serve_garbage(stream: TcpStream, pieces: usize) {
    let mut p = FakePeer::new(stream);
    let theirs = p.read_handshake().await;
    let mut ours = Handshake::new(theirs.info_hash, ferro_wire::generate_peer_id());
    ours.reserved = Reserved::NONE;
    let mut out = BytesMut::new();
    ours.encode(&mut out);
    Message::Bitfield(Bitfield::full(pieces)).encode(&mut out);
    Message::Unchoke.encode(&mut out);
    if p.stream.write_all(&out).await.is_err() {
        return;
    }
    // Bounded: ends when the session closes the connection.
    while let Ok(Some(m)) = p.try_recv(Duration::from_secs(60)).await {
        if let Message::Request(r) = m {
            let block = Message::Piece(Block {
                index: r.index,
                begin: r.begin,
                data: Bytes::from(vec![0xAA; r.length as usize]),
            });
            let mut out = BytesMut::new();
            block.encode(&mut out);
            if p.stream.write_all(&out).await.is_err() {
                return;
            }
        }
    }
}
