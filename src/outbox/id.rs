//! The id of a work item, on its own so that errors and items can both name it without using each other.
#![forbid(unsafe_code)]

use std::fmt;

/// Identifies a work item within one outbox.
///
/// Ids are assigned on enqueue and increase in enqueue order, so they break ties between items due at the same
/// moment in first-come order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ItemId(pub u64);

impl fmt::Display for ItemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}
