//! Per-transaction list-append checks that need no version order beyond
//! prefixes: internal consistency and lost updates (Elle's
//! `elle.list-append` `internal-cases` and `lost-update-cases`).

use super::ListAppend;
use crate::elle::explain::{Anomaly, TxnRef};
use crate::elle::txn::{Arg, MopF, Txns, Val};
use crate::elle::Found;
use crate::history::{History, Outcome};

/// Internal consistency: each read must agree with the txn's own earlier
/// micro-ops on that key (the previous read plus later appends; with no
/// previous read, it must end with the appends so far).
pub(super) fn internal(h: &History, t: &Txns, found: &mut Found) {
    for (i, txn) in t.txns.iter().enumerate() {
        if txn.outcome != Outcome::Ok {
            continue;
        }
        let mops = t.mops_of(i);
        for (j, m) in mops.iter().enumerate() {
            let Some(read) = t.list(m.arg) else { continue };
            let mut prior: Option<&[Val]> = None;
            let mut appended: Vec<Val> = Vec::new();
            for n in mops[..j].iter().filter(|n| n.key == m.key) {
                match (n.f, n.arg) {
                    (MopF::Read, a @ Arg::List { .. }) => {
                        prior = t.list(a);
                        appended.clear();
                    }
                    (MopF::Append, Arg::Val(v)) => appended.push(v),
                    _ => {}
                }
            }
            let ok = match prior {
                Some(p) => {
                    read.len() == p.len() + appended.len()
                        && read.starts_with(p)
                        && read.ends_with(&appended)
                }
                None => read.ends_with(&appended),
            };
            if !ok {
                let mut expected: Vec<serde_json::Value> = Vec::new();
                if prior.is_none() {
                    expected.push(serde_json::Value::from("..."));
                }
                expected.extend(
                    prior
                        .unwrap_or(&[])
                        .iter()
                        .chain(&appended)
                        .map(|&v| t.json(v)),
                );
                let txn_ref = TxnRef::new(h, t, i);
                found.add(
                    "internal",
                    Anomaly::Internal {
                        txn: txn_ref,
                        mop: j,
                        expected: expected.into(),
                        read: t.list_json(read),
                    },
                );
            }
        }
    }
}

/// Lost update: two or more committed txns read the same version of a key
/// (as their first micro-op on it) and then appended to it.
pub(super) fn lost_updates(h: &History, t: &Txns, la: &ListAppend, found: &mut Found) {
    let mut cases: Vec<(u32, u32, u32)> = Vec::new();
    for (i, txn) in t.txns.iter().enumerate() {
        if txn.outcome != Outcome::Ok {
            continue;
        }
        let mops = t.mops_of(i);
        for (j, m) in mops.iter().enumerate() {
            let Some(l) = t.list(m.arg) else { continue };
            let first_on_key = !mops[..j].iter().any(|n| n.key == m.key);
            let writes_later = mops[j + 1..]
                .iter()
                .any(|n| n.f == MopF::Append && n.key == m.key);
            if first_on_key && writes_later && la.order[m.key as usize].starts_with(l) {
                cases.push((m.key, l.len() as u32, i as u32));
            }
        }
    }
    cases.sort_unstable();
    for group in cases
        .chunk_by(|a, b| a.0 == b.0 && a.1 == b.1)
        .filter(|g| g.len() > 1)
    {
        let (key, len) = (group[0].0, group[0].1 as usize);
        let read = t.list_json(&la.order[key as usize][..len]);
        let txns = group
            .iter()
            .map(|c| TxnRef::new(h, t, c.2 as usize))
            .collect();
        found.add(
            "lost-update",
            Anomaly::LostUpdate {
                key: t.key_json(key),
                read,
                txns,
            },
        );
    }
}
