//! A compiled XSD and the threads that validate against it.
//!
//! libxml2 may share one compiled schema between validation contexts, but its Rust binding ties the compiled schema
//! to one validation context and lets neither cross threads (they hold raw pointers), and this crate writes no
//! `unsafe`. So a [`Schema`] is a small pool: each of its threads compiles the schema once, when the schema is
//! built at start-up, and then validates whatever any caller sends it, one document at a time. Callers on any
//! thread share the pool through `&Schema`; a call waits for its verdict.
#![forbid(unsafe_code)]

use crate::schema::error::{Invalid, Issue, Issues, SchemaError};
use libxml::error::{StructuredError, XmlErrorLevel};
use libxml::parser::{Parser, ParserOptions, XmlParseFailure};
use libxml::schemas::{SchemaParserContext, SchemaValidationContext};
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

/// Where a schema's text comes from.
#[derive(Debug, Clone)]
enum Source {
    /// Bytes held in memory (a schema embedded in the binary); it may include nothing.
    Bytes(Arc<[u8]>),
    /// A file, loaded by libxml2 so that schemas it includes resolve next to it (checked local beforehand).
    File(String),
}

/// Why a validation gave no clean pass.
#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    /// The bytes do not satisfy the schema.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// The validator could not run.
    #[error(transparent)]
    Schema(#[from] SchemaError),
}

/// One validation asked of the pool: the bytes, and where its verdict goes.
struct Job {
    /// The document to validate.
    xml: Vec<u8>,
    /// The caller waiting for the verdict.
    verdict: mpsc::SyncSender<Result<(), Issues>>,
}

/// A compiled XSD, shareable between threads: `validate` may be called from any number of threads at once.
pub struct Schema {
    /// The schema's name in verdicts and errors.
    name: String,
    /// The queue of the pool's threads; they end when the schema is dropped and the queue closes.
    jobs: mpsc::Sender<Job>,
    /// How many threads validate.
    threads: usize,
}

impl std::fmt::Debug for Schema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Schema").field("name", &self.name).field("threads", &self.threads).finish()
    }
}

/// The threads a schema validates on by default: one per core, at most four (a validation takes well under a
/// millisecond, and each thread holds its own compiled copy of the schema).
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 4)
}

impl Schema {
    /// Compiles a schema held in memory (one that includes no other), on [`default_threads`] threads.
    pub fn from_bytes(name: &str, xsd: &[u8]) -> Result<Schema, SchemaError> {
        Schema::start(name, Source::Bytes(Arc::from(xsd)), default_threads())
    }

    /// Compiles the schema in `path`, on [`default_threads`] threads. The schema and every schema it includes or
    /// imports must be local files: one named by a URL is refused before libxml2 sees it.
    pub fn from_file(path: &Path) -> Result<Schema, SchemaError> {
        crate::schema::refs::check_local(path)?;
        let text = path.to_str().ok_or_else(|| SchemaError::Path(path.to_path_buf()))?;
        let name = path.file_name().map_or_else(|| text.to_string(), |n| n.to_string_lossy().into_owned());
        Schema::start(&name, Source::File(text.to_string()), default_threads())
    }

    /// The same schema compiled again on `threads` threads (at least one), for callers that size the pool.
    pub fn with_threads(name: &str, xsd: &[u8], threads: usize) -> Result<Schema, SchemaError> {
        Schema::start(name, Source::Bytes(Arc::from(xsd)), threads.max(1))
    }

    /// The schema's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How many threads validate against it.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Starts the pool: each thread compiles the schema in turn (libxml2's first compilation initialises shared
    /// tables) and reports; the first failure stops them all and is returned.
    fn start(name: &str, source: Source, threads: usize) -> Result<Schema, SchemaError> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads {
            let (ready, compiled) = mpsc::sync_channel(1);
            let (source, queue, schema) = (source.clone(), queue.clone(), name.to_string());
            std::thread::Builder::new()
                .name(format!("xsd-{i}"))
                .spawn(move || worker(&schema, &source, &queue, &ready))
                .map_err(|_| SchemaError::Stopped(name.to_string()))?;
            match compiled.recv() {
                Ok(Ok(())) => {}
                Ok(Err(issues)) => return Err(SchemaError::Compile { schema: name.to_string(), issues }),
                Err(_) => return Err(SchemaError::Stopped(name.to_string())),
            }
        }
        Ok(Schema { name: name.to_string(), jobs, threads })
    }

    /// Validates a whole document against the schema. The document is parsed by libxml2 without network access,
    /// without loading any DTD and without substituting entities (callers pass bytes our own parser has read
    /// already, with no DOCTYPE).
    pub fn validate(&self, xml: impl Into<Vec<u8>>) -> Result<(), ValidateError> {
        let (verdict, answer) = mpsc::sync_channel(1);
        let stopped = || SchemaError::Stopped(self.name.clone());
        self.jobs.send(Job { xml: xml.into(), verdict }).map_err(|_| stopped())?;
        match answer.recv().map_err(|_| stopped())? {
            Ok(()) => Ok(()),
            Err(issues) => Err(Invalid { schema: self.name.clone(), issues }.into()),
        }
    }

    /// Validates an element of a parsed document: its exclusive canonical form, which carries every namespace it
    /// uses and nothing of the envelope around it. Lines in the verdict are lines of that form.
    pub fn validate_element(
        &self,
        doc: &crate::xml::Document<'_>,
        element: crate::xml::NodeId,
    ) -> Result<(), ValidateError> {
        let canonical = crate::xml::c14n::exc_c14n(doc, element, &crate::xml::c14n::C14nOptions::default());
        self.validate(canonical)
    }
}

/// One thread of the pool: compiles, reports, then validates until the queue closes.
fn worker(
    name: &str,
    source: &Source,
    queue: &Mutex<mpsc::Receiver<Job>>,
    ready: &mpsc::SyncSender<Result<(), Issues>>,
) {
    let mut context = match compile(source) {
        Ok(context) => context,
        Err(issues) => {
            let _ = ready.send(Err(issues));
            return;
        }
    };
    if ready.send(Ok(())).is_err() {
        return;
    }
    loop {
        // The lock is held only while waiting for the next job, never while validating.
        let job = match queue.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        let verdict = validate(&mut context, &job.xml);
        if job.verdict.send(verdict).is_err() {
            tracing::debug!(schema = name, "a caller left before its verdict");
        }
    }
}

/// Compiles the schema in this thread.
fn compile(source: &Source) -> Result<SchemaValidationContext, Issues> {
    let mut parser = match source {
        Source::Bytes(bytes) => SchemaParserContext::from_buffer(bytes),
        Source::File(path) => SchemaParserContext::from_file(path),
    };
    SchemaValidationContext::from_parser(&mut parser).map_err(|errors| issues(&errors))
}

/// The parser's options for a document to validate: strict (no recovery), no network, no DTD loaded, entities
/// left unsubstituted, and quiet (diagnostics are collected, never printed).
fn options() -> ParserOptions<'static> {
    ParserOptions { recover: false, no_net: true, no_error: true, no_warning: true, ..ParserOptions::default() }
}

/// Parses and validates one document.
fn validate(context: &mut SchemaValidationContext, xml: &[u8]) -> Result<(), Issues> {
    let document = match Parser::default().parse_string_with_diagnostics(xml, options()) {
        Ok((document, diagnostics)) if !has_errors(&diagnostics) => document,
        Ok((_, diagnostics)) | Err(XmlParseFailure::ParseFailed(diagnostics)) => return Err(issues(&diagnostics)),
        Err(other) => {
            let mut out = Issues::default();
            out.push(Issue::new(None, &other.to_string()));
            return Err(out);
        }
    };
    context.validate_document(&document).map_err(|errors| issues(&errors))
}

/// Whether libxml2 reported an error (a warning does not make a document invalid).
fn has_errors(diagnostics: &[StructuredError]) -> bool {
    diagnostics.iter().any(|d| matches!(d.level, XmlErrorLevel::Error | XmlErrorLevel::Fatal))
}

/// libxml2's errors as a bounded list; one with no message says so.
fn issues(errors: &[StructuredError]) -> Issues {
    let mut out = Issues::default();
    for error in errors.iter().filter(|e| !matches!(e.level, XmlErrorLevel::None | XmlErrorLevel::Warning)) {
        let line = error.line.and_then(|l| u32::try_from(l).ok()).filter(|&l| l > 0);
        out.push(Issue::new(line, error.message.as_deref().unwrap_or("libxml2 gave no message")));
    }
    if out.is_empty() {
        out.push(Issue::new(None, "libxml2 refused it without a message"));
    }
    out
}
