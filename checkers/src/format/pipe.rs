//! Reading on one thread while the caller looks at each op on another:
//! [`super::read_path_with`]. The reader parses text into ops and hands
//! them over in batches; the caller's `visit` sees each op, with its
//! position, before it is stored, and may take its value out (Elle's
//! loader keeps the micro-ops in compact form instead), so a huge history
//! never holds all its values at once and both cores work.
//!
//! What the reader hands over beside each op (Elle's micro-ops) goes back
//! to it with the emptied batch, to be freed there: memory freed on the
//! thread that allocated it goes back to that thread's malloc arena
//! without a lock, and is reused warm. Freed on the caller's thread, it
//! made the two threads contend for the arena's lock (a futex wake for
//! every few ops).

use super::edn::ProcessDefaults;
use super::{edn, jsonl, Format, ReadError};
use crate::elle::mops::TxnValue;
use crate::history::{History, Op};
use std::io::BufRead;
use std::sync::mpsc;

/// Ops handed over at a time: enough to make the handover cheap, few
/// enough that the values in flight stay small.
const BATCH: usize = 2048;

/// What a reader hands over with each op: the op's value in another form
/// (Elle's micro-ops), or nothing; the caller's `visit` sees it by
/// reference, and it is freed on the reader's thread.
type Sink<'a, T> = &'a mut dyn FnMut(Op, T, u32);

/// What a reader knows once it has read everything: the process defaults
/// an EDN file needs, the line of a JSON Lines record cut short.
#[derive(Default)]
pub(super) struct Ended {
    defaults: Option<ProcessDefaults>,
    torn_line: Option<u32>,
}

impl Ended {
    fn defaults(defaults: ProcessDefaults) -> Ended {
        Ended {
            defaults: Some(defaults),
            torn_line: None,
        }
    }

    fn torn(torn_line: Option<u32>) -> Ended {
        Ended {
            defaults: None,
            torn_line,
        }
    }
}

/// Runs `produce` (a reader feeding its sink op by op, returning the
/// process defaults an EDN file needs) on a helper thread, calling
/// `visit` on this one for every op before it is stored.
pub(super) fn read_with<R, T>(
    reader: R,
    source: &str,
    produce: impl FnOnce(R, &str, Sink<'_, T>) -> Result<Ended, ReadError> + Send,
    visit: &mut dyn FnMut(usize, &mut Op, &T),
) -> Result<History, ReadError>
where
    R: BufRead + Send,
    T: Send,
{
    let (tx, rx) = mpsc::sync_channel::<Vec<(Op, T, u32)>>(4);
    // Emptied batches go back to the reader with the extras they carried:
    // allocating a fresh batch each time costs an mmap and page faults (a
    // batch is a few hundred KB), and the extras are freed there.
    let (back, spare) = mpsc::channel::<(Vec<(Op, T, u32)>, Vec<T>)>();
    std::thread::scope(|s| {
        let producer = std::thread::Builder::new()
            .name("reader".into())
            .spawn_scoped(s, move || {
                let mut batch = Vec::with_capacity(BATCH);
                let mut sink = |op: Op, extra: T, line: u32| {
                    batch.push((op, extra, line));
                    if batch.len() == BATCH {
                        let next = match spare.try_recv() {
                            Ok((next, spent)) => {
                                drop(spent);
                                next
                            }
                            Err(_) => Vec::with_capacity(BATCH),
                        };
                        // A closed channel means the consumer is gone: keep
                        // reading only to report the reader's own error.
                        let _ = tx.send(std::mem::replace(&mut batch, next));
                    }
                };
                let ended = produce(reader, source, &mut sink);
                let _ = tx.send(batch);
                ended
            });
        // Spawning fails only when the system is out of threads.
        let producer = producer.map_err(|e| ReadError::Io {
            path: source.into(),
            source: e,
        })?;
        let mut h = History::new(source);
        for mut batch in rx {
            let mut spent = Vec::with_capacity(batch.len());
            for (mut op, extra, line) in batch.drain(..) {
                visit(h.len(), &mut op, &extra);
                h.push(op, line);
                spent.push(extra);
            }
            let _ = back.send((batch, spent));
        }
        let ended = producer
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
        if let Some(d) = ended.defaults {
            d.apply(&mut h);
        }
        h.torn_line = ended.torn_line;
        Ok(h)
    })
}

/// The reader of `format`, handing over nothing but the op.
pub(super) fn ops<R: BufRead>(
    format: Format,
) -> impl FnOnce(R, &str, Sink<'_, ()>) -> Result<Ended, ReadError> + Send {
    move |reader, source, sink| {
        let sink = &mut |op, line| sink(op, (), line);
        match format {
            Format::Jsonl => jsonl::read_into(reader, source, sink).map(Ended::torn),
            Format::Edn => edn::read_into(reader, source, false, sink).map(Ended::defaults),
            Format::PorcupineKv => edn::read_into(reader, source, true, sink).map(Ended::defaults),
        }
    }
}

/// The reader of `format`, handing over each op's value as micro-ops.
pub(super) fn txns<R: BufRead>(
    format: Format,
) -> impl FnOnce(R, &str, Sink<'_, TxnValue>) -> Result<Ended, ReadError> + Send {
    move |reader, source, sink| match format {
        Format::Jsonl => jsonl::read_txns_into(reader, source, sink).map(Ended::torn),
        Format::Edn => edn::read_txns_into(reader, source, false, sink).map(Ended::defaults),
        Format::PorcupineKv => edn::read_txns_into(reader, source, true, sink).map(Ended::defaults),
    }
}
