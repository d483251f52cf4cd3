//! The bounds on verification work, on their own so that reading a signature (`model.rs`) and verifying it
//! (`verify.rs`) can both apply them without using each other.
#![forbid(unsafe_code)]

/// Bounds on the work one document may ask of the verifier. SMEV messages carry a handful of signatures with one
/// reference each; without bounds a message of many signatures or references costs work out of proportion to its
/// size (every reference may digest the whole document).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifyLimits {
    /// Most `ds:Signature` elements in one document (SMEV's, the sender's and a personal signature make three).
    pub max_signatures: usize,
    /// Most `ds:Reference` elements in one signature (SMEV uses one).
    pub max_references: usize,
    /// Most prefixes in one InclusiveNamespaces PrefixList (each is looked up on every element canonicalized).
    pub max_inclusive_prefixes: usize,
}

impl Default for VerifyLimits {
    fn default() -> Self {
        VerifyLimits { max_signatures: 8, max_references: 4, max_inclusive_prefixes: 16 }
    }
}
