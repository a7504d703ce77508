//! `tokio_util::codec` adapters (feature `tokio`): the sans-IO decoders behind
//! `Decoder`/`Encoder`, so a `Framed<TcpStream, _>` speaks the wire protocol.
//!
//! A connection starts framed with [`HandshakeCodec`] and switches to
//! [`MessageCodec`] with `Framed::map_codec`, which keeps the read buffer: any
//! messages that arrived right behind the handshake are not lost.

use bytes::BytesMut;
use tokio_util::codec::{Decoder, Encoder};

use crate::{Config, Error, Handshake, HandshakeDecoder, Message, MessageDecoder};

/// Frames the 68-byte handshake.
#[derive(Debug, Default, Clone)]
pub struct HandshakeCodec {
    inner: HandshakeDecoder,
}

impl HandshakeCodec {
    /// A new codec.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Decoder for HandshakeCodec {
    type Item = Handshake;
    type Error = Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Handshake>, Error> {
        self.inner.decode(src)
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Handshake>, Error> {
        match self.decode(src)? {
            Some(h) => Ok(Some(h)),
            None if src.is_empty() => Ok(None),
            None => Err(Error::UnexpectedEof(src.len())),
        }
    }
}

impl Encoder<Handshake> for HandshakeCodec {
    type Error = Error;

    fn encode(&mut self, item: Handshake, dst: &mut BytesMut) -> Result<(), Error> {
        item.encode(dst);
        Ok(())
    }
}

/// Frames length-prefixed peer messages with a [`MessageDecoder`].
#[derive(Debug, Default, Clone)]
pub struct MessageCodec {
    inner: MessageDecoder,
}

impl MessageCodec {
    /// A codec with the given limits.
    pub fn new(config: Config) -> Self {
        MessageCodec {
            inner: MessageDecoder::new(config),
        }
    }

    /// The decoder, e.g. to set the piece count once metadata is known.
    pub fn decoder_mut(&mut self) -> &mut MessageDecoder {
        &mut self.inner
    }
}

impl Decoder for MessageCodec {
    type Item = Message;
    type Error = Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Message>, Error> {
        self.inner.decode(src)
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Message>, Error> {
        match self.decode(src)? {
            Some(m) => Ok(Some(m)),
            None if src.is_empty() => Ok(None),
            None => Err(Error::UnexpectedEof(src.len())),
        }
    }
}

impl Encoder<Message> for MessageCodec {
    type Error = Error;

    fn encode(&mut self, item: Message, dst: &mut BytesMut) -> Result<(), Error> {
        item.encode(dst);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{InfoHash, PeerId};

    #[test]
    fn eof_inside_a_frame_is_an_error() {
        let mut c = MessageCodec::default();
        let mut buf = BytesMut::from(&[0u8, 0, 0, 5, 4, 0][..]);
        assert!(matches!(
            c.decode_eof(&mut buf),
            Err(Error::UnexpectedEof(6))
        ));
        let mut empty = BytesMut::new();
        assert_eq!(c.decode_eof(&mut empty).unwrap(), None);
        let mut h = HandshakeCodec::new();
        let mut buf = BytesMut::from(&b"\x13BitTorrent"[..]);
        assert!(matches!(
            h.decode_eof(&mut buf),
            Err(Error::UnexpectedEof(11))
        ));
        let mut out = BytesMut::new();
        h.encode(Handshake::new(InfoHash([1; 20]), PeerId([2; 20])), &mut out)
            .unwrap();
        assert_eq!(
            h.decode_eof(&mut out).unwrap().unwrap().peer_id,
            PeerId([2; 20])
        );
    }
}
