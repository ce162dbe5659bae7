//! Unit tests of the EDN reader: shapes of files, conversion, defaults.

use super::read;
use crate::format::ReadError;
use crate::history::{History, OpType, Process};
use serde_json::json;

fn edn(text: &str) -> Result<History, ReadError> {
    read(text.as_bytes(), "h.edn", false)
}

fn error_line(text: &str) -> (u32, String) {
    match edn(text).unwrap_err() {
        ReadError::History(e) => (e.line.unwrap_or(0), e.to_string()),
        other => panic!("not a history error: {other}"),
    }
}

#[test]
fn reads_a_vector_a_list_and_bare_maps_alike() {
    let maps = "{:process 0, :type :invoke, :f :read, :value nil}\n\
                {:process 0, :type :ok, :f :read, :value 3}";
    let bare = edn(maps).unwrap();
    let vector = edn(&format!("; comment\n[{maps}]\n; trailing\n")).unwrap();
    let list = edn(&format!("({maps})")).unwrap();
    assert_eq!(bare.ops, vector.ops);
    assert_eq!(bare.ops, list.ops);
    assert_eq!(bare.ops[1].value, json!(3));
    assert_eq!(bare.lines, vec![1, 2]);
    assert_eq!(vector.lines, vec![2, 3]);
    assert_eq!(edn("").unwrap().len(), 0);
    assert_eq!(edn("[]").unwrap().len(), 0);
}

#[test]
fn converts_jepsen_keys() {
    let h = edn(
        "[{:process :nemesis, :type :info, :f :start, :value #{:n1}, :time 5}\n\
          {:process 3 :type :fail :f \"cas\" :value [1 2] :index 9 :node \"n2\" :error [:timeout \"x\"] :junk 1}\n\
          #_ {:ignored true}]",
    )
    .unwrap();
    assert_eq!(h.len(), 2);
    assert_eq!(h.ops[0].process, Process::Nemesis);
    assert_eq!((h.ops[0].time, h.ops[0].index), (Some(5), 0));
    assert_eq!(h.ops[0].value, json!(["n1"]));
    let op = &h.ops[1];
    assert_eq!(
        (op.process, op.kind, op.f.as_str()),
        (Process::Client(3), OpType::Fail, "cas")
    );
    assert_eq!((op.index, op.node.as_deref()), (9, Some("n2")));
    assert_eq!(op.error, Some(json!(["timeout", "x"])));
    assert!(!op.is_final);
}

#[test]
fn reads_jepsen_final_marks() {
    let h = edn(
        "{:process 0, :type :invoke, :f :read, :value nil, :final? true}\n\
         {:process 0, :type :ok, :f :read, :value 3, :final? true}",
    )
    .unwrap();
    assert!(h.ops.iter().all(|o| o.is_final));
    let (line, msg) = error_line("{:process 0, :type :invoke, :f :read, :final? 1}");
    assert_eq!(line, 1);
    assert!(msg.contains(":final? must be true or false"), "{msg}");
}

#[test]
fn a_key_makes_an_independent_op() {
    let h = read(
        &b"{:process 0, :type :invoke, :f :put, :key \"k\", :value \"v\"}"[..],
        "kv",
        true,
    )
    .unwrap();
    assert_eq!(h.ops[0].value, json!(["k", "v"]));
    let e = read(
        &b"{:process 0, :type :invoke, :f :put, :value \"v\"}"[..],
        "kv",
        true,
    )
    .unwrap_err();
    assert_eq!(e.to_string(), "kv:1: bad op: porcupine kv op has no :key");
}

#[test]
fn missing_processes_pair_first_in_first_out() {
    let h = edn("{:index 0 :type :invoke :value [[:append 1 1]]}\n\
         {:index 1 :type :invoke :value [[:r 1 nil]]}\n\
         {:index 2 :type :ok :value [[:append 1 1]]}\n\
         {:index 3 :type :ok :value [[:r 1 [1]]]}\n\
         {:process 4 :type :invoke :f :txn :value []}")
    .unwrap();
    let procs: Vec<_> = h.ops.iter().map(|o| o.process).collect();
    let c = Process::Client;
    assert_eq!(procs, vec![c(5), c(6), c(5), c(6), c(4)]);
    assert!(h.ops.iter().all(|o| o.f == "txn"));
    let ops = h.operations().unwrap();
    assert_eq!((ops[0].invoke, ops[0].complete), (0, Some(2)));
    assert_eq!((ops[1].invoke, ops[1].complete), (1, Some(3)));
}

#[test]
fn bad_ops_name_their_line() {
    let good = "{:process 0 :type :invoke :f :read :value nil}\n";
    let (line, msg) = error_line(&format!("{good}\n{{:process 0 :type :done :f :read}}"));
    assert_eq!(line, 3);
    assert!(msg.contains("unknown op type \"done\""), "{msg}");
    let (line, msg) = error_line(&format!("[{good} 5]"));
    assert_eq!(line, 2);
    assert!(msg.contains("expected an op map, found 5"), "{msg}");
    let (line, msg) = error_line(&format!("{good}{{:process -1 :type :ok :f :read}}"));
    assert_eq!(line, 2);
    assert!(msg.contains(":process must be"), "{msg}");
    let (line, msg) = error_line(&format!(
        "{good}{{:process 1 :type :ok :f :read :time \"x\"}}"
    ));
    assert_eq!(line, 2);
    assert!(msg.contains(":time must be"), "{msg}");
    let (_, msg) = error_line("{:process 1 :type :ok :value 1}");
    assert!(msg.contains("op has no :f"), "{msg}");
    let (_, msg) = error_line("{:process 1 :f :read}");
    assert!(msg.contains("op has no :type"), "{msg}");
}

#[test]
fn syntax_errors_name_their_line() {
    let good = "{:process 0 :type :invoke :f :read :value nil}\n";
    // A map cut short: reported where it starts.
    let (line, msg) = error_line(&format!("{good}{good}{{:process 0, :type :ok, :f"));
    assert_eq!(line, 3);
    assert!(
        msg.starts_with("h.edn:3: syntax error: `{` opened here is never closed"),
        "{msg}"
    );
    let (line, _) = error_line(&format!("[{good}{good}"));
    assert_eq!(line, 1);
    let (line, msg) = error_line(&format!("[{good}]\n]"));
    assert_eq!(line, 3);
    assert!(msg.contains("text after"), "{msg}");
    let (line, msg) = error_line(&format!("({good}{good}]"));
    assert_eq!(line, 3);
    assert!(msg.contains("unexpected `]`"), "{msg}");
    let e = read(&b"{:process 0}\n\xff\xfe\x00\x01garbage"[..], "bin", false).unwrap_err();
    assert!(e.to_string().starts_with("bin:"), "{e}");
}

/// Serves `text`, then fails: a disk or pipe error mid-file.
struct FailsAfter<'a>(&'a [u8]);

impl std::io::Read for FailsAfter<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.0.is_empty() {
            return Err(std::io::Error::other("device gone"));
        }
        let n = buf.len().min(self.0.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

#[test]
fn an_io_error_mid_file_is_an_io_error_not_a_syntax_error() {
    let text = b"[{:process 0 :type :invoke :f :read :value nil}\n{:process 0 :type :ok";
    let reader = std::io::BufReader::with_capacity(16, FailsAfter(text));
    match read(reader, "pipe.edn", false).unwrap_err() {
        e @ ReadError::Io { .. } => assert_eq!(e.to_string(), "pipe.edn: device gone"),
        other => panic!("expected an i/o error, got {other}"),
    }
}

/// Reads `head` on two threads, the second reading `tail` from byte `at`
/// (in use, `tail` is `head[at..]`: a different one shows which thread
/// read what).
fn two_threads(head: &str, tail: &str, at: usize) -> History {
    super::read_split(head.as_bytes(), tail.as_bytes(), at as u64, "h.edn", false).unwrap()
}

#[test]
fn the_second_thread_is_used_only_from_an_op_map_at_the_top_level() {
    let op = |i: u32, v: u32| format!("{{:index {i}, :process 0, :type :ok, :f :r, :value {v}}}");
    let head = format!("{}\n{}\n", op(0, 1), op(1, 2));
    let seam = head.find("\n{").unwrap() + 1;
    let tail = format!("{}\n{}\n", op(1, 20), op(2, 30));
    let h = two_threads(&head, &tail, seam);
    let values: Vec<_> = h.ops.iter().map(|o| o.value.clone()).collect();
    assert_eq!(values, vec![json!(1), json!(20), json!(30)]);
    assert_eq!(h.lines, vec![1, 2, 3]);
    // A seam inside a string, or off an element's start: ignored.
    let quoted = format!(
        "{{:index 0, :process 0, :type :ok, :f :r, :value \"a\n{}\"}}\n",
        op(7, 7)
    );
    let inside = quoted.find("\n{").unwrap() + 1;
    assert_eq!(two_threads(&quoted, &tail, inside).len(), 1);
    assert_eq!(two_threads(&head, &tail, seam + 1).ops[1].value, json!(2));
    // The tail's ending must match the head's opening bracket.
    let vector = format!("[{head}]");
    assert_eq!(
        two_threads(&vector, &format!("{tail}]"), seam + 1).ops[1].value,
        json!(20)
    );
    assert_eq!(two_threads(&vector, &tail, seam + 1).ops[1].value, json!(2));
    assert_eq!(
        two_threads(&head, &format!("{tail}]"), seam).ops[1].value,
        json!(2)
    );
}

#[test]
fn the_seam_is_met_whatever_the_head_readers_buffer() {
    // The head reader knows where it is by counting what it consumed
    // across refills and top-ups of its buffer: with any buffer size it
    // must land on the seam, where only the tail has the values 20 and 30.
    let op = |i: u32, v: u32| {
        format!("{{:index {i}, :process 0, :type :ok, :f :r, :value [{v} [1 2]]}}")
    };
    let head = format!("[{}\n{}\n{}]", op(0, 1), op(1, 2), op(2, 3));
    let seam = head.find("\n{:index 1").unwrap() + 1;
    let tail = format!("{}\n{}]", op(1, 20), op(2, 30));
    for capacity in 1..=head.len() + 1 {
        let reader = std::io::BufReader::with_capacity(capacity, head.as_bytes());
        let h = super::read_split(reader, tail.as_bytes(), seam as u64, "h.edn", false).unwrap();
        let values: Vec<_> = h.ops.iter().map(|o| o.value.clone()).collect();
        let want = vec![json!([1, [1, 2]]), json!([20, [1, 2]]), json!([30, [1, 2]])];
        assert_eq!(values, want, "buffer of {capacity}");
        assert_eq!(h.lines, vec![1, 2, 3]);
    }
}
