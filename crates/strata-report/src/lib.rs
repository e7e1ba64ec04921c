//! Turning matches into findings and findings into reports.
//!
//! - [`finding`]: a [`Finding`] per match — redacted secret, a *secret
//!   fingerprint* (same leaked value, same id, wherever it is) and a
//!   *finding id* (fingerprint + location); inline `strata:allow` handling.
//! - [`baseline`]: accepted findings, so a gate fails only on new ones.
//! - [`format`]: text, JSON, JSONL and SARIF 2.1.0 writers.
//! - [`printable`]: untrusted text made safe for a terminal.
//!
//! The JSON field names are a contract that pipelines script against; they
//! are documented in the README and only ever added to.

pub mod baseline;
pub mod finding;
pub mod format;
pub mod printable;
pub mod summary;

pub use baseline::{Baseline, BaselineError};
pub use finding::{Finding, FindingBuilder, Fingerprinter, PairField, SealedMatch, Threshold};
pub use format::{write_jsonl_finding, write_jsonl_summary, write_report, Format};
pub use printable::printable;
pub use summary::{RegistrySummary, Report, Summary};
