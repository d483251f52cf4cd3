//! XMLDSig for SMEV.
#![forbid(unsafe_code)]
