//! Validation of business content against a kind of data's XSD, with libxml2's `xmllint` (Debian package
//! `libxml2-utils`). A subprocess keeps libxml2 out of the process, so a hostile schema or document cannot take the
//! emulator down; its cost (a few milliseconds) is acceptable for an emulator.
#![forbid(unsafe_code)]

use edugate::smev::fault::ValidationError;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// Why validation could not run at all (as opposed to the content being invalid).
#[derive(Debug, thiserror::Error)]
#[error("cannot run xmllint (Debian package libxml2-utils): {0}")]
pub struct ValidatorUnavailable(String);

/// Validates `content` against `xsd`. `Ok(Ok(()))` when valid, `Ok(Err(errors))` when not.
pub fn validate(xsd: &Path, content: &str) -> Result<Result<(), Vec<ValidationError>>, ValidatorUnavailable> {
    let mut child = Command::new("xmllint")
        .arg("--noout")
        .arg("--nonet")
        .arg("--schema")
        .arg(xsd)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| ValidatorUnavailable(e.to_string()))?;
    let mut stdin = child.stdin.take().ok_or_else(|| ValidatorUnavailable("no stdin".into()))?;
    let bytes = content.as_bytes().to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&bytes));
    let output = child.wait_with_output().map_err(|e| ValidatorUnavailable(e.to_string()))?;
    let _ = writer.join();
    match output.status.code() {
        Some(0) => Ok(Ok(())),
        // 3: the document does not validate; 1: it is not even well-formed.
        Some(1) | Some(3) => Ok(Err(errors(&String::from_utf8_lossy(&output.stderr)))),
        _ => Err(ValidatorUnavailable(String::from_utf8_lossy(&output.stderr).into_owned())),
    }
}

/// Turns xmllint's messages (`-:3: element x: Schemas validity error : ...`) into validation errors with the line
/// as position.
fn errors(stderr: &str) -> Vec<ValidationError> {
    let mut out: Vec<ValidationError> = stderr
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.ends_with("fails to validate"))
        .map(|line| {
            let mut parts = line.splitn(3, ':');
            let _source = parts.next();
            let position = parts.next().and_then(|p| p.trim().parse().ok()).unwrap_or(-1);
            let message = parts.next().map_or(line, str::trim).to_string();
            ValidationError { message, position }
        })
        .collect();
    if out.is_empty() {
        out.push(ValidationError { message: "content does not match the schema".into(), position: -1 });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_xmllint_messages() {
        let e = errors("-:1: element x: Schemas validity error : Element 'x': This element is not expected.\n- fails to validate\n");
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].position, 1);
        assert!(e[0].message.contains("not expected"));
    }
}
