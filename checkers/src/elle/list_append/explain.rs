//! Evidence for list-append edges, looked up after the cycle search: which
//! key, value and read make `from` precede `to` (Elle's
//! `elle.list-append` explainer).

use super::ListAppend;
use crate::elle::explain::Evidence;
use crate::elle::graph::Rel;
use crate::elle::txn::{Arg, MopF, Txns, Val};

impl ListAppend {
    /// Evidence for `from -rel-> to`, looked up after the search.
    pub fn explain(&self, t: &Txns, from: u32, to: u32, rel: Rel) -> Option<Evidence> {
        match rel {
            Rel::Ww => self.explain_ww(t, from, to),
            Rel::Wr => self
                .explain_read(t, to, |k, len| {
                    len > 0 && self.writer_at[k][len - 1] == from
                })
                .map(|(k, l)| Evidence::Wr {
                    key: t.key_json(k),
                    value: t.json(l[l.len() - 1]),
                    read: t.list_json(l),
                }),
            Rel::Rw => self
                .explain_read(t, from, |k, len| self.next_by(k, len, to).is_some())
                .and_then(|(k, l)| {
                    let next = self.next_by(k as usize, l.len(), to)?;
                    Some(Evidence::Rw {
                        key: t.key_json(k),
                        read: t.list_json(l),
                        value: t.json(next),
                    })
                }),
            Rel::Process | Rel::Realtime => None,
        }
    }

    /// The value `to` wrote right after the first `len` versions of key `k`.
    fn next_by(&self, k: usize, len: usize, to: u32) -> Option<Val> {
        match self.writer_at[k].get(len) {
            Some(&w) => (w == to).then(|| self.order[k][len]),
            None => self.unobserved_by(k, to),
        }
    }

    /// An append by `to` to key `k` that no read observed.
    fn unobserved_by(&self, k: usize, to: u32) -> Option<Val> {
        self.unobserved[k].iter().find(|u| u.1 == to).map(|u| u.0)
    }

    fn explain_ww(&self, t: &Txns, from: u32, to: u32) -> Option<Evidence> {
        for m in t.mops_of(from as usize) {
            let (MopF::Append, Arg::Val(v)) = (m.f, m.arg) else {
                continue;
            };
            let k = m.key as usize;
            let Some(pos) = self.order[k].iter().position(|x| *x == v) else {
                continue;
            };
            let next = match self.writer_at[k].get(pos + 1) {
                Some(&w) if w == to => Some(self.order[k][pos + 1]),
                None => self.unobserved_by(k, to),
                Some(_) => None,
            };
            if let Some(next) = next {
                return Some(Evidence::Ww {
                    key: t.key_json(m.key),
                    value: t.json(v),
                    next: t.json(next),
                });
            }
        }
        None
    }

    /// The first external read of `txn` matching `pred(key, len)`.
    fn explain_read<'a>(
        &self,
        t: &'a Txns,
        txn: u32,
        pred: impl Fn(usize, usize) -> bool,
    ) -> Option<(u32, &'a [Val])> {
        let mops = t.mops_of(txn as usize);
        mops.iter().enumerate().find_map(|(j, m)| {
            let l = t.list(m.arg)?;
            let external = !mops[..j]
                .iter()
                .any(|n| n.f == MopF::Append && n.key == m.key);
            (external && self.order[m.key as usize].starts_with(l) && pred(m.key as usize, l.len()))
                .then_some((m.key, l))
        })
    }
}
