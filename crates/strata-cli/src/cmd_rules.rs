//! `strata rules list` and `strata rules check`.

use std::time::Instant;

use anyhow::Result;
use serde_json::json;
use strata_engine::{Matcher, MatcherOptions};
use strata_rules::Ruleset;

use crate::{args::RulesCommand, output};

pub fn run(command: RulesCommand) -> Result<i32> {
    match command {
        RulesCommand::List { rules, json } => {
            let matcher = output::load_matcher(&rules)?;
            if json {
                let list: Vec<_> = matcher
                    .rules()
                    .map(|r| {
                        json!({
                            "id": r.id, "name": r.name, "description": r.description,
                            "keywords": r.keywords, "validator": r.validator.map(|v| v.name()),
                            "min_entropy": r.min_entropy, "tags": r.tags, "source": r.source,
                            "severity": r.severity, "confidence": r.confidence,
                            "references": r.references, "kind": if r.is_context { "context" } else { "regex" },
                            "pair": r.pair.as_ref().map(|p| &p.name),
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for rule in matcher.rules() {
                    println!("{:<40} {}", rule.id, rule.name);
                }
                eprintln!("{} rules", matcher.rules().len());
            }
            Ok(0)
        }
        RulesCommand::Check { dir } => {
            let started = Instant::now();
            let ruleset = match &dir {
                Some(dir) => Ruleset::from_dir(dir)?,
                None => Ruleset::embedded()?,
            };
            let matcher = Matcher::new(
                &ruleset,
                MatcherOptions {
                    eager: true,
                    ..Default::default()
                },
            )?;
            let compile = started.elapsed();
            let mut failures = matcher.check_examples();
            failures.extend(matcher.check_keywords());
            let examples: usize = ruleset
                .rules()
                .iter()
                .map(|r| r.examples.len() + r.counterexamples.len())
                .sum();
            for failure in &failures {
                println!("{failure}");
            }
            println!(
                "{} rules, {examples} examples and counterexamples, {} strings drawn from each regex, {} failures (compiled in {:.1} ms)",
                ruleset.len(),
                strata_engine::KEYWORD_SAMPLES,
                failures.len(),
                compile.as_secs_f64() * 1000.0
            );
            Ok(if failures.is_empty() { 0 } else { 1 })
        }
    }
}
