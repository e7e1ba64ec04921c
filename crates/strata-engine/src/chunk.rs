//! Scanning whole buffers and readers. A reader is consumed in chunks of
//! [`DEFAULT_CHUNK_SIZE`] plus an overlap longer than any match, so memory
//! stays flat whatever the input size. Each chunk owns the matches that
//! *start* in its first `len - overlap` bytes; the overlap is carried into the
//! next chunk, which owns the rest, so a match across a chunk edge is found
//! once. Line and column are counted only when a chunk has a match.

use std::io::{self, Read};

use memchr::memmem;

use crate::{
    matcher::{Match, Matcher, RawMatch, Scratch},
    text::{decode_utf16, sniff_utf16_bom},
};

/// Bytes read per chunk from a reader.
pub const DEFAULT_CHUNK_SIZE: usize = 1 << 20;

const INLINE_ALLOW: &[u8] = b"strata:allow";

/// What a scan consumed.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScanStats {
    /// Bytes of input read (before any UTF-16 decoding).
    pub bytes: u64,
}

/// Tracks line numbers across chunks of one input.
#[derive(Default)]
struct LineTracker {
    /// Newlines seen in bytes already dropped from the buffer.
    lines_before: u64,
    /// Absolute offset just after the last newline in dropped bytes.
    line_start_before: u64,
}

impl LineTracker {
    fn advance(&mut self, dropped: &[u8], base: u64) {
        let count = memchr::memchr_iter(b'\n', dropped).count() as u64;
        if count > 0 {
            self.lines_before += count;
            let last = memchr::memrchr(b'\n', dropped).unwrap();
            self.line_start_before = base + last as u64 + 1;
        }
    }
}

impl Matcher {
    /// Scans an in-memory input. UTF-16 with a BOM is decoded first (offsets
    /// and columns then refer to the decoded text).
    pub fn scan_bytes(&self, hay: &[u8], scratch: &mut Scratch, sink: &mut dyn FnMut(Match)) {
        if let Some(order) = sniff_utf16_bom(hay) {
            let decoded = decode_utf16(hay, order);
            self.scan_buffer(&decoded, 0..decoded.len(), scratch);
            emit(&decoded, 0, &LineTracker::default(), scratch, sink);
            return;
        }
        self.scan_buffer(hay, 0..hay.len(), scratch);
        emit(hay, 0, &LineTracker::default(), scratch, sink);
    }

    /// Scans a reader in overlapping chunks of `chunk_size` bytes, reusing
    /// the scratch buffer. A UTF-16 input (BOM) that fits in one chunk is
    /// decoded whole; a larger one is scanned as raw bytes.
    pub fn scan_reader(
        &self,
        reader: &mut dyn Read,
        chunk_size: usize,
        scratch: &mut Scratch,
        sink: &mut dyn FnMut(Match),
    ) -> io::Result<ScanStats> {
        let overlap = self.max_match_len() + 64;
        let chunk_size = chunk_size.max(overlap * 2);
        let capacity = chunk_size + overlap;
        // The buffer keeps its full length from one input to the next, so
        // its bytes stay initialized and reads go straight into it: reading
        // through `read_to_end` zeroed the spare capacity again on every
        // call for readers without `read_buf` (decoders, archive members).
        let mut buf = std::mem::take(&mut scratch.buf);
        if buf.len() < capacity {
            buf.resize(capacity, 0);
        }
        let result = self.scan_chunks(reader, &mut buf[..capacity], overlap, scratch, sink);
        scratch.buf = buf;
        result
    }

    fn scan_chunks(
        &self,
        reader: &mut dyn Read,
        buf: &mut [u8],
        overlap: usize,
        scratch: &mut Scratch,
        sink: &mut dyn FnMut(Match),
    ) -> io::Result<ScanStats> {
        let mut filled = 0;
        let mut base: u64 = 0;
        let mut lines = LineTracker::default();
        let mut total: u64 = 0;
        let mut first = true;
        loop {
            let eof = fill(reader, buf, &mut filled, &mut total)?;
            let data = &buf[..filled];
            if first {
                first = false;
                if let Some(order) = sniff_utf16_bom(data) {
                    if eof {
                        let decoded = decode_utf16(data, order);
                        self.scan_buffer(&decoded, 0..decoded.len(), scratch);
                        emit(&decoded, 0, &lines, scratch, sink);
                        return Ok(ScanStats { bytes: total });
                    }
                }
            }
            if eof {
                self.scan_buffer(data, 0..data.len(), scratch);
                emit(data, base, &lines, scratch, sink);
                return Ok(ScanStats { bytes: total });
            }
            let owned = filled - overlap;
            self.scan_buffer(data, 0..owned, scratch);
            emit(data, base, &lines, scratch, sink);
            lines.advance(&data[..owned], base);
            buf.copy_within(owned..filled, 0);
            filled -= owned;
            base += owned as u64;
        }
    }
}

/// Reads until `buf` is full or the reader ends; true at EOF. `filled`
/// counts the bytes of `buf` already holding input.
fn fill(
    reader: &mut dyn Read,
    buf: &mut [u8],
    filled: &mut usize,
    total: &mut u64,
) -> io::Result<bool> {
    while *filled < buf.len() {
        match reader.read(&mut buf[*filled..]) {
            Ok(0) => return Ok(true),
            Ok(n) => {
                *filled += n;
                *total += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

/// Turns the raw matches of one buffer into [`Match`]es with line/column.
fn emit(
    buf: &[u8],
    base: u64,
    lines: &LineTracker,
    scratch: &mut Scratch,
    sink: &mut dyn FnMut(Match),
) {
    if scratch.raw.is_empty() {
        return;
    }
    let raw = std::mem::take(&mut scratch.raw);
    // Matches are sorted by start: count newlines incrementally.
    let mut counted_to = 0usize;
    let mut line = lines.lines_before;
    for m in &raw {
        let RawMatch {
            rule,
            span,
            secret,
            entropy,
            validation,
            pair,
            ..
        } = m;
        if secret.start >= counted_to {
            line += memchr::memchr_iter(b'\n', &buf[counted_to..secret.start]).count() as u64;
            counted_to = secret.start;
        } else {
            line = lines.lines_before
                + memchr::memchr_iter(b'\n', &buf[..secret.start]).count() as u64;
            counted_to = secret.start;
        }
        let line_start = match memchr::memrchr(b'\n', &buf[..secret.start]) {
            Some(nl) => base + nl as u64 + 1,
            None => lines.line_start_before,
        };
        let line_end =
            memchr::memchr(b'\n', &buf[secret.end..]).map_or(buf.len(), |nl| secret.end + nl);
        let line_begin = memchr::memrchr(b'\n', &buf[..secret.start]).map_or(0, |nl| nl + 1);
        let inline_allow = memmem::find(&buf[line_begin..line_end], INLINE_ALLOW).is_some();
        let secret_newlines = memchr::memchr_iter(b'\n', &buf[secret.clone()]).count() as u64;
        let absolute = base + secret.start as u64;
        sink(Match {
            rule_index: *rule as usize,
            start: base + span.start as u64,
            end: base + span.end as u64,
            secret_start: absolute,
            secret: buf[secret.clone()].to_vec(),
            line: line + 1,
            column: absolute - line_start + 1,
            end_line: line + 1 + secret_newlines,
            entropy: *entropy,
            validation: *validation,
            inline_allow,
            pair: pair.as_ref().map(|p| buf[p.clone()].to_vec()),
        });
    }
    scratch.raw = raw;
    scratch.raw.clear();
}
