//! CSV export of a history, for spreadsheets and tools that do not speak
//! JSON Lines: one row per op, `value` and `error` as JSON text.

use crate::history::{History, Op};
use std::io::Write;

/// The header row.
pub const CSV_COLUMNS: [&str; 9] = [
    "index", "time", "process", "type", "f", "value", "node", "error", "final",
];

/// Writes `h` as CSV with the columns in [`CSV_COLUMNS`]. Absent `time`,
/// `node` and `error` are empty cells; `value` and `error` are JSON text
/// (so `"x"` keeps its quotes and `null` is spelled out); `final` is `true`
/// for the final phase's ops and empty otherwise.
pub fn write_csv<W: Write>(h: &History, w: W) -> Result<(), csv::Error> {
    let mut out = CsvWriter::new(w)?;
    for op in &h.ops {
        out.write(op)?;
    }
    out.flush()
}

/// Writes ops as CSV one at a time, as [`write_csv`] does for a whole
/// history (for histories read as a stream).
pub struct CsvWriter<W: Write> {
    out: csv::Writer<W>,
}

impl<W: Write> CsvWriter<W> {
    /// A writer onto `w`; the header row is written at once.
    pub fn new(w: W) -> Result<Self, csv::Error> {
        let mut out = csv::Writer::from_writer(w);
        out.write_record(CSV_COLUMNS)?;
        Ok(CsvWriter { out })
    }

    /// Appends `op` as a row.
    pub fn write(&mut self, op: &Op) -> Result<(), csv::Error> {
        self.out.write_record(row(op))
    }

    /// Pushes buffered rows through.
    pub fn flush(&mut self) -> Result<(), csv::Error> {
        self.out.flush()?;
        Ok(())
    }
}

fn row(op: &Op) -> [String; 9] {
    [
        op.index.to_string(),
        op.time.map(|t| t.to_string()).unwrap_or_default(),
        op.process.to_string(),
        op.kind.to_string(),
        op.f.clone(),
        op.value.to_string(),
        op.node.clone().unwrap_or_default(),
        op.error.as_ref().map(|e| e.to_string()).unwrap_or_default(),
        if op.is_final { "true" } else { "" }.to_string(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{OpType, Process};
    use serde_json::json;

    #[test]
    fn rows_follow_the_header() {
        let mut nem = Op::new(0, OpType::Info, "kill", json!(["n1", "n2"]));
        nem.process = Process::Nemesis;
        nem.error = Some(json!("timed out, \"really\""));
        let last_read = Op {
            is_final: true,
            ..Op::new(3, OpType::Invoke, "read", json!(null))
        };
        let h = History::from_ops(
            "mem",
            vec![
                Op::new(2, OpType::Invoke, "read", json!(null)).at(7),
                nem,
                last_read,
            ],
        );
        let mut out = Vec::new();
        write_csv(&h, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some("index,time,process,type,f,value,node,error,final")
        );
        assert_eq!(lines.next(), Some("0,7,2,invoke,read,null,,,"));
        let mut rows = csv::Reader::from_reader(text.as_bytes());
        let last = rows.records().nth(1).unwrap().unwrap();
        assert_eq!(&last[2], "nemesis");
        let value: serde_json::Value = serde_json::from_str(&last[5]).unwrap();
        assert_eq!(value, json!(["n1", "n2"]));
        assert_eq!(&last[7], r#""timed out, \"really\"""#);
        assert_eq!(lines.nth(1), Some("2,,3,invoke,read,null,,,true"));
    }
}
