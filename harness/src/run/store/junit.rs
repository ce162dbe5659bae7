//! `junit.xml` for CI (the JUnit XML that Jenkins, GitLab and GitHub
//! test reporters read): one test suite per run, one test case per
//! checker; an invalid checker is a `<failure>`, an unknown one an
//! `<error>`, each with the checker's text as message and body. A run
//! that failed (or left no results) is one `<error>` case carrying the
//! error.

use super::results::ResultsFile;
use checkers::Verdict;

/// One test case.
#[derive(Debug)]
pub struct Case {
    /// The checker (or `run`).
    pub name: String,
    /// `failure`, `error`, or empty when it passed.
    pub problem: &'static str,
    /// The checker's text, or the error.
    pub text: String,
}

/// The test suite.
#[derive(Debug)]
pub struct Suite {
    /// `temblor.<test name>`.
    pub name: String,
    /// Cases, one per checker.
    pub cases: Vec<Case>,
    /// Seconds the run took.
    pub time: f64,
    /// `<properties>`: name and value (a test-all run's seed, command).
    pub properties: Vec<(String, String)>,
}

/// The suite for a run of `test`.
pub fn suite(test: &str, results: Option<&ResultsFile>) -> Suite {
    let mut cases: Vec<Case> = Vec::new();
    match results {
        Some(r) => {
            if let Some(error) = &r.error {
                cases.push(Case {
                    name: "run".into(),
                    problem: "error",
                    text: format!("{}: {error}", r.outcome().name()),
                });
            }
            cases.extend(r.checks.iter().map(|c| Case {
                name: c.checker.clone(),
                problem: match c.verdict {
                    Verdict::Valid => "",
                    Verdict::Invalid => "failure",
                    Verdict::Unknown => "error",
                },
                text: c.text.clone(),
            }));
        }
        None => cases.push(Case {
            name: "run".into(),
            problem: "error",
            text: "the run left no results.json: it stopped before its history was checked".into(),
        }),
    }
    Suite {
        name: format!("temblor.{test}"),
        cases,
        time: results.and_then(|r| r.duration_s).unwrap_or(0.0),
        properties: Vec::new(),
    }
}

impl Suite {
    /// Cases that failed.
    pub fn failures(&self) -> usize {
        self.cases.iter().filter(|c| c.problem == "failure").count()
    }

    /// Cases that could not decide, or a run that failed.
    pub fn errors(&self) -> usize {
        self.cases.iter().filter(|c| c.problem == "error").count()
    }

    /// The XML document.
    pub fn to_xml(&self) -> String {
        document(std::slice::from_ref(self))
    }

    fn counts(&self) -> String {
        format!(
            r#"tests="{}" failures="{}" errors="{}" time="{:.3}""#,
            self.cases.len(),
            self.failures(),
            self.errors(),
            self.time
        )
    }

    /// The `<testsuite>` element.
    fn element(&self) -> String {
        let name = escape(&self.name);
        let mut x = format!("<testsuite name=\"{name}\" {}>\n", self.counts());
        if !self.properties.is_empty() {
            x += "<properties>";
            for (k, v) in &self.properties {
                x += &format!("<property name=\"{}\" value=\"{}\"/>", escape(k), escape(v));
            }
            x += "</properties>\n";
        }
        for c in &self.cases {
            x += &format!(
                "<testcase name=\"{}\" classname=\"{name}\">",
                escape(&c.name)
            );
            if !c.problem.is_empty() {
                let text = escape(&c.text);
                x += &format!(
                    "\n<{p} message=\"{text}\" type=\"{p}\">{text}</{p}>\n",
                    p = c.problem
                );
            }
            x += "</testcase>\n";
        }
        x + "</testsuite>\n"
    }
}

/// A JUnit document of `suites` (one per run: `temblor test-all` puts
/// every run of a matrix in one file), with their totals.
pub fn document(suites: &[Suite]) -> String {
    let sum = |f: fn(&Suite) -> usize| suites.iter().map(f).sum::<usize>();
    let time: f64 = suites.iter().map(|s| s.time).sum();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x += &format!(
        r#"<testsuites name="temblor" tests="{}" failures="{}" errors="{}" time="{time:.3}">"#,
        sum(|s| s.cases.len()),
        sum(Suite::failures),
        sum(Suite::errors),
    );
    x += "\n";
    for s in suites {
        x += &s.element();
    }
    x + "</testsuites>\n"
}

/// `s` as XML 1.0 text or attribute value: markup escaped, and the
/// control characters XML cannot carry (an error quoting a program's
/// stderr may hold escape codes) shown as `\u{..}`.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' | '\r' => out.push_str(&format!("&#{};", ch as u32)),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_control_characters_are_escaped() {
        assert_eq!(
            escape("a<b & \"c\"\n\u{1b}[31m"),
            "a&lt;b &amp; &quot;c&quot;&#10;\\u{1b}[31m"
        );
    }

    #[test]
    fn a_failed_run_is_one_error_case_with_its_message() {
        let e = anyhow::anyhow!("ssh n1: exit status 7 <boom>");
        let r = ResultsFile::failed(&e, Some(1));
        let xml = suite("t", Some(&r)).to_xml();
        assert!(xml.contains(r#"errors="1""#), "{xml}");
        assert!(
            xml.contains(r#"<error message="harness-error: ssh n1: exit status 7 &lt;boom&gt;""#),
            "{xml}"
        );
        let none = suite("t", None).to_xml();
        assert!(none.contains("left no results.json"), "{none}");
    }
}
