//! The tar walker on arbitrary bytes (seeds: tars with regular, GNU sparse
//! `S`, contiguous `7`, long-name and pax members). `BlobScanner` must come
//! back from hostile bytes (no panic, no hang, bounded memory), must not
//! repeat a found secret in a problem or skip message, and must report the
//! same hits whether the bytes are scanned in memory or as a stream.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (in_memory, streamed) = strata_fuzz::scan_both_ways(data);
    assert_eq!(in_memory, streamed, "scan_slice and scan_stream disagree");
});
