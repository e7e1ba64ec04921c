//! Lists the rules whose regex takes longest to compile.
use regex_automata::{meta::Regex, util::syntax};
use std::time::Instant;
fn main() {
    let set = strata_rules::Ruleset::embedded().unwrap();
    let mut times: Vec<(f64, String)> = set
        .rules()
        .iter()
        .map(|r| {
            let t = Instant::now();
            Regex::builder()
                .syntax(syntax::Config::new().unicode(false).utf8(false))
                .configure(Regex::config().utf8_empty(false))
                .build(&r.regex)
                .unwrap();
            (t.elapsed().as_secs_f64() * 1e3, r.id.clone())
        })
        .collect();
    times.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap());
    let total: f64 = times.iter().map(|t| t.0).sum();
    println!("total {total:.1} ms");
    for (ms, id) in times.iter().take(15) {
        println!("{ms:8.2} ms  {id}");
    }
}
