//! Reading on one thread while the caller looks at each op on another:
//! [`super::read_path_with`]. The reader parses text into ops and hands
//! them over in batches; the caller's `visit` sees each op, with its
//! position, before it is stored, and may take its value out (Elle's
//! loader keeps the micro-ops in compact form instead), so a huge history
//! never holds all its values at once and both cores work.

use super::{edn, jsonl, Format, ReadError};
use crate::history::{History, Op};
use std::io::BufRead;
use std::sync::mpsc;

/// Ops handed over at a time: enough to make the handover cheap, few
/// enough that the values in flight stay small.
const BATCH: usize = 512;

/// Reads `reader` in `format` on a helper thread, calling `visit` on this
/// one for every op before it is stored.
pub(super) fn read_with<R: BufRead + Send>(
    reader: R,
    source: &str,
    format: Format,
    visit: &mut dyn FnMut(usize, &mut Op),
) -> Result<History, ReadError> {
    let (tx, rx) = mpsc::sync_channel::<Vec<(Op, u32)>>(4);
    std::thread::scope(|s| {
        let producer = s.spawn(move || {
            let mut batch = Vec::with_capacity(BATCH);
            let mut sink = |op: Op, line: u32| {
                batch.push((op, line));
                if batch.len() == BATCH {
                    // A closed channel means the consumer is gone: keep
                    // reading only to report the reader's own error.
                    let _ = tx.send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)));
                }
            };
            let defaults = match format {
                Format::Jsonl => jsonl::read_into(reader, source, &mut sink).map(|()| None),
                Format::Edn => edn::read_into(reader, source, false, &mut sink).map(Some),
                Format::PorcupineKv => edn::read_into(reader, source, true, &mut sink).map(Some),
            };
            let _ = tx.send(batch);
            defaults
        });
        let mut h = History::new(source);
        for batch in rx {
            for (mut op, line) in batch {
                visit(h.len(), &mut op);
                h.push(op, line);
            }
        }
        let defaults = producer
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
        if let Some(d) = defaults {
            d.apply(&mut h);
        }
        Ok(h)
    })
}
