//! `SystemClock` through `Local`, with every path under a scratch folder.
//! Tests that run the helper do it in [`unprivileged::run`], so none of
//! them can move this machine's clock.

use super::*;
use crate::remote::Local;
use std::path::{Path, PathBuf};

/// A fresh scratch folder for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("temblor-sysclock-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_state(clock: &SystemClock, text: &str) {
    let path = PathBuf::from(clock.state_file());
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn state(clock: &SystemClock) -> String {
    std::fs::read_to_string(clock.state_file()).unwrap()
}

/// Builds the helper under `root` and returns its path.
fn built_helper(root: &Path) -> String {
    SystemClock::rehearsal(root)
        .ensure_helper(&Local::new())
        .unwrap()
}

#[test]
fn the_step_is_the_difference_and_overflow_is_refused() {
    assert_eq!(step_ms(0, 500), Some(500));
    assert_eq!(step_ms(500, -200), Some(-700));
    assert_eq!(step_ms(-200, 0), Some(200));
    assert_eq!(step_ms(7, 7), Some(0));
    assert_eq!(step_ms(i64::MAX, -2), None);
    assert_eq!(step_ms(i64::MIN, 1), None);
}

#[test]
fn the_state_file_reads_zero_when_absent_and_refuses_garbage() {
    let root = scratch("state");
    let clock = SystemClock::rehearsal(&root);
    let local = Local::new();
    assert_eq!(clock.offset_ms(&local).unwrap(), 0);
    write_state(&clock, "-250\n");
    assert_eq!(clock.offset_ms(&local).unwrap(), -250);
    for bad in ["", "12 ms\n", "1.5\n", "\n"] {
        write_state(&clock, bad);
        let e = clock.offset_ms(&local).unwrap_err().to_string();
        assert!(
            e.starts_with("localhost: clock state file")
                && e.contains(&clock.state_file())
                && e.contains("remove the file"),
            "{bad:?}: {e}"
        );
    }
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn a_reset_with_nothing_applied_builds_and_runs_nothing() {
    let root = scratch("noop");
    let clock = SystemClock::rehearsal(&root);
    assert_eq!(clock.apply(&Local::new(), 0).unwrap(), None);
    assert!(!Path::new(&clock.helper_dir()).exists());
    assert!(!Path::new(&clock.state_file()).exists());
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn offsets_are_reached_by_bumping_the_difference_and_recorded() {
    unprivileged::run("the system clock rehearsal", || {
        let root = scratch("offsets");
        let (clock, local) = (SystemClock::rehearsal(&root), Local::new());
        let moved = |wanted| {
            let r = clock.apply(&local, wanted).unwrap();
            r.map(|r: Report| {
                assert!(!r.set, "a dry run set the clock: {r:?}");
                r.delta_ns() / 1_000_000
            })
        };
        assert_eq!(moved(500), Some(500));
        assert_eq!(state(&clock), "500\n");
        assert_eq!(moved(-200), Some(-700));
        assert_eq!(moved(-200), None);
        assert_eq!(state(&clock), "-200\n");
        // A new clock, as `temblor heal` builds, undoes what the file says.
        let healer = SystemClock::rehearsal(&root);
        let r = healer.apply(&local, 0).unwrap().unwrap();
        assert_eq!(r.delta_ns(), 200_000_000);
        assert_eq!(state(&clock), "0\n");
        std::fs::remove_dir_all(&root).unwrap();
    });
}

#[test]
fn the_helper_compiles_once_and_its_dry_run_moves_the_target_by_the_delta() {
    unprivileged::run("the clock helper's dry run", || {
        let root = scratch("dry-run");
        let bin = built_helper(&root);
        assert!(bin.ends_with(&helper::binary_name()), "{bin}");
        let mtime = || std::fs::metadata(&bin).unwrap().modified().unwrap();
        let first = mtime();
        assert_eq!(built_helper(&root), bin);
        assert_eq!(mtime(), first, "a cached helper was rebuilt");
        for delta_ms in [1500i64, -2500, 1, 0] {
            let cmd = Command::new(&bin).args(["--dry-run", &delta_ms.to_string()]);
            let out = Local::new().exec(&cmd).unwrap();
            let r = Report::parse(&out.stdout).unwrap();
            assert_eq!(r.delta_ns(), i128::from(delta_ms) * 1_000_000, "{out:?}");
            assert!(!r.set && out.stdout.contains("dry-run: the clock was not set"));
        }
        std::fs::remove_dir_all(&root).unwrap();
    });
}

#[test]
fn without_cap_sys_time_the_helper_fails_saying_why_and_nothing_is_recorded() {
    unprivileged::run("the clock helper without CAP_SYS_TIME", || {
        let root = scratch("eperm");
        let clock = SystemClock {
            dry_run: false,
            ..SystemClock::rehearsal(&root)
        };
        // 1 ms, in case the kernel ever granted what it must refuse.
        let e = clock.apply(&Local::new(), 1).unwrap_err().to_string();
        for want in [
            "localhost:",
            "bump-time",
            "status 3",
            "not permitted",
            "CAP_SYS_TIME",
        ] {
            assert!(e.contains(want), "{want} missing from {e}");
        }
        assert!(!Path::new(&clock.state_file()).exists());
        std::fs::remove_dir_all(&root).unwrap();
    });
}

#[test]
fn the_helper_refuses_bad_arguments_with_a_message() {
    unprivileged::run("the clock helper's argument checks", || {
        let root = scratch("args");
        let bin = built_helper(&root);
        let cases: [(&[&str], &str); 5] = [
            (&[], "no delta given"),
            (&["12x"], "12x is not a whole number of milliseconds"),
            (&[""], "is not a whole number"),
            (&["1", "2"], "too many arguments"),
            (&["400000000000"], "out of range"),
        ];
        for (args, want) in cases {
            let cmd = Command::new(&bin).args(args.iter().copied()).unchecked();
            let out = Local::new().exec(&cmd).unwrap();
            assert_eq!(out.status, 64, "{args:?}: {out:?}");
            assert!(out.stderr.contains(want), "{args:?}: {}", out.stderr);
            assert!(out.stdout.is_empty(), "{args:?}: {}", out.stdout);
        }
        std::fs::remove_dir_all(&root).unwrap();
    });
}

#[test]
fn prepare_builds_the_helper_and_puts_back_a_leftover_offset() {
    unprivileged::run("the system clock's prepare", || {
        let root = scratch("prepare");
        let (clock, local) = (SystemClock::rehearsal(&root), Local::new());
        let nodes = vec!["n1".to_string()];
        let ctx = NodeCtx {
            node: "n1",
            nodes: &nodes,
            remote: &local,
        };
        clock.prepare(&ctx).unwrap();
        let bin = format!("{}/{}", clock.helper_dir(), helper::binary_name());
        assert!(Path::new(&bin).is_file(), "{bin} not built");
        assert!(!Path::new(&clock.state_file()).exists());
        write_state(&clock, "300\n");
        clock.prepare(&ctx).unwrap();
        assert_eq!(state(&clock), "0\n");
        std::fs::remove_dir_all(&root).unwrap();
    });
}
