//! `docs/integrators.md` cannot rot: its example configuration (the ```` ```toml test ```` block) starts the real
//! `mock-smev` binary, and its ```` ```sh test ```` blocks run, in order, as one `bash -euo pipefail` script against
//! it, with `localhost:7575` pointed at the actual port and the sample envelopes the doc tells readers to make
//! already made.

#[path = "../../tests/support/oracle.rs"]
mod oracle;

use edugate::crypto::{ensure_default_engine, Certificate, PrivateKey};
use edugate::dsig::Signer;
use edugate::smev::{sample, Version};
use mock_smev::config::{certs_dev, Config};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The repository root, where the doc's relative paths start.
fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().unwrap()
}

/// The fenced blocks whose info string is exactly `info`.
fn blocks(markdown: &str, info: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match &mut current {
            None if line.trim_end() == format!("```{info}") => current = Some(String::new()),
            None => {}
            Some(_) if line.trim_end() == "```" => out.push(current.take().unwrap()),
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
        }
    }
    assert!(current.is_none(), "an unclosed ```{info} block");
    out
}

/// The binary, killed when the test ends however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn integrators_guide_examples_run() {
    for (program, package) in [("curl", "curl"), ("bash", "bash"), ("xmllint", "libxml2-utils")] {
        if oracle::oracle(program, package).is_none() {
            return;
        }
    }
    let doc = std::fs::read_to_string(repository().join("docs/integrators.md")).unwrap();
    let configs = blocks(&doc, "toml test");
    assert_eq!(configs.len(), 1, "one example configuration");
    let scripts = blocks(&doc, "sh test");
    assert!(scripts.len() >= 10, "only {} runnable examples found", scripts.len());

    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("mock-smev.toml");
    std::fs::write(&config, &configs[0]).unwrap();
    // What `edugate smev sample --out envelopes` writes: one envelope per operation, signed as EDUGATE.
    ensure_default_engine().unwrap();
    let dev = certs_dev();
    let key = PrivateKey::from_pem(&std::fs::read(dev.join("gateway.key")).unwrap()).unwrap();
    let signer = Signer::new(key, Certificate::load(&dev.join("gateway.crt")).unwrap()).unwrap();
    let envelopes = work.path().join("envelopes");
    std::fs::create_dir(&envelopes).unwrap();
    for (name, xml) in sample::envelopes(Version::V1_3, &signer).unwrap() {
        std::fs::write(envelopes.join(format!("{name}.xml")), xml).unwrap();
    }

    let mut child = Command::new(env!("CARGO_BIN_EXE_mock-smev"))
        .current_dir(repository())
        .arg("--config")
        .arg(&config)
        .arg("--listen")
        .arg("127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _running = Running(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let address = line
        .trim()
        .strip_prefix("mock-smev listening on http://")
        .unwrap_or_else(|| panic!("the example configuration does not start mock-smev: {line:?}"));

    let script = scripts.join("\n").replace("localhost:7575", address);
    let output = Command::new("bash")
        .arg("-euo")
        .arg("pipefail")
        .arg("-x")
        .arg("-c")
        .arg(&script)
        .current_dir(work.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "the guide's examples failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The number a sentence of the guide spells out in words.
fn spelled(n: usize) -> &'static str {
    let words =
        ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"];
    words.get(n).copied().unwrap_or("many")
}

/// The guide once said the default configuration registers two kinds of data when it registered four.
#[test]
fn the_guide_describes_the_default_configuration() {
    let doc = std::fs::read_to_string(repository().join("docs/integrators.md")).unwrap();
    let defaults = Config::default();
    let sentence = format!(
        "With no configuration, mock-smev registers {} information systems and {} kinds of data:",
        spelled(defaults.systems.len()),
        spelled(defaults.kinds.len())
    );
    assert!(doc.contains(&sentence), "the guide should say: {sentence}");
    for system in &defaults.systems {
        assert!(doc.contains(&format!("| `{}` |", system.mnemonic)), "system {} is not in the guide", system.mnemonic);
    }
    for kind in &defaults.kinds {
        // The schema's path under the repository's xsd/ (`xsd/epgu/kindergarten-3.2.1.xsd`).
        let xsd = kind.xsd.as_ref().map_or("none".to_string(), |p| {
            let p = p.to_string_lossy();
            format!("`xsd/{}`", p.rsplit_once("/xsd/").map_or(p.as_ref(), |(_, under)| under))
        });
        let row = format!("| `{}`, `{}` | `{}` | {} |", kind.namespace, kind.root, kind.provider, xsd);
        assert!(doc.contains(&row), "the guide has no row {row}");
    }
}
