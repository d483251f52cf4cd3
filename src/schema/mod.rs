//! XSD validation in process, with libxml2 (through the `libxml` binding; the FFI is the binding's, this module
//! writes none). A [`Schema`] is compiled once, at start-up, from a file the configuration names or from a schema
//! shipped in the binary ([`shipped`]), and validates an element's exclusive canonical bytes from any thread.
//! Verdicts are typed and bounded ([`Invalid`]: at most [`error::MAX_ISSUES`] issues, each cut to
//! [`error::MAX_MESSAGE_CHARS`]). libxml2 parses the bytes with no network, no DTD and no entity substitution, and a
//! schema file that names another by URL is refused before libxml2 reads it ([`refs`]).
#![forbid(unsafe_code)]

pub mod error;
pub mod refs;
pub mod shipped;
pub mod validator;

pub use error::{Invalid, Issue, Issues, SchemaError};
pub use shipped::Shipped;
pub use validator::{Schema, ValidateError};
