//! Inputs for strata: everything that turns a user's argument into blobs of
//! bytes with an origin, fed through the engine.
//!
//! - [`fs`] walks directories in parallel (dot-files and git-ignored files
//!   included, `.git/` internals and symlink targets excluded) and scans
//!   files, stdin and explicit paths.
//! - [`blob`] scans one stream: it sniffs magic bytes and opens nested
//!   archives (zip-family, tar, gzip, zstd, bzip2, xz) up to a depth limit,
//!   naming members `outer.zip!inner/path`.
//! - [`budget`] bounds what the archives in one input may expand to.
//! - [`tarball`] says which tar entries carry data, and keeps header bytes
//!   out of error messages.
//! - [`inflate`] decodes small gzip files held in memory in one go.
//! - [`collect`] gathers matches, errors and skipped inputs from many threads.
//!
//! Every input that cannot be read becomes an error in the [`Collector`]
//! naming the input; the scan goes on with the rest.

pub mod blob;
pub mod budget;
pub mod collect;
pub mod fs;
pub mod image;
pub mod inflate;
pub mod limits;
pub mod origin;
pub mod tarball;

pub use collect::{Collector, Hit, InProgress, Problem, Skipped};
pub use limits::Limits;
pub use origin::{Fate, FateStatus, ImageContext, LayerContext, Origin};
