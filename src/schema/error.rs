//! What validation reports: the issues libxml2 found, bounded in number and length, and why a schema could not be
//! compiled or used.
#![forbid(unsafe_code)]

use std::path::PathBuf;

/// At most this many issues are kept from one validation or compilation; the rest are only counted. A hostile
/// document can make libxml2 report one error per element, and the issues travel into logs and answers.
pub const MAX_ISSUES: usize = 10;

/// At most this many characters of one issue's message are kept (libxml2 quotes the offending value, which may be
/// long).
pub const MAX_MESSAGE_CHARS: usize = 300;

/// One problem libxml2 reported, at a line of the validated bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// The line of the validated bytes (for a request's content: of its canonical form), when libxml2 knows it.
    pub line: Option<u32>,
    /// libxml2's message, trimmed and cut to [`MAX_MESSAGE_CHARS`].
    pub message: String,
}

impl Issue {
    /// An issue with its message trimmed and cut to [`MAX_MESSAGE_CHARS`] (on a character boundary, with `…` when
    /// cut).
    pub fn new(line: Option<u32>, message: &str) -> Issue {
        let message = message.trim();
        let message = match message.char_indices().nth(MAX_MESSAGE_CHARS) {
            Some((at, _)) => format!("{}…", &message[..at]),
            None => message.to_string(),
        };
        Issue { line, message }
    }
}

impl std::fmt::Display for Issue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// A bounded list of issues: the first [`MAX_ISSUES`] kept, the others counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Issues {
    /// The first issues, in libxml2's order.
    pub kept: Vec<Issue>,
    /// How many more there were.
    pub more: usize,
}

impl Issues {
    /// Adds an issue, or counts it when [`MAX_ISSUES`] are kept already.
    pub fn push(&mut self, issue: Issue) {
        if self.kept.len() < MAX_ISSUES {
            self.kept.push(issue);
        } else {
            self.more += 1;
        }
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.kept.is_empty() && self.more == 0
    }

    /// The number of issues reported, kept or not.
    pub fn total(&self) -> usize {
        self.kept.len() + self.more
    }
}

impl std::fmt::Display for Issues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, issue) in self.kept.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{issue}")?;
        }
        if self.more > 0 {
            write!(f, "; and {} more", self.more)?;
        }
        Ok(())
    }
}

/// The verdict on bytes that do not satisfy a schema (or are not even well-formed XML).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the content does not match the schema {schema}: {issues}")]
pub struct Invalid {
    /// The schema's name (its file name, or the shipped schema's name).
    pub schema: String,
    /// What libxml2 reported.
    pub issues: Issues,
}

/// Why a schema cannot be compiled or used. Compilation happens at start-up, so these name the schema.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// The schema's file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The schema's path is not UTF-8, which libxml2's file loader needs.
    #[error("{0}: the path is not UTF-8")]
    Path(PathBuf),
    /// The schema (or a schema it includes) names another by a URL: the gateway never loads anything from the
    /// network, so every part of a schema must be a local file.
    #[error("{schema}: {location} is not a local file (schemas are never loaded from the network)")]
    Remote {
        /// The schema that names it.
        schema: String,
        /// The `schemaLocation` as written.
        location: String,
    },
    /// The schema (or a schema it includes) is not well-formed XML.
    #[error("{schema}: not well-formed XML: {reason}")]
    Malformed {
        /// The schema.
        schema: String,
        /// The parser's message.
        reason: String,
    },
    /// libxml2 refused to compile the schema.
    #[error("{schema} does not compile: {issues}")]
    Compile {
        /// The schema.
        schema: String,
        /// What libxml2 reported.
        issues: Issues,
    },
    /// The validator's threads are gone (one panicked, or could not be started): nothing can be validated.
    #[error("the validator of {0} is not running")]
    Stopped(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issues_are_bounded_in_number_and_length() {
        let mut issues = Issues::default();
        for i in 0..25 {
            issues.push(Issue::new(Some(i), &"é".repeat(1000)));
        }
        assert_eq!((issues.kept.len(), issues.more, issues.total()), (MAX_ISSUES, 15, 25));
        assert!(issues.kept.iter().all(|i| i.message.chars().count() == MAX_MESSAGE_CHARS + 1));
        assert!(issues.to_string().ends_with("; and 15 more"));
        assert_eq!(Issue::new(None, "  short\n").to_string(), "short");
        assert_eq!(Issue::new(Some(3), "x").to_string(), "line 3: x");
    }
}
