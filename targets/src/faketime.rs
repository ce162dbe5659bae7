//! Clock faults through libfaketime, for targets whose programs read the
//! wall clock through libc (raftkv, ZooKeeper's JVM, PostgreSQL; not
//! Debian's Redis, whose jemalloc hangs under it at start-up, libfaketime
//! issue #130): the daemon runs with the library preloaded and a per-node offset file
//! that the nemesis rewrites while it runs. Nothing else on the node, and
//! not the kernel's clock, moves, which is what makes clock faults possible
//! on the local cluster, whose nodes share one kernel clock.
//!
//! `FAKETIME_TIMESTAMP_FILE` names the offset file (`+1.500` is 1.5 s
//! ahead), re-read at most once a second (`FAKETIME_CACHE_DURATION=1`);
//! `FAKETIME_DONT_FAKE_MONOTONIC=1` leaves the monotonic clock alone, so
//! timers and timeouts keep working. `FAKETIME` itself must stay unset: it
//! would override the file.
//!
//! `FAKETIME_FORCE_MONOTONIC_FIX=0` turns off a workaround in libfaketime's
//! `pthread_cond_timedwait` that it enables by itself on this glibc: with
//! it, every timed wait of a JVM (whose condition variables use the
//! monotonic clock) returns at once, and an idle ZooKeeper server spun at
//! 35-50% of a core; without it, 0.1%, and its wall clock still moves
//! (Debian 12: libfaketime 0.9.10, glibc 2.36, OpenJDK 17). Programs that
//! do not wait on pthread condition variables with a timeout (raftkv's
//! Rust runtime waits on futexes) are not affected either way.

use crate::db::{self, Clock, DbError, NodeCtx, CLOCK_FORMAT};
use crate::node::{self, Daemon};
use crate::remote::{escape, Command};

/// Where Debian's libfaketime puts the preload library.
pub const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

/// The environment that preloads libfaketime reading its offset from
/// `file`: the daemon's, and the clock reader's, so both see one clock.
fn environment(file: &str) -> [(&'static str, &str); 5] {
    [
        ("LD_PRELOAD", LIBFAKETIME),
        ("FAKETIME_TIMESTAMP_FILE", file),
        ("FAKETIME_CACHE_DURATION", "1"),
        ("FAKETIME_DONT_FAKE_MONOTONIC", "1"),
        ("FAKETIME_FORCE_MONOTONIC_FIX", "0"),
    ]
}

/// `daemon` with libfaketime preloaded, reading its offset from `file`.
pub fn wrap(daemon: Daemon, file: &str) -> Daemon {
    environment(file)
        .into_iter()
        .fold(daemon, |d, (name, value)| d.env(name, value))
}

/// The offset, in ms, of the clock a program preloaded with libfaketime
/// and reading `file` sees on the node: `date` run under the daemon's
/// environment (a fresh process reads the file at once, where the daemon
/// may keep its last offset for up to `FAKETIME_CACHE_DURATION`).
pub fn measure_offset_ms(ctx: &NodeCtx<'_>, file: &str) -> Result<f64, DbError> {
    let read = environment(file).into_iter().fold(
        Command::new("date").arg(CLOCK_FORMAT),
        |c, (name, value)| c.env(name, value),
    );
    db::measure_offset_ms(ctx, &read)
}

/// Installs libfaketime on the node when the library is missing, and
/// writes a zero offset to `file`, so the daemon starts on true time.
pub fn prepare(ctx: &NodeCtx<'_>, file: &str) -> Result<(), DbError> {
    let present = ctx
        .remote
        .exec(&Command::new("test").args(["-e", LIBFAKETIME]).unchecked())?
        .success();
    if !present {
        node::install_packages(ctx.remote, &["libfaketime"])?;
    }
    write_offset(ctx, file, 0)
}

/// Writes the offset, in milliseconds relative to the true time, that the
/// daemon reading `file` sees from its next clock read on (at most a
/// second later).
pub fn write_offset(ctx: &NodeCtx<'_>, file: &str, offset_ms: i64) -> Result<(), DbError> {
    let spec = format!("{:+.3}", offset_ms as f64 / 1000.0);
    let script = format!(
        "mkdir -p \"$(dirname {f})\"; printf '%s\\n' {} > {f}",
        escape(&spec),
        f = escape(file)
    );
    ctx.remote.exec(&Command::shell(&script).sudo())?;
    Ok(())
}

/// A [`Clock`] that rewrites a per-node offset file, `file(node)`.
pub struct FakeClock<F> {
    file: F,
}

impl<F: Fn(&str) -> String + Send + Sync> FakeClock<F> {
    /// A clock whose offset file on `node` is `file(node)`.
    pub fn new(file: F) -> Self {
        FakeClock { file }
    }
}

impl<F: Fn(&str) -> String + Send + Sync> Clock for FakeClock<F> {
    fn set_offset_ms(&self, ctx: &NodeCtx<'_>, offset_ms: i64) -> Result<(), DbError> {
        write_offset(ctx, &(self.file)(ctx.node), offset_ms)
    }

    fn measure_offset_ms(&self, ctx: &NodeCtx<'_>) -> Result<f64, DbError> {
        measure_offset_ms(ctx, &(self.file)(ctx.node))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::Local;

    #[test]
    fn offsets_are_written_as_signed_seconds() {
        let dir = std::env::temp_dir().join(format!("temblor-faketime-{}", std::process::id()));
        let file = dir.join("n1/faketime").display().to_string();
        let local = Local::new();
        let names = vec!["n1".to_string()];
        let ctx = NodeCtx {
            node: "n1",
            nodes: &names,
            remote: &local,
        };
        let clock = FakeClock::new(|_: &str| file.clone());
        clock.set_offset_ms(&ctx, -2500).unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "-2.500\n");
        clock.set_offset_ms(&ctx, 1).unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "+0.001\n");
        let d = format!("{:?}", wrap(Daemon::new("x", "/p", "/l"), &file));
        assert!(
            d.contains(LIBFAKETIME) && d.contains("FAKETIME_TIMESTAMP_FILE"),
            "{d}"
        );
        assert!(!d.contains("\"FAKETIME\""), "{d}");
        assert!(
            d.contains("(\"FAKETIME_FORCE_MONOTONIC_FIX\", \"0\")"),
            "a JVM's timed waits would spin: {d}"
        );
        // CI installs libfaketime: there its absence is a failure.
        if std::path::Path::new(LIBFAKETIME).exists()
            || std::env::var("CI").as_deref() == Ok("true")
        {
            clock.set_offset_ms(&ctx, 60_000).unwrap();
            let seen = clock.measure_offset_ms(&ctx).unwrap();
            // A minute ahead, give or take what a slow machine adds.
            assert!((50_000.0..70_000.0).contains(&seen), "{seen}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_daemon_run_as_another_user_reads_its_offset() {
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        if !(root && std::path::Path::new(LIBFAKETIME).exists()) {
            let why = "needs root and libfaketime";
            assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
            return eprintln!("skipping: {why}");
        }
        let dir =
            std::env::temp_dir().join(format!("temblor-faketime-user-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = |f: &str| dir.join(f).display().to_string();
        std::fs::write(path("offset"), "+3600.000\n").unwrap();
        let daemon = Daemon::new("date", &path("date.pid"), &path("date.log"))
            .args(["+%s"])
            .user("nobody");
        node::start(&Local::new(), &wrap(daemon, &path("offset"))).unwrap();
        let mut seen = String::new();
        for _ in 0..500 {
            seen = std::fs::read_to_string(path("date.log")).unwrap_or_default();
            if seen.ends_with('\n') {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let faked: i64 = seen.trim().parse().unwrap_or_else(|_| panic!("{seen:?}"));
        assert!(
            (faked - now - 3600).abs() < 60,
            "{faked} is not an hour after {now}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
