//! The rule loader on arbitrary text (seeds: a rules file with examples,
//! allowlists, a validator and entropy; a `strata.toml` config with rules,
//! `disable` and a global allowlist). The text is loaded as a rules file
//! (`Ruleset::add_file`) and as a config (`Config::parse`, applied over the
//! embedded rules). Whatever loads must compile (`Matcher::new`, every
//! regex built at once) without a panic, and scan a sample without one;
//! whatever does not load must come back as a `RuleError`.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use strata_engine::{Matcher, MatcherOptions};
use strata_rules::{Config, Ruleset};

const SAMPLE: &[u8] = b"aws_access_key_id = AKIAVPLTO5YUVYKDH5UY\npassword = \"hunter2hunter2\"\ntoken: ghp_0123456789abcdefghijklmnopqrstuvwxyz\n";

fn embedded() -> &'static Ruleset {
    static RULES: OnceLock<Ruleset> = OnceLock::new();
    RULES.get_or_init(|| Ruleset::embedded().expect("the embedded rules load"))
}

fn compile_and_scan(rules: &Ruleset, options: MatcherOptions) {
    if let Ok(matcher) = Matcher::new(rules, options) {
        let mut scratch = matcher.new_scratch();
        matcher.scan_bytes(SAMPLE, &mut scratch, &mut |_| {});
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut own = Ruleset::default();
    if own.add_file("fuzz.toml", text).is_ok() && !own.is_empty() {
        compile_and_scan(
            &own,
            MatcherOptions {
                eager: true,
                ..Default::default()
            },
        );
    }
    if let Ok(config) = Config::parse("strata.toml", text) {
        let mut rules = embedded().clone();
        if config.apply(&mut rules).is_ok() {
            compile_and_scan(
                &rules,
                MatcherOptions {
                    global_allowlist: config.allowlist.clone(),
                    ..Default::default()
                },
            );
        }
    }
});
