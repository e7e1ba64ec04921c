//! Compressed tars, on both paths that decode them (seeds: gzip,
//! multi-member gzip, zstd and bzip2 wrappings of small tars, a tar.gz
//! inside a tar).
//!
//! - Filesystem path: the `tar_walk` checks (no panic or hang, bombs cut off
//!   at the entry limit, no found secret in a message, and in-memory and
//!   streamed scans agree: in memory a gzip is decoded in one go, streamed
//!   it is not).
//! - Layer path: `read_layer` (the decoder chosen by `layer_decoder`) must
//!   account for every byte of the blob even when its reader takes only a
//!   little of the tar, and an uncompressed layer's diff id is its digest.
#![no_main]

use std::io::Read;

use libfuzzer_sys::fuzz_target;
use strata_sources::{blob::Kind, image::digest::sha256_of, image::layer::read_layer};

fuzz_target!(|data: &[u8]| {
    let (in_memory, streamed) = strata_fuzz::scan_both_ways(data);
    assert_eq!(in_memory, streamed, "scan_slice and scan_stream disagree");

    // Take at most 1 KiB of the decoded tar; read_layer must drain the rest.
    let mut blob = data;
    let read = read_layer(&mut blob, &strata_fuzz::limits(), &mut |tar| {
        tar.take(1024).read_to_end(&mut Vec::new()).map(|_| ())
    });
    if let Ok(read) = read {
        assert_eq!(read.blob_bytes, data.len() as u64, "blob bytes left unread");
        assert_eq!(read.blob_digest, sha256_of(data));
        if matches!(read.kind, Kind::Tar | Kind::Plain) {
            assert_eq!(read.tar_bytes, read.blob_bytes);
            assert_eq!(read.diff_id, read.blob_digest);
        }
    }
});
