//! Self-checks of a ruleset: every rule's `examples` must produce a match of
//! that rule and every `counterexample` must not. `strata rules check` and the
//! test suite both run this, so a rule cannot silently rot.

use crate::{
    compile::{compile_hirs, parse},
    sample::{draw, SplitMix},
    Matcher,
};

/// Strings drawn from each rule's regex by [`Matcher::check_keywords`].
pub const KEYWORD_SAMPLES: usize = 200;

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
    /// A match of the rule's regex (of an example, or drawn from the regex)
    /// holds none of its keywords, so the engine would drop it.
    KeywordMissing,
}

impl std::fmt::Display for ExampleFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.kind {
            ExampleKind::ExampleMissed => "example not matched",
            ExampleKind::CounterexampleMatched => "counterexample matched",
            ExampleKind::Missing => "needs at least one example and one counterexample",
            ExampleKind::MetadataMissing => "needs severity, confidence and at least one reference",
            ExampleKind::KeywordMissing => {
                "regex matches this without any of the rule's keywords (the engine drops such matches)"
            }
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

    /// Proves what the engine assumes of every rule: each match of its
    /// regex contains one of its keywords. Checks the regex's match in each
    /// example, and in [`KEYWORD_SAMPLES`] strings drawn from the regex
    /// (seeded by the rule id, so a failure repeats). At most one failure
    /// per rule and source (examples, drawn), with the offending string.
    pub fn check_keywords(&self) -> Vec<ExampleFailure> {
        let mut failures = Vec::new();
        for rule in self.rules() {
            let fail = |text: &[u8]| ExampleFailure {
                rule_id: rule.id.clone(),
                source: rule.source.clone(),
                kind: ExampleKind::KeywordMissing,
                text: String::from_utf8_lossy(text).into_owned(),
            };
            let Ok(hir) = parse(&rule.regex) else {
                continue; // a regex that does not parse fails to load first
            };
            let Ok(regex) = compile_hirs(vec![hir.clone()]) else {
                continue;
            };
            let lacks_keyword = |hay: &[u8]| -> Option<Vec<u8>> {
                let found = regex.find(hay)?;
                let span = &hay[found.range()];
                let lower = span.to_ascii_lowercase();
                let has = rule
                    .keywords
                    .iter()
                    .any(|k| memchr::memmem::find(&lower, k.as_bytes()).is_some());
                (!has).then(|| span.to_vec())
            };
            if let Some(span) = rule
                .examples
                .iter()
                .find_map(|example| lacks_keyword(example.as_bytes()))
            {
                failures.push(fail(&span));
            }
            let mut rng = SplitMix::seeded(&rule.id);
            let mut drawn = Vec::new();
            for _ in 0..KEYWORD_SAMPLES {
                drawn.clear();
                draw(&hir, &mut rng, &mut drawn);
                if let Some(span) = lacks_keyword(&drawn) {
                    failures.push(fail(&span));
                    break;
                }
            }
        }
        failures
    }
}
