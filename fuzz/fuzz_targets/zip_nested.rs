//! The zip reader on arbitrary bytes (seeds: zips of stored and deflated
//! members, a zip nested in a zip, a tar in a zip). Members are opened to
//! the depth limit; a corrupt zip is reported and then scanned raw. The
//! same checks as `tar_walk`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (in_memory, streamed) = strata_fuzz::scan_both_ways(data);
    assert_eq!(in_memory, streamed, "scan_slice and scan_stream disagree");
});
