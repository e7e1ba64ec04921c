//! The embedded default ruleset checks itself: every regex builds, every
//! example is found by its rule and no counterexample is.

use strata_engine::{Matcher, MatcherOptions};
use strata_rules::Ruleset;

#[test]
fn every_default_rule_passes_its_examples() {
    let set = Ruleset::embedded().unwrap();
    assert!(
        set.len() >= 250,
        "the default ruleset has only {} rules",
        set.len()
    );
    let matcher = Matcher::new(
        &set,
        MatcherOptions {
            eager: true,
            ..Default::default()
        },
    )
    .unwrap();
    let mut failures = matcher.check_examples();
    failures.extend(matcher.check_keywords());
    let listing: Vec<String> = failures.iter().map(ToString::to_string).collect();
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        listing.join("\n")
    );
}

#[test]
fn every_default_rule_has_a_description_and_two_examples_each_way() {
    let set = Ruleset::embedded().unwrap();
    for rule in set.rules() {
        assert!(
            !rule.description.trim().is_empty(),
            "{}: no description",
            rule.id
        );
        assert!(
            rule.examples.len() >= 2,
            "{}: fewer than 2 examples",
            rule.id
        );
        assert!(
            rule.counterexamples.len() >= 2,
            "{}: fewer than 2 counterexamples",
            rule.id
        );
    }
}

#[test]
fn rule_examples_are_found_inside_larger_text() {
    // A rule must not depend on its example being the whole input: embed each
    // example in unrelated text, as it would be in a real file.
    let set = Ruleset::embedded().unwrap();
    let matcher = Matcher::new(&set, MatcherOptions::default()).unwrap();
    let mut scratch = matcher.new_scratch();
    let filler = "lorem ipsum dolor sit amet, consectetur adipiscing elit\n".repeat(20);
    let mut missed = Vec::new();
    for (index, rule) in matcher.rules().enumerate() {
        for example in &rule.examples {
            let text = format!("{filler}{example}\n{filler}");
            let mut found = false;
            matcher.scan_bytes(text.as_bytes(), &mut scratch, &mut |m| {
                found |= m.rule_index == index
            });
            if !found {
                missed.push(format!("{}: {example:?}", rule.id));
            }
        }
    }
    assert!(
        missed.is_empty(),
        "examples missed inside text:\n{}",
        missed.join("\n")
    );
}
