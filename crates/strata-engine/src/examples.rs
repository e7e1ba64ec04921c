//! Self-checks of a ruleset: every rule's `examples` must produce a match of
//! that rule and every `counterexample` must not. `strata rules check` and the
//! test suite both run this, so a rule cannot silently rot.

use crate::Matcher;

/// One example or counterexample that did not behave as its rule promised.
#[derive(Debug, Clone)]
pub struct ExampleFailure {
    pub rule_id: String,
    pub source: String,
    pub kind: ExampleKind,
    /// The example text (these are fabricated values written for the rule).
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExampleKind {
    /// An example that produced no match of its rule.
    ExampleMissed,
    /// A counterexample that produced a match of its rule.
    CounterexampleMatched,
    /// A rule with no examples or no counterexamples.
    Missing,
    /// A rule without severity, confidence or references.
    MetadataMissing,
}

impl std::fmt::Display for ExampleFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.kind {
            ExampleKind::ExampleMissed => "example not matched",
            ExampleKind::CounterexampleMatched => "counterexample matched",
            ExampleKind::Missing => "needs at least one example and one counterexample",
            ExampleKind::MetadataMissing => "needs severity, confidence and at least one reference",
        };
        write!(
            f,
            "{}: rule {}: {what}: {:?}",
            self.source, self.rule_id, self.text
        )
    }
}

impl Matcher {
    /// Runs every rule's examples and counterexamples through the full
    /// matcher (all rules compiled together, as in a real scan).
    pub fn check_examples(&self) -> Vec<ExampleFailure> {
        let mut failures = Vec::new();
        let mut scratch = self.new_scratch();
        for (index, rule) in self.rules().enumerate() {
            let fail = |kind, text: &str| ExampleFailure {
                rule_id: rule.id.clone(),
                source: rule.source.clone(),
                kind,
                text: text.to_string(),
            };
            if rule.examples.is_empty() || rule.counterexamples.is_empty() {
                failures.push(fail(ExampleKind::Missing, ""));
            }
            if !rule.metadata_given {
                failures.push(fail(ExampleKind::MetadataMissing, ""));
            }
            for example in &rule.examples {
                let mut found = false;
                self.scan_bytes(example.as_bytes(), &mut scratch, &mut |m| {
                    found |= m.rule_index == index
                });
                if !found {
                    failures.push(fail(ExampleKind::ExampleMissed, example));
                }
            }
            for counter in &rule.counterexamples {
                let mut found = false;
                self.scan_bytes(counter.as_bytes(), &mut scratch, &mut |m| {
                    found |= m.rule_index == index
                });
                if found {
                    failures.push(fail(ExampleKind::CounterexampleMatched, counter));
                }
            }
        }
        failures
    }
}
