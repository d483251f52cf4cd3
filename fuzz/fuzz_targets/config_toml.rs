//! Untrusted text through the configuration loader (`Config::load`): the TOML file, then `EDUGATE__SECTION__KEY`
//! overrides, then validation. The input is the file's text, optionally followed by a NUL byte and override lines
//! `NAME=VALUE`. Any input gives a configuration or a `ConfigError`, never a panic.
#![no_main]
use std::path::PathBuf;
use std::sync::OnceLock;

use edugate::config::Config;
use libfuzzer_sys::fuzz_target;

/// One file per fuzzing process, rewritten for each input: `Config::load` reads a path.
fn scratch() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| std::env::temp_dir().join(format!("edugate-fuzz-config-{}.toml", std::process::id())))
}

fuzz_target!(|data: &[u8]| {
    let (file, overrides) = match data.iter().position(|&b| b == 0) {
        Some(nul) => (&data[..nul], &data[nul + 1..]),
        None => (data, &[][..]),
    };
    let Ok(overrides) = std::str::from_utf8(overrides) else { return };
    let vars: Vec<(String, String)> = overrides
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    std::fs::write(scratch(), file).expect("the scratch file is writable");
    let _ = Config::load(Some(scratch()), vars);
});
