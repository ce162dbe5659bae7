//! `junit.xml` for CI (the JUnit XML that Jenkins, GitLab and GitHub
//! test reporters read): one test suite per run, one test case per
//! checker; an invalid checker is a `<failure>`, an unknown one an
//! `<error>`, each with the checker's text as message and body.

use super::results::ResultsFile;
use checkers::Verdict;
use serde::Serialize;

/// One test case.
#[derive(Debug, Serialize)]
pub struct Case {
    /// The checker.
    pub name: String,
    /// `failure`, `error`, or empty when it passed.
    pub problem: &'static str,
    /// The checker's text.
    pub text: String,
}

/// The test suite.
#[derive(Debug, Serialize)]
pub struct Suite {
    /// `temblor.<test name>`.
    pub name: String,
    /// Cases, one per checker.
    pub cases: Vec<Case>,
    /// Cases that failed.
    pub failures: usize,
    /// Cases that could not decide.
    pub errors: usize,
    /// Seconds the run took.
    pub time: f64,
}

/// The suite for a run named `test`.
pub fn suite(test: &str, results: Option<&ResultsFile>, time: f64) -> Suite {
    let cases: Vec<Case> = match results {
        Some(r) => r
            .checks
            .iter()
            .map(|c| Case {
                name: c.checker.clone(),
                problem: match c.verdict {
                    Verdict::Valid => "",
                    Verdict::Invalid => "failure",
                    Verdict::Unknown => "error",
                },
                text: c.text.clone(),
            })
            .collect(),
        None => vec![Case {
            name: "results".into(),
            problem: "error",
            text: "the run left no results.json: it stopped before its history was checked".into(),
        }],
    };
    Suite {
        name: format!("temblor.{test}"),
        failures: cases.iter().filter(|c| c.problem == "failure").count(),
        errors: cases.iter().filter(|c| c.problem == "error").count(),
        cases,
        time,
    }
}
