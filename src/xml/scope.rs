//! Bindings in force while elements are open, looked up by key: namespace prefixes while parsing, declarations
//! rendered while canonicalizing, prefixes handed out by the SMEV transform.
#![forbid(unsafe_code)]

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;

/// Up to this many bindings in force, a lookup scans them (the common case: a message has a handful, and a scan
/// beats hashing); beyond it a hash index answers, so a lookup never costs more than a constant however deeply
/// hostile input nests its declarations.
const SCAN_LIMIT: usize = 16;

/// A stack of bindings, innermost last. Looking a key up costs at most [`SCAN_LIMIT`] comparisons or one hash
/// lookup: scanning every binding in scope made deeply nested declarations cost the square of the input.
#[derive(Debug)]
pub(crate) struct ScopeStack<K, V> {
    /// Every binding in force, in the order made.
    stack: Vec<(K, V)>,
    /// For each key, its values in force, innermost last; built once the stack outgrows [`SCAN_LIMIT`] and kept
    /// in step from then on.
    index: Option<HashMap<K, Vec<V>>>,
}

impl<K, V> Default for ScopeStack<K, V> {
    fn default() -> Self {
        ScopeStack { stack: Vec::new(), index: None }
    }
}

impl<K: Hash + Eq + Clone, V: Copy> ScopeStack<K, V> {
    /// Binds `key` to `value` until the binding is truncated away.
    pub(crate) fn push(&mut self, key: K, value: V) {
        match &mut self.index {
            Some(index) => index.entry(key.clone()).or_default().push(value),
            None if self.stack.len() >= SCAN_LIMIT => {
                let mut index: HashMap<K, Vec<V>> = HashMap::new();
                for (k, v) in self.stack.iter().chain(std::iter::once(&(key.clone(), value))) {
                    index.entry(k.clone()).or_default().push(*v);
                }
                self.index = Some(index);
            }
            None => {}
        }
        self.stack.push((key, value));
    }

    /// A mark to truncate back to: the number of bindings in force.
    pub(crate) fn mark(&self) -> usize {
        self.stack.len()
    }

    /// Undoes every binding made since `mark`.
    pub(crate) fn truncate(&mut self, mark: usize) {
        while self.stack.len() > mark {
            let Some((key, _)) = self.stack.pop() else { return };
            if let Some(values) = self.index.as_mut().and_then(|index| index.get_mut(&key)) {
                values.pop();
            }
        }
    }

    /// The innermost value bound to `key`.
    pub(crate) fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        match &self.index {
            Some(index) => index.get(key).and_then(|values| values.last().copied()),
            None => self.stack.iter().rev().find(|(k, _)| k.borrow() == key).map(|&(_, v)| v),
        }
    }

    /// The key of the binding made at position `index` (a mark taken before it was pushed).
    pub(crate) fn key_at(&self, index: usize) -> &K {
        &self.stack[index].0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lookups agree with a plain scan on both sides of the switch to the index, through pushes and truncations.
    #[test]
    fn the_index_agrees_with_a_scan() {
        let mut scopes: ScopeStack<u32, usize> = ScopeStack::default();
        let mut model: Vec<(u32, usize)> = Vec::new();
        let mut marks = Vec::new();
        for step in 0..400usize {
            if step % 7 == 6 {
                let mark = marks.pop().unwrap_or(0);
                scopes.truncate(mark);
                model.truncate(mark);
            } else {
                marks.push(scopes.mark());
                let key = (step * 31 % 11) as u32;
                scopes.push(key, step);
                model.push((key, step));
            }
            for key in 0..12 {
                let expected = model.iter().rev().find(|(k, _)| *k == key).map(|&(_, v)| v);
                assert_eq!(scopes.get(&key), expected, "step {step}, key {key}");
            }
        }
    }
}
