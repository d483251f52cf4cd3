//! Finding the external programs and reference data some tests compare against or drive (xmllint, xmlsec1,
//! openssl and its gost engine, curl, the real SMEV samples in `../shared/reference`...). A test whose oracle is
//! missing is skipped with a printed message, unless `EDUGATE_REQUIRE_ORACLES=1` (CI sets it, after installing
//! them), in which case it fails: a required oracle never turns into a silent pass. This is the one place that
//! rule is written; every skip goes through [`missing_oracle`].
//!
//! This file is included by path from mock-smev's tests too, so it depends on the standard library only.
#![allow(dead_code)]

use std::path::PathBuf;

/// Environment variable that turns a missing oracle into a test failure. CI sets it.
pub const REQUIRE_ORACLES: &str = "EDUGATE_REQUIRE_ORACLES";

/// Whether the environment requires every oracle (`EDUGATE_REQUIRE_ORACLES=1`).
pub fn oracles_required() -> bool {
    std::env::var(REQUIRE_ORACLES).is_ok_and(|v| v == "1")
}

/// Finds an external program on `PATH`. When it is missing the caller's test is skipped with a printed message,
/// unless `EDUGATE_REQUIRE_ORACLES=1`, in which case this panics, failing the test.
pub fn oracle(program: &str, package: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths).map(|dir| dir.join(program)).find(|candidate| candidate.is_file())
    });
    if found.is_none() {
        missing_oracle(&format!("{program} is not installed; install the Debian package {package} to run this test"));
    }
    found
}

/// Finds reference data (a file or a directory) a test reads, described by `what`. When it is missing the
/// caller's test is skipped with a printed message, unless `EDUGATE_REQUIRE_ORACLES=1`, in which case this panics.
pub fn oracle_path(path: PathBuf, what: &str) -> Option<PathBuf> {
    if path.exists() {
        return Some(path);
    }
    missing_oracle(&format!("{} is missing, so {what} cannot be read", path.display()));
    None
}

/// Reports that a test cannot run because an oracle is unusable (`why`, saying how to get it): a panic under
/// `EDUGATE_REQUIRE_ORACLES=1`, otherwise a printed skip. Callers return right after it.
pub fn missing_oracle(why: &str) {
    assert!(!oracles_required(), "{why}; and {REQUIRE_ORACLES}=1 requires it");
    eprintln!("SKIPPED: {why}");
}
