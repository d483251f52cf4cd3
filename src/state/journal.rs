//! Writes of several records to several trees that a crash leaves whole or absent, at the cost of single-key writes.
//!
//! sled makes a single-key write atomic cheaply, but its own multi-key atomicity (transactions, batches) costs a
//! lookup about a quarter of the gateway's CPU (measured, docs/benchmarks.md). So a multi-key write goes through a
//! redo record: the whole write is first stored as ONE record of the `journal` tree (a single-key write, atomic),
//! then each record is written to its tree, then the journal record is removed. sled recovers a prefix of its log,
//! so after a crash either the journal record is absent (and so is every write after it) or it is present and
//! [`replay`], which [`super::StateDb::open`] runs before any store reads its tree, writes the set again whole. A
//! replayed record can overwrite nothing newer: anything written after it would have been logged after its removal.
#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicU64, Ordering};

/// The tree of multi-key writes in progress.
pub(crate) const TREE: &str = "journal";

/// One record to write: the tree, the key and the value.
pub(crate) type Write<'a> = (&'a sled::Tree, &'a [u8], &'a [u8]);

/// The journal of one state directory.
#[derive(Debug)]
pub(crate) struct Journal {
    /// The journal's tree.
    tree: sled::Tree,
    /// The next journal key; the tree is empty after [`replay`], so keys need only be unique within a process.
    next: AtomicU64,
}

impl Journal {
    /// The journal in `db`, which [`replay`] has emptied.
    pub(crate) fn new(db: &sled::Db) -> sled::Result<Journal> {
        Ok(Journal { tree: db.open_tree(TREE)?, next: AtomicU64::new(0) })
    }

    /// Writes every record of `writes`, so that a crash leaves all of them or none (see the module documentation).
    /// The caller registers with the group commit afterwards, as for any write.
    pub(crate) fn write_all(&self, writes: &[Write<'_>]) -> sled::Result<()> {
        if let [(tree, key, value)] = writes {
            return tree.insert(*key, *value).map(drop);
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed).to_be_bytes();
        self.tree.insert(id, encode(writes))?;
        for (tree, key, value) in writes {
            tree.insert(*key, *value)?;
        }
        self.tree.remove(id)?;
        Ok(())
    }
}

/// A journal record: per write, the tree's name, the key and the value, each after its length (u32, big-endian).
pub(crate) fn encode(writes: &[Write<'_>]) -> Vec<u8> {
    let size: usize = writes.iter().map(|(tree, key, value)| 12 + tree.name().len() + key.len() + value.len()).sum();
    let mut out = Vec::with_capacity(size);
    for (tree, key, value) in writes {
        for part in [&tree.name()[..], key, value] {
            out.extend_from_slice(&(part.len() as u32).to_be_bytes());
            out.extend_from_slice(part);
        }
    }
    out
}

/// One write as a journal record holds it: the tree's name, the key and the value.
type Owned = (Vec<u8>, Vec<u8>, Vec<u8>);

/// The writes of a journal record; `None` if the record is damaged.
fn decode(record: &[u8]) -> Option<Vec<Owned>> {
    let mut rest = record;
    let mut take = || -> Option<Vec<u8>> {
        let len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
        let part = rest.get(4..4usize.checked_add(len)?)?.to_vec();
        rest = &rest[4 + len..];
        Some(part)
    };
    let mut writes = Vec::new();
    let mut left = record.len();
    // Every write is whole: a record that ends inside one (or holds none) is damaged.
    while left > 0 {
        let write = (take()?, take()?, take()?);
        left -= 12 + write.0.len() + write.1.len() + write.2.len();
        writes.push(write);
    }
    (!writes.is_empty()).then_some(writes)
}

/// Writes again every multi-key write a crash interrupted, in the order they were made, then empties the journal.
/// Returns how many were replayed; a damaged record is an error naming it.
pub(crate) fn replay(db: &sled::Db) -> Result<usize, String> {
    let journal = db.open_tree(TREE).map_err(|e| e.to_string())?;
    let mut replayed = 0;
    for entry in journal.iter() {
        let (id, record) = entry.map_err(|e| e.to_string())?;
        let writes = decode(&record).ok_or_else(|| format!("journal record {id:?} is damaged"))?;
        for (tree, key, value) in writes {
            db.open_tree(tree).and_then(|tree| tree.insert(key, value)).map_err(|e| e.to_string())?;
        }
        replayed += 1;
    }
    journal.clear().map_err(|e| e.to_string())?;
    if replayed > 0 {
        db.flush().map_err(|e| e.to_string())?;
    }
    Ok(replayed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> (tempfile::TempDir, sled::Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        (dir, db)
    }

    #[test]
    fn a_record_survives_encoding() {
        let (_dir, db) = db();
        let (a, b) = (db.open_tree("a").unwrap(), db.open_tree("bb").unwrap());
        let writes: [Write<'_>; 2] = [(&a, b"k1", b"v1"), (&b, b"", &[0u8; 300])];
        let decoded = decode(&encode(&writes)).unwrap();
        assert_eq!(
            decoded,
            vec![(b"a".to_vec(), b"k1".to_vec(), b"v1".to_vec()), (b"bb".to_vec(), vec![], vec![0; 300])]
        );
        assert!(decode(&encode(&writes)[..9]).is_none(), "a truncated record is damaged");
    }

    /// A crash after the journal record and before the rest: replay writes the whole set.
    #[test]
    fn an_interrupted_write_is_replayed_whole() {
        let (_dir, db) = db();
        let (a, b) = (db.open_tree("a").unwrap(), db.open_tree("b").unwrap());
        let journal = db.open_tree(TREE).unwrap();
        journal.insert(7u64.to_be_bytes(), encode(&[(&a, b"k", b"new"), (&b, b"e", b"entry")])).unwrap();
        a.insert(b"k", b"new").unwrap();
        assert_eq!(replay(&db).unwrap(), 1);
        assert_eq!(b.get(b"e").unwrap().as_deref(), Some(&b"entry"[..]));
        assert!(journal.is_empty(), "the journal is emptied");
        assert_eq!(replay(&db).unwrap(), 0);
    }

    #[test]
    fn a_complete_write_leaves_no_journal_record() {
        let (_dir, db) = db();
        let journal = Journal::new(&db).unwrap();
        let (a, b) = (db.open_tree("a").unwrap(), db.open_tree("b").unwrap());
        journal.write_all(&[(&a, b"1", b"x"), (&b, b"2", b"y")]).unwrap();
        journal.write_all(&[(&a, b"3", b"z")]).unwrap();
        assert_eq!((a.len(), b.len()), (2, 1));
        assert!(db.open_tree(TREE).unwrap().is_empty());
    }
}
