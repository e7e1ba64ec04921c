//! `strata scan`: files, directories and standard input.

use std::time::Instant;

use anyhow::Result;
use strata_sources::{fs::FsOptions, Collector, Limits};

use crate::{args::ScanArgs, deadline, output};

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
    let timeout = args.output.timeout.timeout.as_ref();
    deadline::run_until(
        timeout,
        || -> Result<()> {
            // One input at a time, so a timeout can name the one in progress.
            for path in &args.paths {
                let name = path.to_string_lossy();
                let _in_progress = collector.begin(name.strip_prefix("./").unwrap_or(&name));
                strata_sources::fs::scan_paths(
                    std::slice::from_ref(path),
                    &matcher,
                    &options,
                    &collector,
                )?;
            }
            Ok(())
        },
        || {
            deadline::record_timeout(&collector, timeout.expect("a timeout passed"));
            output::finish(&matcher, &collector, started, &args.output)
        },
    )?;
    output::finish(&matcher, &collector, started, &args.output)
}
