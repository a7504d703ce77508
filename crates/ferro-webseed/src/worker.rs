//! Hash-verified pieces from a torrent's web seeds: [`WebSeeds`] chooses the
//! URL and keeps its health, [`WebSeedClient`] moves the bytes.

use std::ops::Range;
use std::time::Instant;

use bytes::Bytes;
use ferro_metainfo::Info;

use crate::client::WebSeedClient;
use crate::plan::{Error, FetchError};
use crate::seeds::{SeedId, WebSeeds, verify_piece};

/// Fetches pieces of one torrent from its web seeds and keeps each seed's
/// health up to date: success ends a backoff, 404 marks the file missing on
/// that seed, 5xx/429/timeouts back the seed off, and pieces failing the hash
/// check count towards dropping it.
#[derive(Debug, Clone)]
pub struct WebSeedWorker {
    client: WebSeedClient,
    seeds: WebSeeds,
}

impl WebSeedWorker {
    /// A worker fetching through `client` from `seeds`.
    pub fn new(client: WebSeedClient, seeds: WebSeeds) -> Self {
        WebSeedWorker { client, seeds }
    }

    /// The seeds and their health.
    pub fn seeds(&self) -> &WebSeeds {
        &self.seeds
    }

    /// The seeds, e.g. to add one from a magnet `ws=` or to report a hash
    /// failure found later (a piece assembled from seed and peer blocks).
    pub fn seeds_mut(&mut self) -> &mut WebSeeds {
        &mut self.seeds
    }

    /// Fetches the torrent bytes `[offset, offset + len)` from one usable seed,
    /// trying the next usable one after a transfer error (each seed at most
    /// once). Returns the bytes and the seed that served them; not hash-checked.
    pub async fn fetch_range(
        &mut self,
        info: &Info,
        offset: u64,
        len: u64,
    ) -> Result<(SeedId, Bytes), FetchError> {
        let mut last = None;
        for _ in 0..self.seeds.len() {
            let Some(id) = self.seeds.pick(Instant::now(), info, offset, len) else {
                break;
            };
            let base = self.seeds.url(id).unwrap_or_default().to_string();
            match self.client.fetch(info, &base, offset, len).await {
                Ok(bytes) => {
                    self.seeds.on_success(id);
                    return Ok((id, bytes));
                }
                Err(e) => {
                    self.seeds.on_error(id, Instant::now(), &e);
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| FetchError::for_seed("", Error::NoUsableSeed)))
    }

    /// Fetches piece `piece` and checks its SHA-1 against the info dictionary.
    /// A mismatch is reported to the serving seed's health (enough of them drop
    /// the seed) and returned as [`Error::HashMismatch`].
    pub async fn fetch_piece(&mut self, info: &Info, piece: u32) -> Result<Bytes, FetchError> {
        let (Some(offset), Some(len)) = (info.piece_offset(piece), info.piece_size(piece)) else {
            return Err(FetchError::for_seed("", Error::NoSuchPiece(piece)));
        };
        let (id, bytes) = self.fetch_range(info, offset, len).await?;
        if verify_piece(info, piece, &bytes) {
            Ok(bytes)
        } else {
            self.seeds.on_hash_failure(id);
            let url = self.seeds.url(id).unwrap_or_default();
            Err(FetchError::for_seed(url, Error::HashMismatch(piece)))
        }
    }

    /// Fetches the run of pieces `pieces` with one request per file (the
    /// long contiguous ranges web seeds serve best) and checks each piece.
    /// Returns each piece's bytes (a zero-copy slice of the run) or its
    /// [`Error::HashMismatch`]; every mismatch is reported to the serving
    /// seed's health. Fails as a whole only if the transfer fails, a piece is
    /// out of range, or the run is longer than
    /// [`ClientConfig::max_fetch_len`](crate::ClientConfig::max_fetch_len).
    pub async fn fetch_pieces(
        &mut self,
        info: &Info,
        pieces: Range<u32>,
    ) -> Result<Vec<(u32, Result<Bytes, FetchError>)>, FetchError> {
        if pieces.is_empty() {
            return Ok(Vec::new());
        }
        let last = pieces.end - 1;
        let (Some(offset), Some(last_off), Some(last_len)) = (
            info.piece_offset(pieces.start),
            info.piece_offset(last),
            info.piece_size(last),
        ) else {
            return Err(FetchError::for_seed("", Error::NoSuchPiece(pieces.end)));
        };
        let (id, run) = self
            .fetch_range(info, offset, last_off + last_len - offset)
            .await?;
        let url = self.seeds.url(id).unwrap_or_default().to_string();
        let mut out = Vec::with_capacity(pieces.len());
        for piece in pieces {
            let (Some(start), Some(len)) = (info.piece_offset(piece), info.piece_size(piece))
            else {
                continue;
            };
            // `run` holds exactly the run's bytes, so every piece fits; the
            // check keeps a slicing mistake from ever panicking.
            let from = (start - offset) as usize;
            let to = from + len as usize;
            if to > run.len() {
                return Err(FetchError::for_seed(&url, Error::NoSuchPiece(piece)));
            }
            let bytes = run.slice(from..to);
            if verify_piece(info, piece, &bytes) {
                out.push((piece, Ok(bytes)));
            } else {
                self.seeds.on_hash_failure(id);
                out.push((
                    piece,
                    Err(FetchError::for_seed(&url, Error::HashMismatch(piece))),
                ));
            }
        }
        Ok(out)
    }
}
