//! The errors of the gateway's state directory, shared by every store in it.
#![forbid(unsafe_code)]

use std::path::PathBuf;

/// A boxed error from a backend's storage engine, so that the API names no engine's types.
pub type BackendError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why the gateway's state directory could not be opened. The gateway refuses to start on any of these rather than
/// start empty and lose the work it held.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Another process (or another open handle in this one) holds the directory.
    #[error("the state directory {path} is in use by another process")]
    Locked {
        /// The directory.
        path: PathBuf,
    },
    /// The path holds something other than the gateway's state: a file, another program's files, or a store whose
    /// format marker is missing or of another version.
    #[error("{path} is not an edugate state directory: {reason}")]
    NotAStore {
        /// The path.
        path: PathBuf,
        /// Why not.
        reason: String,
    },
    /// The store's files or records are damaged.
    #[error("the state directory {path} is damaged: {reason}")]
    Damaged {
        /// The directory.
        path: PathBuf,
        /// What is damaged.
        reason: String,
    },
    /// The directory cannot be read or created.
    #[error("cannot use the state directory {path}: {source}")]
    Io {
        /// The directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The storage engine failed to open the directory.
    #[error("cannot open the state directory {path}: {source}")]
    Backend {
        /// The directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: BackendError,
    },
}
