//! School information systems: identifiers, the data the education services read, and the systems that hold it.
#![forbid(unsafe_code)]

pub mod snils;

pub use snils::{Snils, SnilsError};
