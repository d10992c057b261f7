//! Which connections the loopback listener keeps when it is full (RFC 8252 §8.3: anything on
//! the machine can connect to the redirect port).
//!
//! A listener must bound the connections it serves at once, but a fixed cap that refuses new
//! connections lets anyone holding idle connections open (no request sent) starve the real
//! callback: every slot is taken, so the browser's connection is closed unanswered. The rule
//! here: when the table is full, a new connection takes the place of the *oldest* connection
//! that is not answering a request: one lingering after its answer first, else one still
//! waiting for its request head. The browser sends its request head at once, so its
//! connection is the newest idle one when it arrives and is answered before a flood could
//! age it out; a connection that is answering (it may carry the callback) is never dropped.
//! Only when every slot is answering, each bounded by the adapter's write deadline, is a new
//! connection refused.
//!
//! The adapters own the sockets: they ask [`ConnectionTable::admit`] on accept, close the
//! connection it names as evicted, report each connection's [`Phase`] and release it on close.

use std::collections::VecDeque;

/// Connections a listener holds at once. A browser opens a handful (the callback and
/// speculative preconnects); the cap bounds threads, tasks and file descriptors under a flood.
pub const MAX_CONNECTIONS: usize = 128;

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Accepted; the request head is not complete yet. Idle preconnects, port scanners and
    /// slow senders stay here until their head deadline; evictable.
    ReadingHead,
    /// The head is complete and the answer is being decided and written. Never evicted: this
    /// may be the callback.
    Answering,
    /// Answered; draining what the peer still sends before the close. Evicted first.
    Lingering,
}

/// One accepted connection, numbered in accept order by the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(u64);

/// The answer to [`ConnectionTable::admit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Serve the new connection as `id`; first close `evict` if named (its slot is now `id`'s).
    Admit {
        /// The new connection.
        id: ConnectionId,
        /// The connection to close now, if the table was full.
        evict: Option<ConnectionId>,
    },
    /// Every slot is answering: close the new connection at once.
    Refuse,
}

/// The listener's connections, oldest first, with their phases.
#[derive(Debug, Clone)]
pub struct ConnectionTable {
    entries: VecDeque<(ConnectionId, Phase)>,
    capacity: usize,
    next: u64,
}

impl Default for ConnectionTable {
    /// A table of [`MAX_CONNECTIONS`].
    fn default() -> Self {
        Self::new(MAX_CONNECTIONS)
    }
}

impl ConnectionTable {
    /// A table holding at most `capacity` connections (at least one).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            entries: VecDeque::with_capacity(capacity),
            capacity,
            next: 0,
        }
    }

    /// A connection was accepted: admit it in [`Phase::ReadingHead`], evicting the oldest
    /// lingering connection, else the oldest one reading its head, when the table is full.
    pub fn admit(&mut self) -> Admission {
        let evict = if self.entries.len() < self.capacity {
            None
        } else {
            let victim = self
                .oldest_in(Phase::Lingering)
                .or_else(|| self.oldest_in(Phase::ReadingHead));
            let Some(index) = victim else {
                return Admission::Refuse;
            };
            self.entries.remove(index).map(|(id, _)| id)
        };
        let id = ConnectionId(self.next);
        self.next = self.next.wrapping_add(1);
        self.entries.push_back((id, Phase::ReadingHead));
        Admission::Admit { id, evict }
    }

    fn oldest_in(&self, phase: Phase) -> Option<usize> {
        self.entries.iter().position(|(_, p)| *p == phase)
    }

    /// Moves `id` to `phase`. `false` when `id` is no longer in the table (it was evicted):
    /// the adapter must stop serving it.
    pub fn advance(&mut self, id: ConnectionId, phase: Phase) -> bool {
        match self.entries.iter_mut().find(|(c, _)| *c == id) {
            Some(entry) => {
                entry.1 = phase;
                true
            }
            None => false,
        }
    }

    /// The connection closed (or was evicted): frees its slot. Unknown ids are ignored.
    pub fn release(&mut self, id: ConnectionId) {
        self.entries.retain(|(c, _)| *c != id);
    }

    /// Whether `id` still holds a slot.
    pub fn contains(&self, id: ConnectionId) -> bool {
        self.entries.iter().any(|(c, _)| *c == id)
    }

    /// Connections held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No connection held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
#[path = "loopback_slots_tests.rs"]
mod tests;
