//! Incoming connections still handshaking, capped: when the cap is reached
//! the oldest gives up its place to the newcomer. A burst of sockets that
//! never finish the handshake then costs at most the cap in tasks and
//! buffers, and cannot lock out an honest peer, whose handshake takes
//! milliseconds (refusing newcomers instead would let a flood of silent
//! sockets keep every peer out for a whole handshake timeout per wave).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

/// The pending handshakes of one listener, oldest first.
#[derive(Debug, Default)]
pub(crate) struct PendingHandshakes {
    queue: Mutex<VecDeque<(u64, Arc<Notify>)>>,
    next: AtomicU64,
}

impl PendingHandshakes {
    /// Registers a new handshake; when `cap` are pending already, the
    /// oldest is told to give up (its slot's [`PendingSlot::replaced`]).
    pub fn admit(self: &Arc<Self>, cap: usize) -> PendingSlot {
        let replaced = Arc::new(Notify::new());
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        // Bounded: removes at most the queue's length.
        while q.len() >= cap.max(1) {
            match q.pop_front() {
                // notify_one keeps the wake-up if the task is not waiting yet.
                Some((_, old)) => old.notify_one(),
                None => break,
            }
        }
        q.push_back((id, replaced.clone()));
        PendingSlot {
            pending: self.clone(),
            id,
            replaced,
        }
    }

    /// Handshakes pending now.
    pub fn len(&self) -> usize {
        self.queue.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// One pending handshake's place; dropping it frees the place.
#[derive(Debug)]
pub(crate) struct PendingSlot {
    pending: Arc<PendingHandshakes>,
    id: u64,
    /// Notified when a newer connection took this place.
    pub replaced: Arc<Notify>,
}

impl Drop for PendingSlot {
    fn drop(&mut self) {
        let mut q = self.pending.queue.lock().unwrap_or_else(|p| p.into_inner());
        q.retain(|(id, _)| *id != self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_oldest_gives_way_and_dropped_slots_free_their_place() {
        let p = Arc::new(PendingHandshakes::default());
        let a = p.admit(2);
        let b = p.admit(2);
        assert_eq!(p.len(), 2);
        let c = p.admit(2);
        assert_eq!(p.len(), 2);
        // `a` was told to give up (the wake-up is kept for it), `b` was not.
        tokio::time::timeout(std::time::Duration::from_secs(1), a.replaced.notified())
            .await
            .unwrap();
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(50), b.replaced.notified())
                .await
                .is_err()
        );
        drop(b);
        assert_eq!(p.len(), 1);
        drop(a);
        drop(c);
        assert_eq!(p.len(), 0);
    }
}
