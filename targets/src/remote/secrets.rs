//! Values that must never reach a log or a results file: a target's
//! options whose names say they are secret (`password`, `secret`,
//! `token`, `passphrase`), registered when the target is opened, and
//! masked as `***` wherever a command line or an error is logged.
//! Process-wide, because commands are logged far from where the options
//! are known (the SSH layer).

use std::sync::Mutex;

static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Whether an option named `name` holds a secret.
pub fn is_secret_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["password", "passwd", "secret", "token", "passphrase"]
        .iter()
        .any(|w| n.contains(w))
}

/// Registers `value` (and its shell-quoted form) to be masked.
pub fn register(value: &str) {
    if value.is_empty() {
        return;
    }
    let mut all = SECRETS.lock().unwrap_or_else(|e| e.into_inner());
    for v in [value.to_string(), super::escape(value)] {
        if !all.contains(&v) {
            all.push(v);
        }
    }
    // The longest first, so a secret inside another is masked whole.
    all.sort_by_key(|v| std::cmp::Reverse(v.len()));
}

/// `text` with every registered secret replaced by `***`.
pub fn mask(text: &str) -> String {
    let all = SECRETS.lock().unwrap_or_else(|e| e.into_inner());
    let mut out = text.to_string();
    for s in all.iter() {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), "***");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_values_are_masked_quoted_or_not() {
        assert!(is_secret_name("password") && is_secret_name("API_TOKEN"));
        assert!(!is_secret_name("isolation"));
        register("hunter2 x");
        let line = format!(
            "export PGPASSWORD={}; psql",
            crate::remote::escape("hunter2 x")
        );
        assert_eq!(mask(&line), "export PGPASSWORD=***; psql");
        assert_eq!(mask("pw=hunter2 x!"), "pw=***!");
        assert_eq!(mask("nothing here"), "nothing here");
    }
}
