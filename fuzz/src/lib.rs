//! What the fuzz targets share: the embedded ruleset compiled once, limits
//! small enough that one input stays fast and bounded, and the checks every
//! scan must pass whatever it was fed.
//!
//! The limits are strata's own kind of limits, only smaller: a 1 MiB entry
//! cap instead of 256 MiB makes a decompression bomb cost the fuzzer a
//! millisecond instead of a second, and the code path that cuts it off is
//! the same.

use std::sync::OnceLock;

use strata_engine::Matcher;
use strata_rules::Ruleset;
use strata_sources::{Collector, Limits};

/// The embedded default ruleset, compiled once per process.
pub fn matcher() -> &'static Matcher {
    static MATCHER: OnceLock<Matcher> = OnceLock::new();
    MATCHER.get_or_init(|| {
        let rules = Ruleset::embedded().expect("the embedded rules load");
        Matcher::new(&rules, Default::default()).expect("the embedded rules compile")
    })
}

/// Strata's limits, scaled down so one fuzz input is quick.
pub fn limits() -> Limits {
    Limits {
        max_file_size: 1 << 20,
        max_entry_size: 1 << 20,
        max_archive_depth: 4,
        max_buffered_archive: 1 << 20,
        // Raised to the engine's minimum (twice its overlap), so chunk edges
        // fall inside small inputs too.
        chunk_size: 1,
        // A bomb spends its budget in milliseconds.
        max_decompressed: 4 << 20,
        max_expansion_ratio: 100,
        max_archive_entries: 1 << 14,
    }
}

/// Messages known to repeat input, in code being fixed elsewhere, saved as
/// `regressions/*/open-*`; none at present (the tar errors that quoted a
/// header are described by `tarball::Watch` now). Set
/// `STRATA_FUZZ_STRICT=1` to check these too (to verify a fix).
const KNOWN_OPEN: &[&str] = &[];

fn known_open(message: &str) -> bool {
    static STRICT: OnceLock<bool> = OnceLock::new();
    let strict = *STRICT.get_or_init(|| std::env::var_os("STRATA_FUZZ_STRICT").is_some());
    !strict && KNOWN_OPEN.iter().any(|known| message.contains(known))
}

/// Checks what a finished scan gathered: no message repeats a secret that
/// was found (problems and skip reasons are printed; secrets must not be).
pub fn check_collected(collector: &Collector) {
    let (hits, problems, mut skipped) = collector.take();
    let problems: Vec<_> = problems
        .into_iter()
        .filter(|p| !known_open(&p.message))
        .collect();
    skipped.retain(|s| !known_open(&s.reason));
    for hit in &hits {
        let secret = &hit.found.secret;
        // Short secrets can occur in any text by chance.
        if secret.len() < 12 {
            continue;
        }
        let secret = String::from_utf8_lossy(secret);
        // The message is shown with the secret cut out, to tell causes apart.
        let shown = |text: &str| text.replace(secret.as_ref(), "<SECRET>");
        for problem in &problems {
            assert!(
                !problem.message.contains(secret.as_ref()),
                "a problem message repeats a secret: {:?}",
                shown(&problem.message)
            );
        }
        for skip in &skipped {
            assert!(
                !skip.reason.contains(secret.as_ref()),
                "a skip reason repeats a secret: {:?}",
                shown(&skip.reason)
            );
        }
    }
}

/// What identifies a hit, for comparing two scans of the same bytes.
pub type HitKey = (String, u64, u64, usize, Vec<u8>);

/// The key of one hit.
pub fn hit_key(h: &strata_sources::Hit) -> HitKey {
    (
        h.origin.path.clone(),
        h.found.start,
        h.found.end,
        h.found.rule_index,
        h.found.secret.clone(),
    )
}

/// Scans `data` twice, in memory (`scan_slice`) and as a stream
/// (`scan_stream`), checks each scan's messages, and returns the hits of
/// each, sorted. When either scan ran out of its decompression budget
/// (a bomb), both are returned empty: the two paths cut a bomb off at
/// different bytes (a gzip in memory is decoded whole, a stream read by
/// read), so their hits need not agree past that point.
pub fn scan_both_ways(data: &[u8]) -> (Vec<HitKey>, Vec<HitKey>) {
    use strata_sources::{blob::BlobScanner, Origin};
    let matcher = matcher();
    let limits = limits();
    let origin = Origin::path("input");
    let scan = |in_memory: bool| {
        let collector = Collector::new();
        let mut scanner = BlobScanner::new(matcher, &limits, &collector);
        let result = if in_memory {
            scanner.scan_slice(&origin, data, 0)
        } else {
            scanner.scan_stream(&origin, &mut &data[..], 0)
        };
        if let Err(e) = result {
            collector.problem(origin.path.clone(), e.to_string());
        }
        let (hits, problems, skipped) = collector.take();
        let spent = problems
            .iter()
            .any(|p| p.message.contains("decompression budget exceeded"));
        let keys: Vec<HitKey> = hits.iter().map(hit_key).collect();
        // Put them back for the message check.
        let checked = Collector::new();
        checked.hits_extend(hits);
        for p in problems {
            checked.problem(p.path, p.message);
        }
        for s in skipped {
            checked.skipped(s.path, s.reason);
        }
        check_collected(&checked);
        (keys, spent)
    };
    let ((in_memory, spent_in_memory), (streamed, spent_streamed)) = (scan(true), scan(false));
    if spent_in_memory || spent_streamed {
        return (Vec::new(), Vec::new());
    }
    (in_memory, streamed)
}
