//! Inputs the fuzz targets (`fuzz/`) once failed on, replayed as plain
//! tests: `fuzz/regressions/<target>/*`. Scans must not repeat a secret they
//! found in a problem or skip message, and parse errors of image documents
//! must not repeat one the rules find in the document. Inputs named
//! `open-*` (a problem not fixed yet) are left to `fuzz/run.sh`, which
//! reports them without failing; none are saved at present.

use std::{fs, path::PathBuf};

use strata_engine::Matcher;
use strata_rules::Ruleset;
use strata_sources::{
    blob::BlobScanner,
    image::spec::{DockerSaveEntry, ImageConfig, ManifestOrIndex},
    Collector, Limits, Origin,
};

fn matcher() -> Matcher {
    Matcher::new(&Ruleset::embedded().unwrap(), Default::default()).unwrap()
}

/// The saved inputs of `target`: the open ones, or the fixed ones.
fn saved(target: &str, open: bool) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/regressions")
        .join(target);
    let Ok(entries) = fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut inputs: Vec<_> = entries
        .map(|e| e.unwrap())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .filter(|(name, _)| name.starts_with("open-") == open)
        .map(|(name, path)| (name, fs::read(path).unwrap()))
        .collect();
    inputs.sort();
    inputs
}

/// The secrets long enough not to occur in a message by chance.
fn long_secrets<'s>(secrets: impl Iterator<Item = &'s [u8]>) -> Vec<String> {
    secrets
        .filter(|s| s.len() >= 12)
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

/// Scans `data` in memory and as a stream, with the fuzz targets' limits.
fn assert_scan_keeps_secrets_out_of_messages(matcher: &Matcher, name: &str, data: &[u8]) {
    let limits = Limits {
        max_entry_size: 1 << 20,
        max_buffered_archive: 1 << 20,
        ..Limits::default()
    };
    for in_memory in [true, false] {
        let collector = Collector::new();
        let mut scanner = BlobScanner::new(matcher, &limits, &collector);
        let origin = Origin::path("input");
        let result = if in_memory {
            scanner.scan_slice(&origin, data, 0)
        } else {
            scanner.scan_stream(&origin, &mut &data[..], 0)
        };
        if let Err(e) = result {
            collector.problem("input", e.to_string());
        }
        let (hits, problems, skipped) = collector.take();
        let secrets = long_secrets(hits.iter().map(|h| &h.found.secret[..]));
        assert!(
            !secrets.is_empty(),
            "{name}: the saved input should hold a secret"
        );
        let messages = problems
            .iter()
            .map(|p| &p.message)
            .chain(skipped.iter().map(|s| &s.reason));
        for message in messages {
            for secret in &secrets {
                assert!(
                    !message.contains(secret),
                    "{name}: a message repeats a found secret"
                );
            }
        }
    }
}

fn assert_parse_errors_keep_secrets_out(matcher: &Matcher, name: &str, data: &[u8]) {
    let mut scratch = matcher.new_scratch();
    let mut found = Vec::new();
    matcher.scan_bytes(data, &mut scratch, &mut |m| found.push(m.secret));
    let secrets = long_secrets(found.iter().map(Vec::as_slice));
    assert!(
        !secrets.is_empty(),
        "{name}: the saved document should hold a secret"
    );
    let errors = [
        ManifestOrIndex::parse(data).err(),
        ImageConfig::parse(data).err(),
        DockerSaveEntry::parse_manifest(data).err(),
    ];
    for error in errors.iter().flatten() {
        for secret in &secrets {
            assert!(
                !error.contains(secret),
                "{name}: a parse error repeats a secret"
            );
        }
    }
}

/// Replays the saved inputs, open or fixed; returns how many there were.
fn replay(open: bool) -> usize {
    let matcher = matcher();
    let mut count = 0;
    for target in ["tar_walk", "compressed", "zip_nested"] {
        for (name, data) in saved(target, open) {
            assert_scan_keeps_secrets_out_of_messages(&matcher, &name, &data);
            count += 1;
        }
    }
    for (name, data) in saved("image_spec", open) {
        assert_parse_errors_keep_secrets_out(&matcher, &name, &data);
        count += 1;
    }
    count
}

#[test]
fn saved_fuzz_inputs_pass() {
    assert!(replay(false) > 0, "no saved inputs found");
}
