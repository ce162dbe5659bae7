//! The search's memo of visited configurations (Lowe 2017, "Testing for
//! linearizability", section 4): a set of (linearized ops as a bitset, model
//! state). Bitsets live in one arena and entries chain under a 64-bit hash,
//! so a lookup allocates nothing and an insert allocates only amortized.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Passes an already well-mixed u64 hash through unchanged.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, i: u64) {
        self.0 = i;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

const END: u32 = u32::MAX;

struct Entry<S> {
    next: u32,
    state: S,
}

/// Visited (bitset, state) pairs.
pub(crate) struct Cache<S> {
    words: usize,
    arena: Vec<u64>,
    entries: Vec<Entry<S>>,
    heads: HashMap<u64, u32, BuildHasherDefault<IdHasher>>,
}

impl<S: Eq + Clone> Cache<S> {
    /// An empty cache for bitsets of `words` 64-bit words.
    pub fn new(words: usize) -> Self {
        Cache {
            words,
            arena: Vec::new(),
            entries: Vec::new(),
            heads: HashMap::default(),
        }
    }

    /// Adds (bits, state) under `hash`; false when it was already there.
    pub fn insert(&mut self, hash: u64, bits: &[u64], state: &S) -> bool {
        let head = self.heads.get(&hash).copied().unwrap_or(END);
        let mut at = head;
        while at != END {
            let e = &self.entries[at as usize];
            let start = at as usize * self.words;
            if e.state == *state && self.arena[start..start + self.words] == *bits {
                return false;
            }
            at = e.next;
        }
        let id = self.entries.len() as u32;
        self.entries.push(Entry {
            next: head,
            state: state.clone(),
        });
        self.arena.extend_from_slice(bits);
        self.heads.insert(hash, id);
        true
    }

    /// Entries stored.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Estimated bytes held (capacity, not length: what the allocator gave).
    pub fn bytes(&self) -> usize {
        self.arena.capacity() * 8
            + self.entries.capacity() * std::mem::size_of::<Entry<S>>()
            + self.heads.capacity() * (8 + 4 + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_is_new_once_even_when_hashes_collide() {
        let mut c: Cache<u32> = Cache::new(2);
        assert!(c.insert(7, &[1, 0], &5));
        assert!(!c.insert(7, &[1, 0], &5));
        assert!(c.insert(7, &[1, 0], &6), "same hash, other state");
        assert!(c.insert(7, &[0, 1], &5), "same hash, other bits");
        assert!(!c.insert(7, &[0, 1], &5));
        assert_eq!(c.len(), 3);
        assert!(c.bytes() >= 3 * 16);
    }
}
