//! Limits that keep a scan bounded whatever its input: file size, archive
//! depth and decompressed size (a decompression bomb is cut off, not obeyed).

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
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_file_size: 256 << 20,
            max_entry_size: 256 << 20,
            max_archive_depth: 4,
            max_buffered_archive: 64 << 20,
            chunk_size: strata_engine::DEFAULT_CHUNK_SIZE,
        }
    }
}
