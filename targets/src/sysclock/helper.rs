//! The clock helper on a node: `bump-time.c` uploaded and compiled there
//! once (Jepsen's `jepsen.nemesis.time/install!`: upload, `gcc`, and on
//! failure install a compiler and try again), cached under a name that
//! carries a hash of the source, so a changed helper is rebuilt and an
//! unchanged one never is; and what the helper prints, read back.

use super::ClockError;
use crate::node;
use crate::remote::{escape, Command, Remote};
use base64::Engine as _;
use std::time::Duration;

/// The helper's C source.
pub const SOURCE: &str = include_str!("bump-time.c");

/// The Debian packages that give a node a C compiler and libc headers
/// (`gcc` only recommends `libc6-dev`, and we install without recommends).
pub const COMPILER_PACKAGES: [&str; 2] = ["gcc", "libc6-dev"];

/// How long compiling may take on a slow node.
const BUILD_TIMEOUT: Duration = Duration::from_secs(120);

/// FNV-1a, 64 bits: a hash that stays the same across Rust releases (std's
/// `DefaultHasher` makes no such promise), so cached helpers stay found.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The helper's file name for this source: `bump-time-<hash>`.
pub fn binary_name() -> String {
    format!("bump-time-{:016x}", fnv1a(SOURCE.as_bytes()))
}

/// Uploads the source into `dir` and compiles it to `dir/<binary_name>`;
/// when that fails, installs a compiler with apt-get and tries once more.
pub fn build(remote: &dyn Remote, dir: &str) -> Result<(), ClockError> {
    upload_source(remote, dir)?;
    let first = match compile(remote, dir) {
        Ok(()) => return Ok(()),
        Err(e) => e,
    };
    let installed =
        node::install_packages(remote, &COMPILER_PACKAGES).map_err(|e| ClockError::Build {
            host: remote.host().to_string(),
            reason: format!(
                "{first}; installing {} with apt-get failed too: {e}; install a C compiler \
                 on {} by hand",
                COMPILER_PACKAGES.join(" and "),
                remote.host()
            ),
        })?;
    if installed.is_empty() {
        // The compiler was there: installing changes nothing.
        return Err(first);
    }
    compile(remote, dir)
}

/// Writes the source to `dir/<binary_name>.c`. It goes as base64 inside
/// the command, so it lands with root's rights even when the SSH user is
/// not root (an SFTP upload would not).
fn upload_source(remote: &dyn Remote, dir: &str) -> Result<(), ClockError> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(SOURCE);
    let file = format!("{dir}/{}.c", binary_name());
    let script = format!(
        "mkdir -p {d} && printf '%s' {b64} | base64 -d > {f}.tmp && mv -f {f}.tmp {f}",
        d = escape(dir),
        f = escape(&file),
    );
    remote
        .exec(&Command::shell(&script).sudo())
        .map_err(|e| ClockError::Build {
            host: remote.host().to_string(),
            reason: format!("cannot write the helper's source to {file}: {e}"),
        })?;
    Ok(())
}

/// Compiles `dir/<name>.c` to `dir/<name>` with `cc` (or `gcc`), through a
/// temporary name so a half-written binary is never taken for a built one.
fn compile(remote: &dyn Remote, dir: &str) -> Result<(), ClockError> {
    let name = binary_name();
    let script = format!(
        "cd {d} && CC=$(command -v cc || command -v gcc) || \
         {{ echo 'no C compiler: neither cc nor gcc is on the PATH' >&2; exit 127; }}; \
         \"$CC\" -O2 -Wall -o {name}.tmp {name}.c && mv -f {name}.tmp {name}",
        d = escape(dir),
    );
    let cmd = Command::shell(&script).sudo().timeout(BUILD_TIMEOUT);
    remote.exec(&cmd).map_err(|e| ClockError::Build {
        host: remote.host().to_string(),
        reason: e.to_string(),
    })?;
    Ok(())
}

/// What the helper printed: the clock before, the time it set (or, in a
/// dry run, would have set), and whether it set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    /// The clock when the helper read it, in ns since the epoch.
    pub current_ns: i128,
    /// The time it set or would set, in ns since the epoch.
    pub target_ns: i128,
    /// False in a dry run.
    pub set: bool,
}

impl Report {
    /// How far the helper moved (or would move) the clock, in ns.
    pub fn delta_ns(&self) -> i128 {
        self.target_ns - self.current_ns
    }

    /// Reads the helper's `current`, `target` and `now` or `dry-run` lines.
    pub fn parse(stdout: &str) -> Option<Report> {
        let field = |label: &str| {
            stdout
                .lines()
                .find_map(|l| l.strip_prefix(label)?.strip_prefix(' '))
                .and_then(parse_time_ns)
        };
        let set = stdout.lines().any(|l| l.starts_with("now "));
        let dry = stdout.lines().any(|l| l.starts_with("dry-run:"));
        (set != dry).then_some(())?;
        Some(Report {
            current_ns: field("current")?,
            target_ns: field("target")?,
            set,
        })
    }
}

/// `<seconds>.<9 digits>` to nanoseconds.
fn parse_time_ns(s: &str) -> Option<i128> {
    let (sec, nsec) = s.trim().split_once('.')?;
    if nsec.len() != 9 || !nsec.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let sec: i64 = sec.parse().ok()?;
    let nsec: i64 = nsec.parse().ok()?;
    Some(i128::from(sec) * 1_000_000_000 + i128::from(nsec))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_reference_vectors() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn the_binary_name_carries_the_source_hash() {
        let name = binary_name();
        assert!(name.starts_with("bump-time-") && name.len() == 26, "{name}");
        assert_ne!(fnv1a(SOURCE.as_bytes()), fnv1a(b"int main(){}"));
    }

    #[test]
    fn reports_are_read_back_or_refused() {
        let dry = "current 1700000000.999000000\ntarget 1700000001.499000000\n\
                   dry-run: the clock was not set\n";
        let r = Report::parse(dry).unwrap();
        assert_eq!(r.delta_ns(), 500_000_000);
        assert!(!r.set);
        let set = "current 10.000000001\ntarget 8.500000001\nnow 8.500000100\n";
        let r = Report::parse(set).unwrap();
        assert_eq!((r.delta_ns(), r.set), (-1_500_000_000, true));
        for bad in [
            "",
            "current 10.5\ntarget 11.5\nnow 11.5\n",
            "current 10.000000000\nnow 11.000000000\n",
            "current 1.000000000\ntarget 2.000000000\n",
            "current x.000000000\ntarget 2.000000000\nnow 2.000000000\n",
        ] {
            assert_eq!(Report::parse(bad), None, "{bad:?}");
        }
    }
}
