//! Piece buffers: page-aligned, and reused instead of allocated per piece.
//!
//! A 1 MiB `vec![0; n]` per piece costs a zeroing pass and, when the
//! allocator hands out fresh pages, a page fault per 4 KiB (a profile of a
//! 1 GiB download showed both at ~5 % of the client's CPU). Buffers come
//! back here once their piece is written or rejected. A reused buffer still
//! holds an earlier piece's bytes: harmless, because a piece is only hashed
//! once every block of it has been copied in (the picker says when), so no
//! stale byte is ever hashed, written or sent.
//!
//! The bytes start on an [`ALIGN`] boundary so that a piece can be written
//! with `O_DIRECT` straight from its buffer (see [`super::direct`]).

use std::ops::{Deref, DerefMut};
use std::sync::Mutex;

use super::direct::ALIGN;

/// A piece's bytes, starting on an [`ALIGN`] boundary; derefs to `[u8]`.
#[derive(Debug)]
pub struct PieceData {
    /// Never reallocated while in use, so `raw[start]` stays aligned.
    raw: Vec<u8>,
    start: usize,
    len: usize,
}

impl PieceData {
    /// `len` zero bytes.
    pub fn zeroed(len: usize) -> PieceData {
        let raw = vec![0u8; len + ALIGN];
        let start = (ALIGN - raw.as_ptr() as usize % ALIGN) % ALIGN;
        PieceData { raw, start, len }
    }

    /// A copy of `data`.
    pub fn copy_from(data: &[u8]) -> PieceData {
        // Within its capacity the Vec never moves: `start` stays aligned.
        let mut raw = Vec::with_capacity(data.len() + ALIGN);
        let start = (ALIGN - raw.as_ptr() as usize % ALIGN) % ALIGN;
        raw.resize(start, 0);
        raw.extend_from_slice(data);
        PieceData {
            raw,
            start,
            len: data.len(),
        }
    }

    /// Bytes this buffer can hold without reallocating.
    fn room(&self) -> usize {
        self.raw.len() - self.start
    }
}

impl Deref for PieceData {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.raw
            .get(self.start..self.start + self.len)
            .unwrap_or_default()
    }
}

impl DerefMut for PieceData {
    fn deref_mut(&mut self) -> &mut [u8] {
        self.raw
            .get_mut(self.start..self.start + self.len)
            .unwrap_or_default()
    }
}

/// A bounded stack of spare piece buffers.
#[derive(Debug)]
pub(crate) struct BufferPool {
    free: Mutex<Vec<PieceData>>,
    /// Bytes the pool keeps at most.
    max_bytes: usize,
}

impl BufferPool {
    pub(crate) fn new(max_bytes: usize) -> BufferPool {
        BufferPool {
            free: Mutex::new(Vec::new()),
            max_bytes,
        }
    }

    /// A buffer of `len` bytes with unspecified contents (zeros when new).
    pub(crate) fn take(&self, len: usize) -> PieceData {
        let spare = self.free.lock().ok().and_then(|mut f| f.pop());
        match spare {
            // A same-size (or smaller, the last piece) buffer costs nothing.
            Some(mut buf) if buf.room() >= len => {
                buf.len = len;
                buf
            }
            _ => PieceData::zeroed(len),
        }
    }

    /// Returns a buffer for reuse (dropped if the pool is full).
    pub(crate) fn give(&self, buf: PieceData) {
        let Ok(mut free) = self.free.lock() else {
            return;
        };
        let held: usize = free.iter().map(|b| b.raw.len()).sum();
        if held + buf.raw.len() <= self.max_bytes {
            free.push(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_aligned_reused_resized_and_bounded() {
        let pool = BufferPool::new(3 * (1024 + ALIGN));
        let a = pool.take(1024);
        assert_eq!(&a[..], &[0; 1024][..]);
        assert_eq!(a.as_ptr() as usize % ALIGN, 0);
        let ptr = a.as_ptr();
        pool.give(a);
        let mut b = pool.take(1024);
        assert_eq!(b.as_ptr(), ptr, "the same allocation comes back");
        b.fill(7);
        pool.give(b);
        // A smaller piece (the last one) reuses it; a larger one does not.
        let small = pool.take(10);
        assert_eq!((small.len(), small.as_ptr()), (10, ptr));
        pool.give(small);
        let big = pool.take(2048);
        assert_eq!(big.len(), 2048);
        assert_eq!(big.as_ptr() as usize % ALIGN, 0);
        // Full: past its byte budget, buffers are dropped.
        for _ in 0..5 {
            pool.give(PieceData::zeroed(1024));
        }
        assert_eq!(pool.free.lock().unwrap().len(), 3);
        for n in [0, 3, 5000] {
            let data: Vec<u8> = (0..n).map(|i| i as u8).collect();
            let copy = PieceData::copy_from(&data);
            assert_eq!(&copy[..], &data[..]);
            assert_eq!(copy.as_ptr() as usize % ALIGN, 0);
        }
    }
}
