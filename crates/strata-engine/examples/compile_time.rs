//! Prints how long each start-up stage takes for the embedded ruleset:
//! `cargo run --release -p strata-engine --example compile_time`.
use std::time::Instant;

fn main() {
    for _ in 0..3 {
        let t = Instant::now();
        let set = strata_rules::Ruleset::embedded().unwrap();
        let load = t.elapsed();
        let t = Instant::now();
        let m = strata_engine::Matcher::new(&set, Default::default()).unwrap();
        let compile = t.elapsed();
        let t = Instant::now();
        let eager = strata_engine::Matcher::new(
            &set,
            strata_engine::MatcherOptions {
                eager: true,
                ..Default::default()
            },
        )
        .unwrap();
        let all = t.elapsed();
        println!(
            "{} rules: load {:?}, matcher {:?} (every regex built eagerly: {:?})",
            m.rules().len(),
            load,
            compile,
            all
        );
        drop(eager);
    }
}
