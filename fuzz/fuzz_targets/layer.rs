//! One image layer blob, scanned as `strata image` scans it (seeds: plain,
//! gzip and zstd tars with whiteouts, opaque markers, links, long names and
//! an archive inside). The blob goes through `scan_layer_with_workers` from
//! an in-memory blob store under its true digest. Checks:
//! - it returns (no panic, no hang, no thread left behind);
//! - no digest mismatch is invented, and a layer that decoded was read to
//!   its last byte;
//! - matching small entries on a worker thread finds the same hits as
//!   matching everything on the walking thread;
//! - every hit is in a file the layer's events recorded as added;
//! - no problem or skip message repeats a found secret.
#![no_main]

use std::io::{self, Read};

use libfuzzer_sys::fuzz_target;
use strata_sources::{
    image::{
        digest::sha256_of,
        layer::{scan_layer_with_workers, LayerScan},
        priority::Priority,
        resolve::LayerRef,
        store::BlobSource,
    },
    Collector,
};

/// A store holding one blob, whatever digest is asked for.
struct OneBlob<'a>(&'a [u8]);

impl BlobSource for OneBlob<'_> {
    fn open(&self, _digest: &str) -> io::Result<Box<dyn Read + Send + '_>> {
        Ok(Box::new(self.0))
    }
}

fn hit_keys(scan: &LayerScan) -> Vec<strata_fuzz::HitKey> {
    let mut keys: Vec<_> = scan.hits.iter().map(strata_fuzz::hit_key).collect();
    keys.sort();
    keys
}

fuzz_target!(|data: &[u8]| {
    let matcher = strata_fuzz::matcher();
    let limits = strata_fuzz::limits();
    let layer = LayerRef {
        digest: sha256_of(data),
        diff_id: None,
        size: data.len() as u64,
    };
    let source = OneBlob(data);
    let scan = |workers| {
        scan_layer_with_workers(&source, &layer, matcher, &limits, workers, Priority::Normal)
    };
    let alone = scan(0);
    let with_worker = scan(1);

    for result in [&alone, &with_worker] {
        let decoded = !result.problems.iter().any(|p| p.path.is_empty());
        for problem in result.problems.iter().filter(|p| p.path.is_empty()) {
            assert!(
                !problem.message.starts_with("digest mismatch"),
                "a digest mismatch on a blob read under its own digest: {}",
                problem.message
            );
        }
        if decoded {
            assert_eq!(
                result.blob_bytes,
                data.len() as u64,
                "blob bytes left unread"
            );
        }
        for hit in &result.hits {
            let file = hit.origin.path.split('!').next().unwrap_or_default();
            let file = strata_sources::image::fate::normalize(file);
            assert!(
                result.events.added.contains(&file),
                "a hit in a file the layer events do not have"
            );
        }
        let collector = Collector::new();
        collector.hits_extend(result.hits.iter().cloned());
        for p in &result.problems {
            collector.problem(p.path.clone(), p.message.clone());
        }
        for s in &result.skipped {
            collector.skipped(s.path.clone(), s.reason.clone());
        }
        strata_fuzz::check_collected(&collector);
    }
    // A walk stopped inside an entry has scanned part of it inline but none
    // of it on a worker, so compare walks that reached the end.
    let walked = |scan: &LayerScan| !scan.problems.iter().any(|p| p.path.is_empty());
    if walked(&alone) && walked(&with_worker) {
        assert_eq!(
            hit_keys(&alone),
            hit_keys(&with_worker),
            "worker and walker disagree"
        );
    }
});
