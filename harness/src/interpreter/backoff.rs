//! How long a worker rests after its node could not be reached: doubling
//! from a floor to a cap, back to nothing after an `ok`. Without it a
//! worker whose node is killed fails in a tight loop (connection refused
//! comes back at once), bloating the history and taking CPU from the
//! cluster; Jepsen gets the same effect from stagger and clients that are
//! slow to fail.
//!
//! The rest is spent with the thread held out of the free set, after the
//! completion is recorded and before the next invocation: it never counts
//! as an op's latency, and other workers go on as before.

use checkers::OpType;
use std::time::Duration;
use workloads::ClientError;

/// The backoff settings of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The rest after a first unavailable answer.
    pub floor: Duration,
    /// The longest rest.
    pub cap: Duration,
}

impl Default for Backoff {
    /// 10 ms doubling to 1 s: a node that is down costs each of its workers
    /// about one op a second, and a node back up is used again within 1 s.
    fn default() -> Self {
        Backoff {
            floor: Duration::from_millis(10),
            cap: Duration::from_secs(1),
        }
    }
}

/// One worker's backoff state.
#[derive(Clone, Debug)]
pub(crate) struct Rests {
    settings: Backoff,
    next: Duration,
}

impl Rests {
    pub fn new(settings: Backoff) -> Self {
        Rests {
            settings,
            next: settings.floor,
        }
    }

    /// How long to rest after an op that ended with `result`: a rest that
    /// doubles with each unavailable answer, none otherwise; an `ok`
    /// starts the doubling over.
    pub fn after(&mut self, result: &Result<checkers::Op, ClientError>) -> Option<Duration> {
        match result {
            Err(e) if e.is_unavailable() => {
                let rest = self.next.min(self.settings.cap);
                self.next = (rest * 2).min(self.settings.cap);
                Some(rest).filter(|r| !r.is_zero())
            }
            Ok(done) if done.kind == OpType::Ok => {
                self.next = self.settings.floor;
                None
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use checkers::Op;
    use serde_json::json;
    use workloads::Complete;

    fn down() -> Result<Op, ClientError> {
        Err(ClientError::Unavailable("cannot connect".into()))
    }

    #[test]
    fn rests_double_to_the_cap_and_an_ok_starts_over() {
        let mut r = Rests::new(Backoff::default());
        let ms = |n| Some(Duration::from_millis(n));
        let rests: Vec<_> = (0..9).map(|_| r.after(&down())).collect();
        assert_eq!(
            rests,
            vec![
                ms(10),
                ms(20),
                ms(40),
                ms(80),
                ms(160),
                ms(320),
                ms(640),
                ms(1000),
                ms(1000)
            ]
        );
        let read = Op::new(0, OpType::Invoke, "read", json!(null));
        assert_eq!(r.after(&Ok(read.fail("cas mismatch"))), None);
        assert_eq!(r.after(&down()), ms(1000), "a fail is not an ok");
        assert_eq!(r.after(&Ok(read.ok(json!(1)))), None);
        assert_eq!(r.after(&down()), ms(10));
        assert_eq!(r.after(&Err(ClientError::Fail("not leader".into()))), None);
    }

    #[test]
    fn a_zero_floor_never_rests() {
        let mut r = Rests::new(Backoff {
            floor: Duration::ZERO,
            cap: Duration::from_secs(1),
        });
        assert_eq!(r.after(&down()), None);
        assert_eq!(r.after(&down()), None);
    }
}
