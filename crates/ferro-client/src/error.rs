//! The crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong in the client.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A disk operation failed (disk full, permission denied, ...).
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done ("create", "write", "read", ...).
        op: &'static str,
        /// The file concerned.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A socket operation failed.
    #[error("network: {0}")]
    Net(#[from] std::io::Error),
    /// A torrent file or path was invalid.
    #[error(transparent)]
    Metainfo(#[from] ferro_metainfo::Error),
    /// A peer broke the wire protocol.
    #[error("peer protocol: {0}")]
    Wire(#[from] ferro_wire::Error),
    /// A tracker could not be used.
    #[error("tracker: {0}")]
    Tracker(#[from] ferro_tracker::Error),
    /// A peer misbehaved (wrong info-hash, piece out of range, ...).
    #[error("peer {addr}: {reason}")]
    Peer {
        /// The peer.
        addr: std::net::SocketAddr,
        /// What it did.
        reason: String,
    },
    /// Fetching a magnet link's metadata (BEP 9) failed.
    #[error("metadata: {0}")]
    Metadata(String),
    /// A stage did not finish in time.
    #[error("timed out: {0}")]
    Timeout(&'static str),
    /// The torrent is already in the session.
    #[error("torrent {0} is already added")]
    DuplicateTorrent(String),
    /// The torrent stopped on an error (disk full, permission denied...);
    /// resume data stays as last written.
    #[error("torrent stopped: {0}")]
    Torrent(String),
    /// The torrent was removed or the session shut down.
    #[error("torrent stopped")]
    Stopped,
    /// A resume file could not be used.
    #[error("resume file {path}: {reason}")]
    Resume {
        /// The resume file.
        path: PathBuf,
        /// Why it was rejected.
        reason: String,
    },
    /// A file index or a list of file priorities does not fit the torrent.
    #[error("file index {index} out of range: the torrent has {files} files")]
    FileIndex {
        /// The index given (or the length of the list given).
        index: usize,
        /// Files in the torrent.
        files: usize,
    },
    /// A background task failed unexpectedly.
    #[error("internal: {0}")]
    Internal(String),
}

impl Error {
    /// An [`Error::Io`] for `path`.
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }
}
