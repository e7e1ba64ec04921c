//! Limits that keep a scan bounded whatever its input: file size, archive
//! depth, decompressed size per member and per input (a decompression bomb
//! is cut off, not obeyed; see [`crate::budget`]), and how far an image
//! layer may expand.

/// Bounds for one scan.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Files larger than this on disk are skipped (and listed as skipped).
    pub max_file_size: u64,
    /// Archive members are read at most this far after decompression; the
    /// rest is cut off and the member listed as truncated.
    pub max_entry_size: u64,
    /// How many archives deep to look (`a.zip!b.jar!c.properties` is depth 2).
    pub max_archive_depth: usize,
    /// Nested zips must be buffered in memory to be opened; larger ones are
    /// scanned as raw bytes instead.
    pub max_buffered_archive: u64,
    /// Bytes read per engine chunk.
    pub chunk_size: usize,
    /// What the archives inside one top-level input may expand to, at
    /// least: decompressed bytes (see [`crate::budget::Budget`]) ...
    pub max_decompressed: u64,
    /// ... or this many times the input's own size, if that is more. An
    /// image layer may also expand this far, and at least
    /// `max_decompressed`, from its stored blob.
    pub max_expansion_ratio: u64,
    /// Archive members one input may open, at least.
    pub max_archive_entries: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_file_size: 256 << 20,
            max_entry_size: 256 << 20,
            max_archive_depth: 4,
            max_buffered_archive: 64 << 20,
            chunk_size: strata_engine::DEFAULT_CHUNK_SIZE,
            max_decompressed: 1 << 30,
            max_expansion_ratio: 100,
            max_archive_entries: 1 << 20,
        }
    }
}
