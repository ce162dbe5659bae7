//! For tests that run the clock helper on this machine: a thread whose
//! children cannot set the system clock, whatever the helper does.
//!
//! The thread drops `CAP_SYS_TIME` from its bounding, inheritable,
//! permitted and effective sets (capabilities are per thread on Linux and a
//! child inherits its parent thread's), then asks a child, started the way
//! `Local` starts commands (sudo included), what it holds. Only when that
//! child has no `CAP_SYS_TIME` in any set does the test body run; otherwise
//! the test is skipped, saying why, or fails under `CI=true`. So a dry-run
//! bug, or a test that means to see `EPERM`, can never move the clock of
//! the machine the tests run on.

use crate::remote::{Command, Local, Remote};

/// `CAP_SYS_TIME` from `<linux/capability.h>`.
const CAP_SYS_TIME: u32 = 25;
/// `_LINUX_CAPABILITY_VERSION_3`: two 32-bit words per set.
const CAP_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Runs `body` on a thread that cannot set the clock, or skips (`None`),
/// printing why, when that cannot be arranged (fails instead with
/// `CI=true`).
pub fn run<T, F>(what: &str, body: F) -> Option<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let what = what.to_string();
    let joined = std::thread::spawn(move || {
        let dropped = drop_sys_time();
        match child_holds_sys_time() {
            Ok(false) => Some(body()),
            Ok(true) => skip(
                &what,
                &format!("cannot drop CAP_SYS_TIME here ({dropped:?})"),
            ),
            Err(e) => skip(&what, &format!("cannot see a child's capabilities: {e}")),
        }
    })
    .join();
    match joined {
        Ok(r) => r,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

fn skip<T>(what: &str, why: &str) -> Option<T> {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{what}: {why}; CI=true, so this test must not skip");
    }
    eprintln!("skipping {what}: {why}");
    None
}

/// Drops `CAP_SYS_TIME` from this thread's sets. Errors are reported, not
/// fatal: a process that never had the capability needs no drop, and
/// [`child_holds_sys_time`] is what decides.
fn drop_sys_time() -> Result<(), String> {
    let os_err = |call: &str| format!("{call}: {}", std::io::Error::last_os_error());
    // SAFETY: prctl with PR_CAPBSET_DROP takes a capability number and
    // touches no memory of ours.
    let rc = unsafe {
        libc::prctl(
            libc::PR_CAPBSET_DROP,
            libc::c_ulong::from(CAP_SYS_TIME),
            0,
            0,
            0,
        )
    };
    let bounding = (rc == 0)
        .then_some(())
        .ok_or_else(|| os_err("PR_CAPBSET_DROP"));
    let mut header = CapHeader {
        version: CAP_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: capget/capset read and write one header and the two data
    // words of version 3, which is what we pass.
    if unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) } != 0 {
        return Err(os_err("capget"));
    }
    let keep = !(1u32 << CAP_SYS_TIME);
    data[0].effective &= keep;
    data[0].permitted &= keep;
    data[0].inheritable &= keep;
    // SAFETY: as above.
    if unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) } != 0 {
        return Err(os_err("capset"));
    }
    bounding
}

/// Whether a child started like `Local` starts commands holds
/// `CAP_SYS_TIME` in any of its sets (or could gain it on exec).
fn child_holds_sys_time() -> Result<bool, String> {
    let cmd = Command::shell("grep '^Cap' /proc/self/status").sudo();
    let out = Local::new().exec(&cmd).map_err(|e| e.to_string())?;
    let mut seen = 0;
    for line in out.stdout.lines() {
        let Some((_, hex)) = line.split_once(':') else {
            continue;
        };
        let bits = u64::from_str_radix(hex.trim(), 16).map_err(|e| format!("{line:?}: {e}"))?;
        if bits & (1 << CAP_SYS_TIME) != 0 {
            return Ok(true);
        }
        seen += 1;
    }
    // Inheritable, permitted, effective, bounding and ambient.
    match seen {
        5 => Ok(false),
        n => Err(format!("expected 5 Cap lines, got {n}: {:?}", out.stdout)),
    }
}
