//! Kinds of data whose polling an operator paused: the provider loop of a paused kind takes nothing from SMEV, so
//! its requests wait in SMEV's queue (a school system that must not receive more, a handler with a known bug).
//!
//! The set lives in memory: a restart resumes every kind, which the gateway logs and the dashboard shows. Work
//! already taken from SMEV is not affected; it finishes through the outbox as usual.
#![forbid(unsafe_code)]

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard};

/// The paused kinds of data, by the root element of their content; cheap to clone and shared.
#[derive(Debug, Clone, Default)]
pub struct PauseSet {
    /// The root elements of the paused kinds.
    paused: Arc<Mutex<BTreeSet<String>>>,
}

impl PauseSet {
    /// Nothing paused.
    pub fn new() -> PauseSet {
        PauseSet::default()
    }

    fn lock(&self) -> MutexGuard<'_, BTreeSet<String>> {
        self.paused.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Pauses the kind whose root element is `root`; returns false if it was paused already.
    pub fn pause(&self, root: &str) -> bool {
        self.lock().insert(root.to_owned())
    }

    /// Resumes it; returns false if it was not paused.
    pub fn resume(&self, root: &str) -> bool {
        self.lock().remove(root)
    }

    /// Whether it is paused.
    pub fn is_paused(&self, root: &str) -> bool {
        self.lock().contains(root)
    }

    /// Every paused kind, in name order.
    pub fn list(&self) -> Vec<String> {
        self.lock().iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pause_and_resume_are_idempotent() {
        let set = PauseSet::new();
        assert!(set.pause("FormData"));
        assert!(!set.pause("FormData"));
        assert!(set.clone().is_paused("FormData"), "clones share the set");
        assert_eq!(set.list(), vec!["FormData"]);
        assert!(set.resume("FormData"));
        assert!(!set.resume("FormData"));
        assert!(!set.is_paused("FormData"));
    }
}
