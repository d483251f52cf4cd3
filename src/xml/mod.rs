//! XML: bounded parsing, exclusive c14n and the SMEV transform.
#![forbid(unsafe_code)]
