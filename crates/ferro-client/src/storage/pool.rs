//! Piece buffers reused instead of allocated per piece.
//!
//! A 1 MiB `vec![0; n]` per piece costs a zeroing pass and, when the
//! allocator hands out fresh pages, a page fault per 4 KiB (a profile of a
//! 1 GiB download showed both at ~5 % of the client's CPU). Buffers come
//! back here once their piece is written or rejected. A reused buffer still
//! holds an earlier piece's bytes: harmless, because a piece is only hashed
//! once every block of it has been copied in (the picker says when), so no
//! stale byte is ever hashed, written or sent.

use std::sync::Mutex;

/// A bounded stack of spare piece buffers.
#[derive(Debug)]
pub(crate) struct BufferPool {
    free: Mutex<Vec<Vec<u8>>>,
    /// Bytes of capacity the pool keeps at most.
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
    pub(crate) fn take(&self, len: usize) -> Vec<u8> {
        let spare = self.free.lock().ok().and_then(|mut f| f.pop());
        match spare {
            Some(mut buf) => {
                // Only growth is zero-filled; a same-size buffer costs nothing.
                buf.resize(len, 0);
                buf
            }
            None => vec![0; len],
        }
    }

    /// Returns a buffer for reuse (dropped if the pool is full).
    pub(crate) fn give(&self, buf: Vec<u8>) {
        let Ok(mut free) = self.free.lock() else {
            return;
        };
        let held: usize = free.iter().map(Vec::capacity).sum();
        if held + buf.capacity() <= self.max_bytes {
            free.push(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_reused_resized_and_bounded() {
        let pool = BufferPool::new(3 * 1024);
        let a = pool.take(1024);
        assert_eq!(a, vec![0; 1024]);
        let ptr = a.as_ptr();
        pool.give(a);
        let b = pool.take(1024);
        assert_eq!(b.as_ptr(), ptr, "the same allocation comes back");
        pool.give(b);
        // A smaller piece (the last one) shrinks it; a larger one grows it.
        assert_eq!(pool.take(10).len(), 10);
        assert_eq!(pool.take(2048).len(), 2048);
        // Full: past 3 KiB of capacity, buffers are dropped.
        for _ in 0..5 {
            pool.give(vec![1; 1024]);
        }
        assert_eq!(pool.free.lock().unwrap().len(), 3);
    }
}
