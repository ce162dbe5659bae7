//! Which raftkv binary a run uploads: the one the user named, else the one
//! cargo built next to the running temblor. Resolved when the target is
//! first set up, never before: `temblor heal`, a dry run and a refused run
//! never build anything.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Where the raftkv binary comes from.
#[derive(Debug)]
pub struct Binary {
    given: Option<PathBuf>,
    resolved: OnceLock<Result<PathBuf, String>>,
}

impl Binary {
    /// `given`, or (when `None`) the sibling of the running executable.
    pub fn new(given: Option<PathBuf>) -> Self {
        Binary {
            given,
            resolved: OnceLock::new(),
        }
    }

    /// The binary, found (and, from a checkout, brought up to date) once;
    /// the error says what to do.
    pub fn path(&self) -> Result<PathBuf, String> {
        self.resolved.get_or_init(|| self.resolve()).clone()
    }

    fn resolve(&self) -> Result<PathBuf, String> {
        if let Some(bin) = &self.given {
            return match bin.is_file() {
                true => Ok(bin.clone()),
                false => Err(format!("raftkv binary {}: no such file", bin.display())),
            };
        }
        let exe = std::env::current_exe()
            .map_err(|e| format!("cannot locate the running executable: {e}"))?;
        let sibling = exe.with_file_name("raftkv");
        // From a checkout, cargo brings the sibling up to date (a no-op when
        // it is), so a rebuilt temblor never runs a raftkv older than its
        // sources; an installed temblor uses the sibling as it is.
        if let Err(e) = build_next_to(&exe) {
            if !sibling.is_file() {
                return Err(e);
            }
            tracing::warn!("{e}; using {} as it is", sibling.display());
        }
        match sibling.is_file() {
            true => Ok(sibling),
            false => Err(format!(
                "no raftkv binary next to {}: build it with `cargo build --release -p raftkv` \
                 or pass --raftkv-bin",
                exe.display()
            )),
        }
    }
}

/// Builds raftkv with the profile `exe` was built with, when the workspace
/// it came from is still here and `exe` sits in its cargo target folder
/// (`target/<profile>/` or `CARGO_TARGET_DIR`).
fn build_next_to(exe: &Path) -> Result<(), String> {
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    if !workspace.join("targets/raftkv/Cargo.toml").is_file() {
        return Ok(());
    }
    let Some(profile_dir) = exe.parent() else {
        return Ok(());
    };
    let release = profile_dir.file_name().is_some_and(|n| n == "release");
    let debug = profile_dir.file_name().is_some_and(|n| n == "debug");
    let Some(target_dir) = profile_dir.parent() else {
        return Ok(());
    };
    // cargo marks its target folders; a temblor copied elsewhere is left be.
    if !(release || debug) || !target_dir.join("CACHEDIR.TAG").is_file() {
        return Ok(());
    }
    tracing::info!(
        "bringing raftkv up to date (cargo build{} -p raftkv)",
        if release { " --release" } else { "" }
    );
    let mut cmd =
        std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(&workspace)
        .args(["build", "-q", "-p", "raftkv"])
        .env("CARGO_TARGET_DIR", target_dir);
    if release {
        cmd.arg("--release");
    }
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run cargo to build raftkv: {e}"))?;
    match status.success() {
        true => Ok(()),
        false => Err(format!("cargo build -p raftkv failed ({status})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_named_binary_is_used_as_given_or_refused_by_name() {
        let here = std::env::current_exe().unwrap();
        assert_eq!(Binary::new(Some(here.clone())).path().unwrap(), here);
        let e = Binary::new(Some("/nonexistent/raftkv".into()))
            .path()
            .unwrap_err();
        assert!(e.contains("/nonexistent/raftkv: no such file"), "{e}");
    }
}
