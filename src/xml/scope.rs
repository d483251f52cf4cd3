//! Bindings in force while elements are open, indexed by key: namespace prefixes while parsing, declarations
//! rendered while canonicalizing, prefixes handed out by the SMEV transform.
#![forbid(unsafe_code)]

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;

/// A stack of bindings with a hash index from each key to its bindings, innermost last. Looking a key up costs one
/// hash lookup however many bindings are in scope; scanning them instead made deeply nested declarations cost the
/// square of the input.
#[derive(Debug)]
pub(crate) struct ScopeStack<K, V> {
    /// For each key, the values bound to it by open elements, innermost last.
    by_key: HashMap<K, Vec<V>>,
    /// Every binding's key in the order pushed, so that [`ScopeStack::truncate`] undoes exactly the bindings made
    /// after a mark.
    pushed: Vec<K>,
}

impl<K, V> Default for ScopeStack<K, V> {
    fn default() -> Self {
        ScopeStack { by_key: HashMap::new(), pushed: Vec::new() }
    }
}

impl<K: Hash + Eq + Clone, V: Copy> ScopeStack<K, V> {
    /// Binds `key` to `value` until the binding is truncated away.
    pub(crate) fn push(&mut self, key: K, value: V) {
        self.by_key.entry(key.clone()).or_default().push(value);
        self.pushed.push(key);
    }

    /// A mark to truncate back to: the number of bindings in force.
    pub(crate) fn mark(&self) -> usize {
        self.pushed.len()
    }

    /// Undoes every binding made since `mark`.
    pub(crate) fn truncate(&mut self, mark: usize) {
        while self.pushed.len() > mark {
            let Some(key) = self.pushed.pop() else { return };
            if let Some(stack) = self.by_key.get_mut(&key) {
                stack.pop();
            }
        }
    }

    /// The innermost value bound to `key`.
    pub(crate) fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.by_key.get(key).and_then(|stack| stack.last().copied())
    }

    /// The key of the binding made at position `index` (a mark taken before it was pushed).
    pub(crate) fn key_at(&self, index: usize) -> &K {
        &self.pushed[index]
    }
}
