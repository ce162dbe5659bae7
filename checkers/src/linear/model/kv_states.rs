//! The kv model's strings as small integers, so that a step is one lookup
//! and a state hashes and compares in one instruction.
//!
//! A key's string only matters while some `get` may still return it. Any
//! string that is not a prefix of a value some `get` returned on that key
//! is *dead*: appends keep it dead (its extensions keep the bad prefix), no
//! get accepts it, and a put replaces it. All dead strings therefore behave
//! the same from then on and collapse into one state, [`DEAD`]: exact, not
//! an approximation. The live strings that ops can build (from `""` or a
//! put's value, by appending tokens) are numbered once, before the search,
//! by walking each get's value: position `k` is reachable when a start ends
//! there or a reachable position plus an appended token lands there. With
//! the values sorted, a value shares every position up to its common prefix
//! with the one before, so each live string gets one id and each edge is
//! found once.

use super::super::hash::FxHasher;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::Arc;

/// The empty string, every key's initial state.
pub const EMPTY: u32 = 0;
/// Every string no later get on its key can return.
pub const DEAD: u32 = 1;
/// A get value no reachable state equals; also "not yet numbered".
pub const NEVER: u32 = u32::MAX;
/// The token id of an append of `""` (changes nothing).
pub const NOOP: u32 = u32::MAX;

/// The values one history's ops carry, by key slot, as ops are prepared.
#[derive(Debug, Default)]
pub struct Vocab {
    pub gets: Interned,
    pub puts: Interned,
    pub tokens: Interned,
}

/// Distinct (slot, text) pairs numbered densely.
#[derive(Debug, Default)]
pub struct Interned {
    /// Per slot, text to id (looked up by `&str`: no allocation when seen).
    ids: Vec<FxMap<Arc<str>, u32>>,
    pub values: Vec<(usize, Arc<str>)>,
}

impl Interned {
    /// The id of `text` on key `slot`, and its shared text.
    pub fn id(&mut self, slot: usize, text: &str) -> (u32, Arc<str>) {
        if self.ids.len() <= slot {
            self.ids.resize_with(slot + 1, FxMap::default);
        }
        let ids = &mut self.ids[slot];
        if let Some((known, &id)) = ids.get_key_value(text) {
            return (id, known.clone());
        }
        let text: Arc<str> = text.into();
        let id = self.values.len() as u32;
        ids.insert(text.clone(), id);
        self.values.push((slot, text.clone()));
        (id, text)
    }
}

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// The numbered live strings and the transitions between them.
#[derive(Debug, Default)]
pub struct Tables {
    /// State each get requires (by get id), or [`NEVER`].
    pub get_state: Vec<u32>,
    /// State each put leaves (by put id): live, or [`DEAD`].
    pub put_state: Vec<u32>,
    /// `(state << 32) | token` to the state an append leaves; absent: dead.
    edges: FxMap<u64, u32>,
    /// Each state as (get id, length): a prefix of that get's value.
    states: Vec<(u32, u32)>,
    gets: Vec<Arc<str>>,
}

impl Tables {
    /// Numbers the live strings of every key in `v`.
    pub fn build(v: &Vocab) -> Tables {
        let mut t = Tables {
            get_state: vec![NEVER; v.gets.values.len()],
            put_state: vec![DEAD; v.puts.values.len()],
            edges: FxMap::default(),
            states: vec![(0, 0), (0, 0)],
            gets: v.gets.values.iter().map(|g| g.1.clone()).collect(),
        };
        for (gets, puts, tokens) in by_key(v) {
            t.add_key(&gets, &puts, &tokens);
        }
        t
    }

    /// The state after appending `token` to `state`.
    #[inline]
    pub fn append(&self, state: u32, token: u32) -> u32 {
        if token == NOOP {
            return state;
        }
        if state == DEAD {
            return DEAD;
        }
        let key = (u64::from(state) << 32) | u64::from(token);
        self.edges.get(&key).copied().unwrap_or(DEAD)
    }

    /// The string `state` stands for, or `None` for [`DEAD`].
    pub fn text(&self, state: u32) -> Option<&str> {
        let &(get, len) = self.states.get(state as usize).filter(|_| state != DEAD)?;
        let g = self.gets.get(get as usize)?;
        g.get(..len as usize)
    }

    /// Walks the key's sorted get values (see the module doc).
    fn add_key(&mut self, gets: &[(u32, &str)], puts: &[(u32, &str)], tokens: &Tokens<'_>) {
        let mut prev: (&str, Vec<u32>) = ("", vec![EMPTY]);
        for &(gid, g) in gets {
            let lcp = common_prefix(prev.0, g);
            let mut ids = vec![NEVER; g.len() + 1];
            ids[..=lcp].copy_from_slice(&prev.1[..=lcp]);
            ids[0] = EMPTY;
            for &(pid, p) in puts.iter().filter(|(_, p)| g.starts_with(p)) {
                self.number(&mut ids, p.len(), gid);
                self.put_state[pid as usize] = ids[p.len()];
            }
            let from = (lcp + 1).saturating_sub(tokens.longest);
            for k in from..g.len() {
                self.follow(&mut ids, g, k, lcp, gid, tokens);
            }
            self.get_state[gid as usize] = ids[g.len()];
            prev = (g, ids);
        }
    }

    /// Adds the edges out of position `k` of `g` that land past `lcp`.
    fn follow(
        &mut self,
        ids: &mut [u32],
        g: &str,
        k: usize,
        lcp: usize,
        gid: u32,
        tokens: &Tokens<'_>,
    ) {
        if ids[k] == NEVER {
            return;
        }
        let rest = &g.as_bytes()[k..];
        for &len in tokens.lengths.iter().filter(|&&l| l <= rest.len()) {
            if k + len <= lcp {
                continue;
            }
            let Some(&token) = tokens.ids.get(&rest[..len]) else {
                continue;
            };
            self.number(ids, k + len, gid);
            let key = (u64::from(ids[k]) << 32) | u64::from(token);
            self.edges.insert(key, ids[k + len]);
        }
    }

    /// Gives position `at` of get `gid` an id if it has none yet.
    fn number(&mut self, ids: &mut [u32], at: usize, gid: u32) {
        if ids[at] == NEVER {
            ids[at] = self.states.len() as u32;
            self.states.push((gid, at as u32));
        }
    }
}

/// One key's append tokens by their bytes, and their distinct lengths.
struct Tokens<'a> {
    ids: HashMap<&'a [u8], u32>,
    lengths: Vec<usize>,
    longest: usize,
}

type KeyValues<'a> = (Vec<(u32, &'a str)>, Vec<(u32, &'a str)>, Tokens<'a>);

/// Groups the vocabulary by key: sorted gets, puts, tokens.
fn by_key(v: &Vocab) -> Vec<KeyValues<'_>> {
    fn each(i: &Interned) -> Vec<(usize, u32, &str)> {
        let it = i.values.iter().enumerate();
        it.map(|(id, (slot, text))| (*slot, id as u32, &**text))
            .collect()
    }
    let keys = [&v.gets, &v.puts, &v.tokens]
        .iter()
        .flat_map(|i| i.values.iter().map(|x| x.0 + 1))
        .max()
        .unwrap_or(0);
    let mut out: Vec<KeyValues<'_>> = (0..keys)
        .map(|_| {
            let tokens = Tokens {
                ids: HashMap::new(),
                lengths: Vec::new(),
                longest: 0,
            };
            (Vec::new(), Vec::new(), tokens)
        })
        .collect();

    for (slot, id, text) in each(&v.gets) {
        out[slot].0.push((id, text));
    }
    for (slot, id, text) in each(&v.puts) {
        out[slot].1.push((id, text));
    }
    for (slot, id, text) in each(&v.tokens).into_iter().filter(|x| !x.2.is_empty()) {
        let t = &mut out[slot].2;
        t.ids.insert(text.as_bytes(), id);
        t.lengths.push(text.len());
    }
    for (gets, _, t) in &mut out {
        gets.sort_unstable_by(|a, b| a.1.cmp(b.1));
        t.lengths.sort_unstable();
        t.lengths.dedup();
        t.longest = t.lengths.last().copied().unwrap_or(0);
    }
    out
}

/// The length in bytes of the longest common prefix of `a` and `b`.
fn common_prefix(a: &str, b: &str) -> usize {
    a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab(gets: &[&str], puts: &[&str], tokens: &[&str]) -> Vocab {
        let mut v = Vocab::default();
        for g in gets {
            v.gets.id(0, g);
        }
        for p in puts {
            v.puts.id(0, p);
        }
        for t in tokens {
            v.tokens.id(0, t);
        }
        v
    }

    #[test]
    fn live_prefixes_get_ids_and_everything_else_is_dead() {
        let v = vocab(&["ab", "abc", "xc"], &["x", "zz"], &["a", "b", "c", ""]);
        let t = Tables::build(&v);
        let a = t.append(EMPTY, 0);
        let ab = t.append(a, 1);
        assert_eq!(t.text(ab), Some("ab"));
        assert_eq!(ab, t.get_state[0]);
        assert_eq!(t.append(ab, 2), t.get_state[1]);
        assert_eq!(t.append(EMPTY, 1), DEAD, "\"b\" prefixes no get");
        assert_eq!(t.append(DEAD, 0), DEAD);
        assert_eq!(t.append(ab, NOOP), ab);
        let x = t.put_state[0];
        assert_eq!(t.text(x), Some("x"));
        assert_eq!(t.append(x, 2), t.get_state[2]);
        assert_eq!(t.put_state[1], DEAD);
        assert_eq!(t.text(DEAD), None);
    }

    #[test]
    fn a_get_no_op_can_build_is_never_satisfied() {
        let v = vocab(&["abd", ""], &[], &["a", "b"]);
        let t = Tables::build(&v);
        assert_eq!(t.get_state[0], NEVER);
        assert_eq!(t.get_state[1], EMPTY);
        let ab = t.append(t.append(EMPTY, 0), 1);
        assert_eq!(t.text(ab), Some("ab"));
    }
}
