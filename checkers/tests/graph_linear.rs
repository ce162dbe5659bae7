//! Linearizability through the graph (`checkers::elle::check_register_graph`)
//! against the search-based checker (`checkers::linear::check_spec`,
//! cas-register, nil reads absent) on many small seeded register histories:
//! from a correct register, and from registers with injected stale reads,
//! lost writes and crashes. Wherever both answer, they must agree.

use checkers::elle::{check_register_graph, GraphLinearOptions, GraphLinearResult};
use checkers::linear::{
    check_spec, CheckOptions, Decider, LinearResult, Method, ModelKind, ModelSpec,
};
use checkers::{History, Op, OpType, Verdict};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use std::time::Duration;

/// What the simulated register does wrong.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Fault {
    None,
    /// Some reads return an older value.
    StaleRead,
    /// Some acknowledged writes never apply.
    LostWrite,
}

/// One in-flight op: f, argument, and whether it has taken effect.
struct Pending {
    process: u64,
    f: &'static str,
    arg: Value,
    result: Option<(OpType, Value)>,
}

struct Sim {
    rng: ChaCha8Rng,
    fault: Fault,
    keys: u64,
    states: Vec<Vec<Value>>,
    next_value: i64,
    next_process: u64,
    ops: Vec<Op>,
}

impl Sim {
    fn wrap(&self, key: u64, v: Value) -> Value {
        if self.keys > 1 {
            json!([key, v])
        } else {
            v
        }
    }

    fn invoke(&mut self, process: u64) -> Pending {
        let key = self.rng.gen_range(0..self.keys);
        let (f, arg) = match self.rng.gen_range(0..10) {
            0..=3 => ("read", Value::Null),
            4..=6 => {
                self.next_value += 1;
                ("write", json!(self.next_value))
            }
            _ => {
                self.next_value += 1;
                let seen = &self.states[key as usize];
                let old =
                    seen[self.rng.gen_range(seen.len().saturating_sub(2)..seen.len())].clone();
                ("cas", json!([old, self.next_value]))
            }
        };
        let arg = self.wrap(key, arg);
        self.ops
            .push(Op::new(process, OpType::Invoke, f, arg.clone()));
        Pending {
            process,
            f,
            arg: json!([key, arg]),
            result: None,
        }
    }

    /// Applies `p` at this instant, as the (possibly faulty) register would.
    fn apply(&mut self, p: &mut Pending) {
        let key = p.arg[0].as_u64().unwrap_or(0);
        let arg = if self.keys > 1 {
            p.arg[1][1].clone()
        } else {
            p.arg[1].clone()
        };
        let hist = &mut self.states[key as usize];
        let cur = hist.last().cloned().unwrap_or(Value::Null);
        let fault = self.fault != Fault::None && self.rng.gen_bool(0.25);
        let (kind, value) = match p.f {
            "read" if fault && self.fault == Fault::StaleRead => {
                (OpType::Ok, hist[self.rng.gen_range(0..hist.len())].clone())
            }
            "read" => (OpType::Ok, cur),
            "write" => {
                if !(fault && self.fault == Fault::LostWrite) {
                    hist.push(arg.clone());
                }
                (OpType::Ok, arg)
            }
            _ if arg[0] == cur => {
                hist.push(arg[1].clone());
                (OpType::Ok, arg)
            }
            _ => (OpType::Fail, arg),
        };
        p.result = Some((kind, self.wrap(key, value)));
    }

    fn complete(&mut self, p: Pending) -> bool {
        let crashed = p.f != "read" && self.rng.gen_bool(0.08);
        let (kind, value) = match (crashed, p.result) {
            (true, _) => (OpType::Info, p.arg[1].clone()),
            (false, Some(r)) => r,
            (false, None) => unreachable!("completed before applying"),
        };
        let value = if crashed && self.keys > 1 {
            self.wrap(p.arg[0].as_u64().unwrap_or(0), p.arg[1][1].clone())
        } else {
            value
        };
        self.ops.push(Op::new(p.process, kind, p.f, value));
        crashed
    }
}

fn generate(seed: u64, fault: Fault, keys: u64, n: usize) -> History {
    let mut sim = Sim {
        rng: ChaCha8Rng::seed_from_u64(seed),
        fault,
        keys,
        states: vec![vec![Value::Null]; keys as usize],
        next_value: 0,
        next_process: 3,
        ops: Vec::new(),
    };
    let mut slots: Vec<Option<Pending>> = (0..3).map(|_| None).collect();
    let mut procs: Vec<u64> = vec![0, 1, 2];
    let mut invoked = 0;
    while invoked < n || slots.iter().any(Option::is_some) {
        let s = sim.rng.gen_range(0..slots.len());
        match slots[s].take() {
            None if invoked < n => {
                slots[s] = Some(sim.invoke(procs[s]));
                invoked += 1;
            }
            None => {}
            Some(mut p) if p.result.is_none() => {
                sim.apply(&mut p);
                slots[s] = Some(p);
            }
            Some(p) => {
                // A crashed process continues under a new id.
                let crashed = sim.complete(p);
                if crashed {
                    procs[s] = sim.next_process;
                    sim.next_process += 1;
                }
            }
        }
    }
    History::from_ops("sim.jsonl", sim.ops)
}

fn graph(h: &History, keys: u64) -> GraphLinearResult {
    let opts = GraphLinearOptions {
        independent: keys > 1,
        ..Default::default()
    };
    check_register_graph(h, &opts).unwrap()
}

fn linear(h: &History, keys: u64, decider: Decider, shrink: Duration) -> LinearResult {
    let spec = ModelSpec {
        independent: keys > 1,
        ..ModelSpec::new(ModelKind::CasRegister)
    };
    let opts = CheckOptions {
        time_limit: Some(Duration::from_secs(5)),
        shrink_time_limit: shrink,
        threads: 1,
        decider,
        ..CheckOptions::default()
    };
    check_spec(h, &spec, &opts).unwrap()
}

fn search(h: &History, keys: u64) -> Verdict {
    linear(h, keys, Decider::Search, Duration::ZERO).verdict
}

/// The race of the search and the graph (`Decider::Auto` on cas histories)
/// answers as the search alone does; and where the graph decides (run
/// first, `Decider::GraphFirst`), its shrunk counterexample holds the
/// failing op, is not linearizable, and is linearizable without it.
#[test]
fn the_race_agrees_with_the_search_and_graph_wins_explain_themselves() {
    let (mut graph_won, mut invalid) = (0, 0);
    for seed in 0..1500u64 {
        let fault = [Fault::None, Fault::StaleRead, Fault::LostWrite][seed as usize % 3];
        let keys = if seed % 4 == 3 { 2 } else { 1 };
        let h = generate(seed, fault, keys, 6 + seed as usize % 25);
        let expected = search(&h, keys);
        let raced = linear(&h, keys, Decider::Auto, Duration::ZERO);
        assert_eq!(raced.verdict, expected, "seed {seed}: {raced}");
        // The graph's answers, deterministically: as the race may see them.
        let raced = linear(&h, keys, Decider::GraphFirst, Duration::from_secs(5));
        assert_eq!(raced.verdict, expected, "seed {seed}: {raced}");
        let Some(p) = raced
            .partitions
            .iter()
            .find(|p| p.verdict == Verdict::Invalid)
        else {
            continue;
        };
        invalid += 1;
        let failure = p.failure.as_ref().expect("a failure");
        if p.method != Method::Graph {
            continue;
        }
        graph_won += 1;
        let Some(cx) = failure.counterexample.as_ref() else {
            panic!("seed {seed}: no counterexample\n{raced}\n{:#?}", h.ops);
        };
        let f = &failure.op;
        assert!(cx.ops.iter().any(|o| o.index == f.index), "seed {seed}");
        let whole = cx.history();
        assert_eq!(
            search(&whole, keys),
            Verdict::Invalid,
            "seed {seed}: {raced}"
        );
        assert_eq!(
            search(&cx.history_without(f), keys),
            Verdict::Valid,
            "seed {seed}: {raced}"
        );
    }
    eprintln!("{invalid} invalid, {graph_won} decided by the graph");
    assert!(invalid > 300, "only {invalid} invalid");
    assert!(
        graph_won * 2 > invalid,
        "the graph decided only {graph_won}"
    );
}

#[test]
fn the_graph_checker_agrees_with_the_search_wherever_both_answer() {
    let (mut answered, mut valid, mut invalid, mut total) = (0, 0, 0, 0);
    for seed in 0..1500u64 {
        let fault = [Fault::None, Fault::StaleRead, Fault::LostWrite][seed as usize % 3];
        let keys = if seed % 4 == 3 { 2 } else { 1 };
        let h = generate(seed, fault, keys, 6 + seed as usize % 15);
        let g = graph(&h, keys);
        total += 1;
        if g.verdict == Verdict::Unknown {
            assert!(g.reason.is_some(), "seed {seed}: unknown without a reason");
            continue;
        }
        let s = search(&h, keys);
        if s == Verdict::Unknown {
            continue;
        }
        answered += 1;
        valid += (g.verdict == Verdict::Valid) as usize;
        invalid += (g.verdict == Verdict::Invalid) as usize;
        assert_eq!(
            g.verdict,
            s,
            "seed {seed} ({fault:?}, {keys} keys):\n{}\n{h:#?}",
            g.render()
        );
        if g.verdict == Verdict::Invalid {
            assert!(
                !g.cycle.is_empty() || g.reason.is_some(),
                "seed {seed}: invalid, unexplained"
            );
        }
    }
    eprintln!("answered {answered} of {total}: {valid} valid, {invalid} invalid");
    assert!(answered * 2 > total, "answered only {answered} of {total}");
    assert!(
        valid > total / 10 && invalid > total / 10,
        "{valid} valid, {invalid} invalid"
    );
}

#[test]
fn longer_histories_of_a_correct_register_are_answered_valid() {
    for seed in 0..100u64 {
        let h = generate(seed, Fault::None, 1, 80);
        let g = graph(&h, 1);
        assert_eq!(g.verdict, Verdict::Valid, "seed {seed}:\n{}", g.render());
    }
}

fn ops(list: Vec<(u64, OpType, &str, Value)>) -> History {
    History::from_ops(
        "t.jsonl",
        list.into_iter().map(|(p, k, f, v)| Op::new(p, k, f, v)),
    )
}

#[test]
fn a_stale_read_after_a_write_completed_is_a_realtime_cycle() {
    use OpType::*;
    let h = ops(vec![
        (0, Invoke, "write", json!(1)),
        (0, Ok, "write", json!(1)),
        (0, Invoke, "write", json!(2)),
        (0, Ok, "write", json!(2)),
        (1, Invoke, "read", Value::Null),
        (1, Ok, "read", json!(1)),
    ]);
    let r = graph(&h, 1);
    assert_eq!(r.verdict, Verdict::Invalid, "{}", r.render());
    // write 1 < write 2 in real time, yet the read of 1 after write 2
    // completed puts 2 before 1 in the version order.
    let rels: Vec<&str> = r.cycle.iter().map(|s| s.rel.as_str()).collect();
    assert_eq!(rels, vec!["realtime", "ww"], "{}", r.render());
    assert!(
        r.cycle[1].because.contains("completed before read 1"),
        "{}",
        r.render()
    );
    for w in r.cycle.windows(2) {
        assert_eq!(w[0].to, w[1].from);
    }
    assert_eq!(search(&h, 1), Verdict::Invalid);
}

#[test]
fn unsupported_histories_are_unknown_with_a_reason() {
    use OpType::*;
    let twice = ops(vec![
        (0, Invoke, "write", json!(1)),
        (0, Ok, "write", json!(1)),
        (1, Invoke, "write", json!(1)),
        (1, Ok, "write", json!(1)),
    ]);
    let r = graph(&twice, 1);
    assert_eq!(r.verdict, Verdict::Unknown);
    assert!(r.reason.unwrap().contains("more than once"));
    let add = ops(vec![(0, Invoke, "add", json!(1)), (0, Ok, "add", json!(1))]);
    assert_eq!(graph(&add, 1).verdict, Verdict::Unknown);
    let bad = ops(vec![(0, Invoke, "cas", json!(1)), (0, Ok, "cas", json!(1))]);
    let e = check_register_graph(&bad, &GraphLinearOptions::default()).unwrap_err();
    assert!(e.to_string().starts_with("t.jsonl"), "{e}");
}

#[test]
fn a_read_of_a_failed_write_is_invalid_and_of_a_crashed_one_is_valid() {
    use OpType::*;
    let with = |kind| {
        ops(vec![
            (0, Invoke, "write", json!(1)),
            (0, kind, "write", json!(1)),
            (1, Invoke, "read", Value::Null),
            (1, Ok, "read", json!(1)),
        ])
    };
    assert_eq!(graph(&with(Fail), 1).verdict, Verdict::Invalid);
    assert_eq!(graph(&with(Info), 1).verdict, Verdict::Valid);
}
