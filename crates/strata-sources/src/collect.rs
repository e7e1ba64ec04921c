//! Gathering results from scanning threads: matches with their origin,
//! inputs that could not be read (errors: the scan is incomplete), inputs
//! deliberately not scanned (skipped), and counters for the summary.
//!
//! It also knows which top-level inputs and image layers are in progress
//! ([`Collector::begin`]), so a run stopped by `--timeout` can report what
//! it found so far and name what it did not finish.

use std::{
    collections::BTreeMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Mutex,
    },
};

use strata_engine::Match;

use crate::{origin::Fate, Origin};

/// A match and where it was found.
#[derive(Debug, Clone)]
pub struct Hit {
    pub origin: Origin,
    pub found: Match,
    /// For matches in image layers: what later layers did to the file.
    pub fate: Option<Fate>,
}

/// An input that could not be read, and why. Any problem makes a scan incomplete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

/// An input left out on purpose (too large, not a regular file), or cut short.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub path: String,
    pub reason: String,
}

/// Thread-safe sink for everything a scan produces.
#[derive(Debug, Default)]
pub struct Collector {
    hits: Mutex<Vec<Hit>>,
    problems: Mutex<Vec<Problem>>,
    skipped: Mutex<Vec<Skipped>>,
    files: AtomicU64,
    bytes: AtomicU64,
    /// Inputs begun and not finished, by the id [`Collector::begin`] gave.
    in_progress: Mutex<BTreeMap<u64, String>>,
    next_id: AtomicU64,
}

/// An input in progress; dropping it marks the input finished.
#[must_use = "the input counts as finished when this is dropped"]
pub struct InProgress<'a> {
    collector: &'a Collector,
    id: u64,
}

impl Drop for InProgress<'_> {
    fn drop(&mut self) {
        self.collector.in_progress.lock().unwrap().remove(&self.id);
    }
}

impl Collector {
    pub fn new() -> Collector {
        Collector::default()
    }

    pub fn hit(&self, hit: Hit) {
        self.hits.lock().unwrap().push(hit);
    }

    pub fn hits_extend(&self, hits: impl IntoIterator<Item = Hit>) {
        self.hits.lock().unwrap().extend(hits);
    }

    pub fn problem(&self, path: impl Into<String>, message: impl Into<String>) {
        self.problems.lock().unwrap().push(Problem {
            path: path.into(),
            message: message.into(),
        });
    }

    pub fn skipped(&self, path: impl Into<String>, reason: impl Into<String>) {
        self.skipped.lock().unwrap().push(Skipped {
            path: path.into(),
            reason: reason.into(),
        });
    }

    /// Counts one scanned blob of `bytes` bytes.
    pub fn scanned(&self, bytes: u64) {
        self.files.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Counts `files` scanned blobs totalling `bytes` (a layer's tally).
    pub fn scanned_many(&self, files: u64, bytes: u64) {
        self.files.fetch_add(files, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    pub fn files(&self) -> u64 {
        self.files.load(Ordering::Relaxed)
    }

    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Marks `name` (a top-level input, a layer) as in progress until the
    /// returned guard is dropped.
    pub fn begin(&self, name: impl Into<String>) -> InProgress<'_> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.in_progress.lock().unwrap().insert(id, name.into());
        InProgress {
            collector: self,
            id,
        }
    }

    /// The inputs begun and not finished, in the order they were begun.
    pub fn unfinished(&self) -> Vec<String> {
        self.in_progress.lock().unwrap().values().cloned().collect()
    }

    pub fn problem_count(&self) -> usize {
        self.problems.lock().unwrap().len()
    }

    /// Takes everything gathered so far: hits sorted by path then offset,
    /// problems and skipped inputs sorted by path.
    pub fn take(&self) -> (Vec<Hit>, Vec<Problem>, Vec<Skipped>) {
        let mut hits = std::mem::take(&mut *self.hits.lock().unwrap());
        let mut problems = std::mem::take(&mut *self.problems.lock().unwrap());
        let mut skipped = std::mem::take(&mut *self.skipped.lock().unwrap());
        hits.sort_by(|a, b| {
            let layer = |h: &Hit| h.origin.layer.as_ref().map(|l| l.index);
            (layer(a), &a.origin.path, a.found.start, a.found.rule_index).cmp(&(
                layer(b),
                &b.origin.path,
                b.found.start,
                b.found.rule_index,
            ))
        });
        problems.sort_by(|a, b| a.path.cmp(&b.path));
        skipped.sort_by(|a, b| a.path.cmp(&b.path));
        (hits, problems, skipped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_in_progress_are_listed_until_finished() {
        let collector = Collector::new();
        let a = collector.begin("a");
        {
            let _b = collector.begin("b");
            assert_eq!(collector.unfinished(), ["a", "b"]);
        }
        assert_eq!(collector.unfinished(), ["a"]);
        drop(a);
        assert!(collector.unfinished().is_empty());
    }
}
