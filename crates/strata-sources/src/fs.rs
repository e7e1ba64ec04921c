//! The filesystem source: explicit files, directories walked in parallel,
//! and standard input (`-`).
//!
//! Directories are walked with the `ignore` crate's parallel walker with
//! every filter off: dot-files and git-ignored files are scanned (that is
//! where `.env` lives), `.git/` internals are not, and symlinks are not
//! followed (no loops, no escaping the tree). `--exclude` globs are matched
//! against the path relative to the walked root and against the file name.

use std::{
    fs::File,
    io::{self, Read},
    path::{Path, PathBuf},
};

use globset::{Glob, GlobSet, GlobSetBuilder};
use ignore::{WalkBuilder, WalkState};
use strata_engine::Matcher;

use crate::{
    blob::{read_head, sniff, BlobScanner, Kind},
    Collector, Limits, Origin,
};

/// What to walk and how.
#[derive(Debug, Clone, Default)]
pub struct FsOptions {
    pub limits: Limits,
    /// Globs of paths not to scan.
    pub exclude: Vec<String>,
    /// Walker threads; 0 picks the number of cores.
    pub threads: usize,
}

/// An `--exclude` glob that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("--exclude {glob:?}: {message}")]
pub struct ExcludeError {
    glob: String,
    message: String,
}

/// Compiles `--exclude` globs. A glob without a `/` also matches at any depth.
pub fn build_excludes(globs: &[String]) -> Result<GlobSet, ExcludeError> {
    let mut builder = GlobSetBuilder::new();
    for glob in globs {
        let err = |e: globset::Error| ExcludeError {
            glob: glob.clone(),
            message: e.to_string(),
        };
        builder.add(Glob::new(glob).map_err(err)?);
        if !glob.contains('/') {
            builder.add(Glob::new(&format!("**/{glob}")).map_err(err)?);
        }
    }
    builder.build().map_err(|e| ExcludeError {
        glob: globs.join(", "),
        message: e.to_string(),
    })
}

/// Scans each path: `-` is standard input, a file is scanned, a directory walked.
pub fn scan_paths(
    paths: &[PathBuf],
    matcher: &Matcher,
    options: &FsOptions,
    collector: &Collector,
) -> Result<(), ExcludeError> {
    let excludes = build_excludes(&options.exclude)?;
    for path in paths {
        if path.as_os_str() == "-" {
            let mut scanner = BlobScanner::new(matcher, &options.limits, collector);
            let stdin = io::stdin();
            let mut lock = stdin.lock();
            scanner.begin_input("-", 0);
            if let Err(e) = scanner.scan_stream(&Origin::path("-"), &mut lock, 0) {
                scanner.report_error("-", "reading standard input: ", &e);
            }
            continue;
        }
        match std::fs::metadata(path) {
            Err(e) => collector.problem(display(path), format!("cannot read: {e}")),
            Ok(meta) if meta.is_dir() => walk(path, matcher, options, &excludes, collector),
            Ok(meta) => {
                let mut scanner = BlobScanner::new(matcher, &options.limits, collector);
                scan_file(
                    &mut scanner,
                    path,
                    display(path),
                    meta.len(),
                    meta.is_file(),
                );
            }
        }
    }
    Ok(())
}

/// A path as reported: as reached from the argument, without a leading `./`.
fn display(path: &Path) -> String {
    let text = path.to_string_lossy();
    let mut trimmed: &str = &text;
    while let Some(rest) = trimmed.strip_prefix("./") {
        trimmed = rest;
    }
    if trimmed.is_empty() {
        ".".to_string()
    } else {
        trimmed.to_string()
    }
}

fn walk(
    root: &Path,
    matcher: &Matcher,
    options: &FsOptions,
    excludes: &GlobSet,
    collector: &Collector,
) {
    let threads = if options.threads == 0 {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    } else {
        options.threads
    };
    let root_owned = root.to_path_buf();
    let excludes_for_filter = excludes.clone();
    let walker = WalkBuilder::new(root)
        .standard_filters(false)
        .hidden(false)
        .parents(false)
        .ignore(false)
        .git_ignore(false)
        .git_global(false)
        .git_exclude(false)
        .follow_links(false)
        .threads(threads)
        .filter_entry(move |entry| {
            if entry.depth() > 0
                && entry.file_type().is_some_and(|t| t.is_dir())
                && entry.file_name() == ".git"
            {
                return false;
            }
            if excludes_for_filter.is_empty() || entry.depth() == 0 {
                return true;
            }
            let relative = entry
                .path()
                .strip_prefix(&root_owned)
                .unwrap_or(entry.path());
            !(excludes_for_filter.is_match(relative)
                || excludes_for_filter.is_match(entry.file_name()))
        })
        .build_parallel();
    walker.run(|| {
        let mut scanner = BlobScanner::new(matcher, &options.limits, collector);
        Box::new(move |result| {
            let entry = match result {
                Ok(entry) => entry,
                Err(err) => {
                    report_walk_error(collector, root, &err);
                    return WalkState::Continue;
                }
            };
            let Some(file_type) = entry.file_type() else {
                return WalkState::Continue;
            };
            if file_type.is_dir() || file_type.is_symlink() {
                return WalkState::Continue;
            }
            let path = display(entry.path());
            if !file_type.is_file() {
                collector.skipped(path, "not a regular file");
                return WalkState::Continue;
            }
            match entry.metadata() {
                Ok(meta) => scan_file(&mut scanner, entry.path(), path, meta.len(), true),
                Err(e) => collector.problem(path, format!("cannot stat: {e}")),
            }
            WalkState::Continue
        })
    });
}

fn report_walk_error(collector: &Collector, root: &Path, err: &ignore::Error) {
    fn path_of(err: &ignore::Error) -> Option<&Path> {
        match err {
            ignore::Error::WithPath { path, .. } => Some(path),
            ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
                path_of(err)
            }
            ignore::Error::Loop { child, .. } => Some(child),
            _ => None,
        }
    }
    let path = path_of(err).map_or_else(|| display(root), display);
    collector.problem(path, format!("cannot read: {err}"));
}

/// Gzip files up to this size are read whole (see `crate::inflate`).
const WHOLE_GZIP_MAX: u64 = 4 << 20;

/// Scans one file, opening it as an archive when its bytes say it is one.
fn scan_file(scanner: &mut BlobScanner<'_>, path: &Path, shown: String, size: u64, regular: bool) {
    if !regular {
        scanner.collector.skipped(shown, "not a regular file");
        return;
    }
    if size > scanner.limits.max_file_size {
        scanner.collector.skipped(
            shown,
            format!(
                "{size} bytes is over --max-file-size ({} bytes)",
                scanner.limits.max_file_size
            ),
        );
        return;
    }
    let origin = Origin::path(shown);
    scanner.begin_input(&origin.path, size);
    let result = (|| -> io::Result<()> {
        let mut file = File::open(path)?;
        let head = read_head(&mut file)?;
        let kind = sniff(&head);
        let nested_ok = scanner.limits.max_archive_depth > 0;
        if kind == Kind::Zip && nested_ok {
            use std::io::Seek;
            file.rewind()?;
            return match scanner.scan_zip(&origin, io::BufReader::new(file), 0) {
                Ok(()) => Ok(()),
                // Not a readable zip after all: scan the bytes as they are,
                // and still say the archive could not be opened.
                Err(e) => {
                    scanner.report_error(&origin.path, "", &e);
                    let mut file = File::open(path)?;
                    scanner.scan_plain(&origin, &mut file)
                }
            };
        }
        if kind == Kind::Gzip && nested_ok && size <= WHOLE_GZIP_MAX {
            // Small gzip files are decoded in one go from memory.
            let mut data = Vec::with_capacity(size as usize);
            io::Cursor::new(head).chain(file).read_to_end(&mut data)?;
            return scanner.scan_slice(&origin, &data, 0);
        }
        let mut stream = io::Cursor::new(head).chain(file);
        scanner.scan_stream(&origin, &mut stream, 0)
    })();
    if let Err(e) = result {
        scanner.report_error(&origin.path, "cannot read: ", &e);
    }
}
