//! A tiny Fx-style hasher (the multiply-rotate hash of rustc and Firefox)
//! for the search's cache: states are small integers or carry their own
//! hash, so SipHash's DoS resistance buys nothing and costs a lot.

use std::hash::Hasher;

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// Fx hash: `h = (h.rotl(5) ^ word) * SEED` per word.
#[derive(Clone, Copy, Default)]
pub struct FxHasher {
    hash: u64,
}

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        for &b in chunks.remainder() {
            self.add(u64::from(b));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

/// A hash map keyed by small integers, hashed with [`FxHasher`].
pub(crate) type FxMap<K, V> =
    std::collections::HashMap<K, V, std::hash::BuildHasherDefault<FxHasher>>;

/// Hashes one value with [`FxHasher`].
pub fn fx<T: std::hash::Hash + ?Sized>(v: &T) -> u64 {
    let mut h = FxHasher::default();
    v.hash(&mut h);
    h.finish()
}

/// SplitMix64: a well-mixed 64-bit value per op id, XORed together into the
/// hash of a set of linearized ops (so adding or removing an op is O(1)).
pub fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_hash_equal_and_different_ones_mostly_differ() {
        assert_eq!(fx("abc"), fx("abc"));
        assert_ne!(fx("abc"), fx("abd"));
        assert_ne!(fx(&1u32), fx(&2u32));
        let ids: std::collections::HashSet<u64> = (0..1000).map(splitmix).collect();
        assert_eq!(ids.len(), 1000);
    }
}
