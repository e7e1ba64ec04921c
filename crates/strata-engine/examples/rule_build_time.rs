//! Prints the rules whose regexes take longest to build (the cost a scan
//! pays the first time a rule's keyword is hit):
//! `cargo run --release -p strata-engine --example rule_build_time`.
use std::time::Instant;

fn main() {
    let set = strata_rules::Ruleset::embedded().unwrap();
    let mut times = Vec::new();
    for rule in set.rules() {
        let mut one = set.clone();
        one.retain_ids(std::slice::from_ref(&rule.id));
        let t = Instant::now();
        let matcher = strata_engine::Matcher::new(
            &one,
            strata_engine::MatcherOptions {
                eager: true,
                ..Default::default()
            },
        )
        .unwrap();
        times.push((t.elapsed(), rule.id.clone()));
        drop(matcher);
    }
    let total: std::time::Duration = times.iter().map(|t| t.0).sum();
    times.sort();
    times.reverse();
    println!("{} rules, {total:?} in all; slowest:", times.len());
    for (t, id) in times.iter().take(15) {
        println!("{t:>12?}  {id}");
    }
}
