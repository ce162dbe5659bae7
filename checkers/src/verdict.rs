//! The three-valued verdict every checker returns, composed by taking the
//! worst (Jepsen `checker.clj` `merge-valid`; Porcupine's `CheckResult`).

use serde::{Deserialize, Serialize};
use std::fmt;

/// A checker's answer. Ordered from best to worst so that composition is
/// `max`: `Valid < Unknown < Invalid`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The history is consistent with the model.
    Valid,
    /// The checker could not decide (deadline, memory budget, or it cannot
    /// infer enough); never a guess.
    Unknown,
    /// The history is not consistent with the model.
    Invalid,
}

impl Verdict {
    /// Combine two verdicts: the worst wins.
    pub fn and(self, other: Verdict) -> Verdict {
        self.max(other)
    }

    /// Combine many verdicts; no verdicts at all is `Valid`.
    pub fn all(verdicts: impl IntoIterator<Item = Verdict>) -> Verdict {
        verdicts.into_iter().fold(Verdict::Valid, Verdict::and)
    }

    /// The process exit code the CLI uses for this verdict (0, 1 or 2).
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Valid => 0,
            Verdict::Invalid => 1,
            Verdict::Unknown => 2,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Valid => "valid",
            Verdict::Unknown => "unknown",
            Verdict::Invalid => "invalid",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_verdict_wins() {
        use Verdict::*;
        assert_eq!(Verdict::all([Valid, Valid]), Valid);
        assert_eq!(Verdict::all([Valid, Unknown]), Unknown);
        assert_eq!(Verdict::all([Invalid, Unknown, Valid]), Invalid);
        assert_eq!(Verdict::all([]), Valid);
        assert_eq!(Invalid.exit_code(), 1);
    }
}
