//! `strata scan`: files, directories and standard input.

use std::time::Instant;

use anyhow::Result;
use strata_sources::{fs::FsOptions, Collector, Limits};

use crate::{args::ScanArgs, output};

pub fn run(args: ScanArgs) -> Result<i32> {
    let started = Instant::now();
    let matcher = output::load_matcher(&args.rules)?;
    let options = FsOptions {
        limits: Limits {
            max_file_size: args.max_file_size,
            max_entry_size: args.max_file_size,
            max_archive_depth: args.max_archive_depth,
            max_decompressed: args.max_decompressed,
            ..Limits::default()
        },
        exclude: args.exclude.clone(),
        threads: args.threads,
    };
    let collector = Collector::new();
    strata_sources::fs::scan_paths(&args.paths, &matcher, &options, &collector)?;
    output::finish(&matcher, &collector, started, &args.output)
}
