//! Times the keyword pass and the full matcher over a directory's files
//! loaded in memory, on one thread:
//! `cargo run --release -p strata-engine --example keyword_pass -- DIR [MAX_MB]`.
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().expect("DIR");
    let max: usize = args.next().map_or(300, |m| m.parse().unwrap()) << 20;
    let mut data = Vec::new();
    let mut stack = vec![std::path::PathBuf::from(dir)];
    while let Some(p) = stack.pop() {
        if data.len() >= max {
            break;
        }
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if meta.is_dir() {
            if let Ok(rd) = std::fs::read_dir(&p) {
                stack.extend(rd.flatten().map(|e| e.path()));
            }
        } else if meta.is_file() {
            if let Ok(bytes) = std::fs::read(&p) {
                data.push(bytes);
            }
        }
    }
    let total: usize = data.iter().map(Vec::len).sum();
    let set = strata_rules::Ruleset::embedded().unwrap();
    let mut matcher = strata_engine::Matcher::new(&set, Default::default()).unwrap();
    for round in 0..4 {
        let simd = round % 2 == 0;
        matcher.set_keyword_simd(simd);
        let t = Instant::now();
        let hits: usize = data.iter().map(|f| matcher.count_keyword_hits(f)).sum();
        let secs = t.elapsed().as_secs_f64();
        println!(
            "keyword pass only, simd {simd}: {:.0} MB/s, {hits} keyword hits",
            total as f64 / 1e6 / secs
        );
    }
    matcher.set_keyword_simd(true);
    let mut scratch = matcher.new_scratch();
    for round in 0..2 {
        let t = Instant::now();
        let hits: usize = data.iter().map(|f| matcher.count_keyword_hits(f)).sum();
        let secs = t.elapsed().as_secs_f64();
        println!(
            "keyword pass only: {:.0} MB/s, {hits} keyword hits",
            total as f64 / 1e6 / secs
        );
        let _ = round;
    }
    for round in 0..2 {
        let t = Instant::now();
        let mut found = 0;
        for file in &data {
            matcher.scan_bytes(file, &mut scratch, &mut |_| found += 1);
        }
        let secs = t.elapsed().as_secs_f64();
        println!(
            "round {round}: {} files, {:.0} MB in {secs:.2}s = {:.0} MB/s (one thread), {found} matches",
            data.len(),
            total as f64 / 1e6,
            total as f64 / 1e6 / secs
        );
    }
}
