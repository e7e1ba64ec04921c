//! A decompression budget per top-level input, so a bomb is bounded in
//! time as well as in memory.
//!
//! [`Limits::max_entry_size`] caps each member, but a 42.zip-style archive
//! has thousands of members that are each within the cap, and a zip whose
//! members overlap can replay one 256 MiB stream two thousand times. So
//! every top-level input (a file given or found by the walk, standard
//! input, an image layer) gets one budget for everything the archives
//! inside it expand to: decompressed bytes and archive members opened. It
//! grows with the input: [`Limits::max_expansion_ratio`] times its size,
//! and never less than [`Limits::max_decompressed`].
//!
//! When a budget runs out, the member being decoded is cut off with an
//! error (the scan is incomplete, exit 2) and the rest of the input is
//! still scanned, only without opening any more archives: nothing is
//! silently passed over and the time spent stays bounded. The first
//! scanner to overrun the budget reports it, once, naming the input.

use std::{
    io::{self, Read},
    sync::atomic::{AtomicBool, AtomicU64, Ordering},
};

use crate::Limits;

/// What one top-level input may expand to; shared by the threads scanning it.
#[derive(Debug)]
pub struct Budget {
    /// The input, as reports name it (empty for an image layer itself).
    input: String,
    bytes: u64,
    entries: u64,
    bytes_used: AtomicU64,
    entries_used: AtomicU64,
    reported: AtomicBool,
}

/// The error a decoder returns once the budget is spent.
#[derive(Debug)]
pub struct BudgetExceeded;

impl std::fmt::Display for BudgetExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("decompression budget of this input exhausted")
    }
}

impl std::error::Error for BudgetExceeded {}

impl Budget {
    /// The budget of an input of `size` bytes (compressed, as stored).
    pub fn for_input(input: impl Into<String>, size: u64, limits: &Limits) -> Budget {
        let bytes = size
            .saturating_mul(limits.max_expansion_ratio)
            .max(limits.max_decompressed);
        // The smallest zip member takes about 100 bytes of headers; nesting
        // is what multiplies members, so allow a generous count per byte.
        let entries = (size / 64).max(limits.max_archive_entries);
        Budget {
            input: input.into(),
            bytes,
            entries,
            bytes_used: AtomicU64::new(0),
            entries_used: AtomicU64::new(0),
            reported: AtomicBool::new(false),
        }
    }

    /// A budget with no limit, for callers that bound their input otherwise.
    pub fn unlimited() -> Budget {
        Budget {
            input: String::new(),
            bytes: u64::MAX,
            entries: u64::MAX,
            bytes_used: AtomicU64::new(0),
            entries_used: AtomicU64::new(0),
            reported: AtomicBool::new(false),
        }
    }

    /// The input the budget belongs to.
    pub fn input(&self) -> &str {
        &self.input
    }

    /// True once anything overran the budget: no more archives are opened.
    pub fn exhausted(&self) -> bool {
        self.bytes_used.load(Ordering::Relaxed) > self.bytes
            || self.entries_used.load(Ordering::Relaxed) > self.entries
    }

    /// Charges `n` decompressed bytes; an error once the budget is spent.
    pub fn charge_bytes(&self, n: u64) -> io::Result<()> {
        let used = self.bytes_used.fetch_add(n, Ordering::Relaxed) + n;
        if used > self.bytes {
            return Err(io::Error::other(BudgetExceeded));
        }
        Ok(())
    }

    /// Charges one archive member opened; an error once the budget is spent.
    /// Refused, too, once the bytes are spent: the caller then scans the
    /// archive raw instead of opening members that cannot be read.
    pub fn charge_entry(&self) -> io::Result<()> {
        if self.exhausted() {
            return Err(io::Error::other(BudgetExceeded));
        }
        let used = self.entries_used.fetch_add(1, Ordering::Relaxed) + 1;
        if used > self.entries {
            return Err(io::Error::other(BudgetExceeded));
        }
        Ok(())
    }

    /// True for the one caller that should report the overrun.
    pub fn claim_report(&self) -> bool {
        !self.reported.swap(true, Ordering::Relaxed)
    }

    /// The report of an overrun met while reading `member`.
    pub fn message(&self, member: &str) -> String {
        format!(
            "decompression budget exceeded while reading {member}: the archives inside this input \
             expand to more than {} bytes or {} members (possible decompression bomb; see \
             --max-decompressed); the rest of it was scanned without opening archives",
            self.bytes, self.entries
        )
    }
}

/// Whether an error is a spent budget (reported once, not per member).
pub fn is_budget_error(error: &io::Error) -> bool {
    error
        .get_ref()
        .is_some_and(|inner| inner.is::<BudgetExceeded>())
}

/// A decoder's output, charged to a budget as it is read.
pub struct Charged<'b, R> {
    inner: R,
    budget: &'b Budget,
}

impl<'b, R: Read> Charged<'b, R> {
    pub fn new(inner: R, budget: &'b Budget) -> Charged<'b, R> {
        Charged { inner, budget }
    }
}

impl<R: Read> Read for Charged<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.budget.charge_bytes(n as u64)?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_grows_with_its_input_and_has_a_floor() {
        let limits = Limits {
            max_decompressed: 1000,
            max_expansion_ratio: 10,
            max_archive_entries: 5,
            ..Limits::default()
        };
        assert_eq!(Budget::for_input("a", 10, &limits).bytes, 1000);
        assert_eq!(Budget::for_input("a", 500, &limits).bytes, 5000);
        let budget = Budget::for_input("a", 0, &limits);
        let mut reader = Charged::new(&[0u8; 2000][..], &budget);
        let error = io::copy(&mut reader, &mut io::sink()).unwrap_err();
        assert!(is_budget_error(&error));
        assert!(budget.exhausted());
        assert!(budget.claim_report());
        assert!(!budget.claim_report());
    }

    #[test]
    fn members_are_counted() {
        let limits = Limits {
            max_archive_entries: 2,
            ..Limits::default()
        };
        let budget = Budget::for_input("a", 0, &limits);
        assert!(budget.charge_entry().is_ok());
        assert!(budget.charge_entry().is_ok());
        assert!(is_budget_error(&budget.charge_entry().unwrap_err()));
    }
}
