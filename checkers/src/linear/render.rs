//! The plain-text rendering of a [`LinearResult`] for a terminal: the
//! verdict, then for each partition that is not valid the failing op, the
//! longest linearizable prefixes and the counterexample as a short history.

use super::result::{Counterexample, Event, Failure, LinearResult, OpRef, PartitionResult, Prefix};
use crate::Verdict;
use std::fmt::{self, Write};

/// Prefix steps shown before the rest are summarized.
const SHOWN_STEPS: usize = 8;

impl fmt::Display for LinearResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bad = self
            .partitions
            .iter()
            .filter(|p| p.verdict != Verdict::Valid)
            .count();
        let what = match self.verdict {
            Verdict::Valid => "linearizable",
            Verdict::Invalid => "NOT linearizable",
            Verdict::Unknown => "unknown",
        };
        writeln!(
            f,
            "{what}: {} ops in {} partitions ({bad} not valid), {:.1} ms",
            self.ops,
            self.partitions.len(),
            self.elapsed_ms
        )?;
        for p in self
            .partitions
            .iter()
            .filter(|p| p.verdict != Verdict::Valid)
        {
            partition(f, p)?;
        }
        Ok(())
    }
}

fn partition(f: &mut fmt::Formatter<'_>, p: &PartitionResult) -> fmt::Result {
    let name = p
        .key
        .as_ref()
        .map_or("history".to_string(), |k| format!("key {k}"));
    if let Some(stop) = &p.unknown {
        return writeln!(f, "{name}: unknown: {stop}");
    }
    writeln!(f, "{name}: not linearizable")?;
    match &p.failure {
        Some(failure) => explain(f, failure),
        None => Ok(()),
    }
}

fn explain(f: &mut fmt::Formatter<'_>, x: &Failure) -> fmt::Result {
    writeln!(f, "  cannot linearize: {}", op_line(&x.op))?;
    if !x.prefixes.is_empty() {
        writeln!(f, "  longest linearizable prefixes:")?;
        for p in &x.prefixes {
            writeln!(f, "    {}", prefix_line(p))?;
        }
    }
    if !x.cycle.is_empty() {
        writeln!(f, "  a cycle every linearization would have to break:")?;
        for step in &x.cycle {
            writeln!(f, "    {step}")?;
        }
    }
    if let Some(cx) = &x.counterexample {
        counterexample(f, cx)?;
    }
    Ok(())
}

fn op_line(op: &OpRef) -> String {
    let mut s = format!("process {} {} (index {}", op.process, op.describe, op.index);
    if let Some(line) = op.line {
        let _ = write!(s, ", line {line}");
    }
    s.push(')');
    s
}

fn prefix_line(p: &Prefix) -> String {
    let skip = p.ops.len().saturating_sub(SHOWN_STEPS);
    let mut parts: Vec<String> = Vec::with_capacity(SHOWN_STEPS + 1);
    if skip > 0 {
        parts.push(format!("...{skip} earlier ops"));
    }
    if p.ops.is_empty() {
        parts.push("(nothing)".into());
    }
    parts.extend(
        p.ops[skip..]
            .iter()
            .map(|s| format!("{} (p{})", s.describe, s.process)),
    );
    format!("{}  => state {}", parts.join(", "), p.state)
}

fn counterexample(f: &mut fmt::Formatter<'_>, cx: &Counterexample) -> fmt::Result {
    let how = if cx.minimal {
        "smallest"
    } else {
        "smaller (shrinking ran out of time)"
    };
    writeln!(
        f,
        "  {how} counterexample ({} ops: the failing op and what rules it out):",
        cx.ops.len()
    )?;
    for e in &cx.events {
        writeln!(f, "    {}", event_line(e))?;
    }
    Ok(())
}

fn event_line(e: &Event) -> String {
    let at = match e.line {
        Some(l) => format!("index {} line {l}", e.index),
        None => format!("index {}", e.index),
    };
    let process = format!("p{}", e.process);
    format!(
        "{process:<5} {:<6} {} {}   ({at})",
        e.kind.as_str(),
        e.f,
        e.value
    )
}
