//! The strata matching engine.
//!
//! [`Matcher::new`] compiles a [`strata_rules::Ruleset`] into one keyword
//! finder over every rule keyword (ASCII case-insensitive, see `keywords`)
//! plus one regex per rule. Scanning runs the finder once over the input;
//! a rule's regex runs only inside merged windows around that rule's keyword
//! hits, so the cost of a rule is paid only where its keywords occur. Matches
//! then pass the filters: the match must contain a keyword, the secret must
//! not be a placeholder, must reach the rule's minimum entropy, pass its
//! offline validator and miss its allowlist.
//!
//! Input is either a byte slice ([`Matcher::scan_bytes`]) or a reader
//! ([`Matcher::scan_reader`]), which is consumed in fixed-size chunks that
//! overlap by more than the longest match a rule can produce, so memory stays
//! flat and a secret straddling a chunk edge is still found exactly once.

mod anchored;
mod chunk;
mod compile;
mod examples;
mod filters;
mod keywords;
mod matcher;
mod prefix;
mod sample;
pub mod text;

pub use chunk::{ScanStats, DEFAULT_CHUNK_SIZE};
pub use examples::{ExampleFailure, ExampleKind, KEYWORD_SAMPLES};
pub use filters::{is_placeholder, mask_secrets, redact, shannon_entropy};
/// The keyword pass on its own, for the differential fuzz target
/// (`fuzz/fuzz_targets/keywords.rs`, against aho-corasick); not a stable API.
#[doc(hidden)]
pub use keywords::KeywordFinder;
pub use matcher::{CompileError, Match, Matcher, MatcherOptions, Scratch};
