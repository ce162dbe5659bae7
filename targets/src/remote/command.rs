//! What to run on a node: a `Command` builder that renders one shell line.
//!
//! Follows Jepsen's `control.clj` (`exec`, `cd`, `sudo`, `escape`): arguments
//! are shell-escaped one by one, the working directory and environment are a
//! prefix of the line, and sudo wraps the whole line in `sh -c` so that `cd`
//! and redirections run as root too.

use std::fmt;
use std::time::Duration;

/// A command to run on a node through a [`crate::remote::Remote`].
///
/// Build it from a program and arguments (each escaped) with
/// [`Command::new`], or from a shell script used verbatim with
/// [`Command::shell`] (redirections, `&`, pipes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    body: String,
    dir: Option<String>,
    env: Vec<(String, String)>,
    sudo: bool,
    timeout: Option<Duration>,
    check: bool,
}

impl Command {
    /// Runs `program`; add arguments with [`Command::arg`].
    pub fn new(program: &str) -> Self {
        Self::shell(&escape(program))
    }

    /// Runs `script` as given, through the node's shell.
    pub fn shell(script: &str) -> Self {
        Command {
            body: script.to_string(),
            dir: None,
            env: Vec::new(),
            sudo: false,
            timeout: None,
            check: true,
        }
    }

    /// Appends one argument, escaped.
    pub fn arg(mut self, arg: impl AsRef<str>) -> Self {
        self.body.push(' ');
        self.body.push_str(&escape(arg.as_ref()));
        self
    }

    /// Appends arguments, each escaped.
    pub fn args<I, S>(self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        args.into_iter().fold(self, Command::arg)
    }

    /// Runs in `dir`; the command fails if `dir` does not exist.
    pub fn cd(mut self, dir: &str) -> Self {
        self.dir = Some(dir.to_string());
        self
    }

    /// Sets an environment variable (`name` must be a shell identifier).
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_string(), value.to_string()));
        self
    }

    /// Runs as root: through `sudo -n` when the remote user is not root.
    pub fn sudo(mut self) -> Self {
        self.sudo = true;
        self
    }

    /// Gives up after `timeout` instead of the remote's default.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Returns a non-zero exit as an [`crate::remote::Output`] instead of an
    /// error (for probes such as `kill -0`).
    pub fn unchecked(mut self) -> Self {
        self.check = false;
        self
    }

    /// The timeout asked for, if any.
    pub fn timeout_override(&self) -> Option<Duration> {
        self.timeout
    }

    /// Whether a non-zero exit is an error.
    pub fn is_checked(&self) -> bool {
        self.check
    }

    /// The shell line to send, given whether the remote user is root.
    pub fn render(&self, user_is_root: bool) -> String {
        let mut line = String::new();
        if let Some(dir) = &self.dir {
            line.push_str(&format!("cd {} || exit 1; ", escape(dir)));
        }
        for (name, value) in &self.env {
            line.push_str(&format!("export {name}={}; ", escape(value)));
        }
        line.push_str(&self.body);
        if self.sudo && !user_is_root {
            format!("sudo -n -- sh -c {}", escape(&line))
        } else {
            line
        }
    }
}

impl fmt::Display for Command {
    /// The line as a root user would send it: what error messages show.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(true))
    }
}

/// Quotes `s` for a POSIX shell; words of safe characters stay bare.
pub fn escape(s: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_./:=@%+,-".contains(c);
    if !s.is_empty() && s.chars().all(safe) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_leaves_safe_words_and_quotes_the_rest() {
        assert_eq!(escape("a-b_c/1.2"), "a-b_c/1.2");
        assert_eq!(escape(""), "''");
        assert_eq!(escape("a b"), "'a b'");
        assert_eq!(escape("it's"), r"'it'\''s'");
        assert_eq!(escape("$(rm -rf /)"), "'$(rm -rf /)'");
    }

    #[test]
    fn render_puts_cd_and_env_before_the_body() {
        let cmd = Command::new("echo").arg("a b").cd("/tmp x").env("K", "v w");
        assert_eq!(
            cmd.render(true),
            "cd '/tmp x' || exit 1; export K='v w'; echo 'a b'"
        );
    }

    #[test]
    fn sudo_wraps_only_when_not_root() {
        let cmd = Command::shell("id -u > /tmp/f").sudo();
        assert_eq!(cmd.render(true), "id -u > /tmp/f");
        assert_eq!(cmd.render(false), "sudo -n -- sh -c 'id -u > /tmp/f'");
    }
}
