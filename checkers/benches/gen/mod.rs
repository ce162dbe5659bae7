//! Generated histories for the reading benchmark and the `read_history`
//! example: list-append transactions (Elle's shape) from 10 processes, each
//! invocation followed by its completion.

use checkers::format::write_jsonl;
use checkers::history::{History, Op, OpType};
use serde_json::json;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// A history of `n` ops.
pub fn history(n: usize) -> History {
    let ops = (0..n).map(|i| {
        let (p, kind) = ((i / 2 % 10) as u64, [OpType::Invoke, OpType::Ok][i % 2]);
        let k = i / 2 % 100;
        let read = [json!(null), json!([1, 2, 3])][i % 2].clone();
        let value = json!([["append", k, i / 2], ["r", k + 1, read]]);
        Op::new(p, kind, "txn", value).at(i as u64 * 1000)
    });
    History::from_ops("generated", ops)
}

/// The op of [`history`] as a line of Jepsen's `history.edn`.
fn edn_line(op: &Op) -> String {
    let i = op.index as usize;
    let read = ["nil", "[1 2 3]"][i % 2];
    let (k, v) = (i / 2 % 100, i / 2);
    format!(
        "{{:index {i}, :time {}, :type :{}, :process {}, :f :txn, :value [[:append {k} {v}] [:r {} {read}]]}}\n",
        op.time.unwrap_or(0),
        op.kind,
        op.process,
        k + 1
    )
}

/// Writes `n` generated ops to `out`: EDN when it ends in `.edn`, JSON
/// Lines otherwise.
pub fn write(n: usize, out: &Path) -> io::Result<()> {
    let h = history(n);
    let mut w = BufWriter::new(File::create(out)?);
    if out.extension().is_some_and(|e| e == "edn") {
        for op in &h.ops {
            w.write_all(edn_line(op).as_bytes())?;
        }
    } else {
        write_jsonl(&h, &mut w)?;
    }
    w.flush()
}
