//! Rules for the strata secret scanner: the TOML schema, loading and checking
//! rule files, the embedded default ruleset and the offline validators.
//!
//! A [`Rule`] says what a secret looks like: literal `keywords` that any match
//! must contain (the engine finds those with one automaton pass), a regex with
//! the secret in a capture group, and optional filters (entropy, a checksum
//! validator, an allowlist). Rules carry `examples` and `counterexamples` so
//! every rule can be checked against itself (`strata rules check`).
//!
//! This crate knows nothing about matching bytes; `strata-engine` compiles a
//! [`Ruleset`] into a matcher.

mod config;
mod context;
mod error;
mod metadata;
mod rule;
mod ruleset;
pub mod validators;

pub use config::{Config, GlobalAllowlist};
pub use context::Pair;
pub use error::RuleError;
pub use metadata::{Confidence, Severity};
pub use rule::{Allowlist, Rule, SecretGroup};
pub use ruleset::Ruleset;
pub use validators::{Validation, Validator};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/default_rules.rs"));
}

pub use embedded::DEFAULT_RULE_FILES;
