//! Scanning one stream of bytes, looking inside archives.
//!
//! The first bytes decide what a stream is: a zip-family archive (jar, war,
//! whl, apk, nupkg, … are all zips), a tar, or a gzip/zstd/bzip2/xz stream
//! (decoded, then sniffed again). Archive members are scanned as blobs of
//! their own, named `outer.zip!inner/path`, to [`Limits::max_archive_depth`].
//! Everything else goes to the engine as it is — binaries too, since secrets
//! get compiled in.
//!
//! Every stream ends in one of three states: scanned, listed as skipped
//! with a reason, or an error. An archive past the depth limit is scanned
//! as raw bytes *and* listed as skipped, so the report says what was not
//! looked into. Decompressed sizes are capped per member (a member cut off
//! is listed as truncated) and per top-level input ([`crate::budget`]); a
//! zip whose members overlap (one stream replayed under many names, a bomb
//! construction) is an error, and its bytes are scanned raw.

use std::io::{self, Cursor, Read, Seek};

use strata_engine::{Match, Matcher, Scratch};

use std::sync::Arc;

use crate::{
    budget::{is_budget_error, Budget, Charged},
    inflate::GzipOneShot,
    tarball::{content_of, EntryContent, Watch, Watched},
    Collector, Hit, Limits, Origin,
};

/// What a stream's first bytes say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Zip,
    Tar,
    Gzip,
    Zstd,
    Bzip2,
    Xz,
    Plain,
}

impl Kind {
    /// Every kind the sniffer knows, for tests that must cover them all.
    pub const ALL: [Kind; 7] = [
        Kind::Zip,
        Kind::Tar,
        Kind::Gzip,
        Kind::Zstd,
        Kind::Bzip2,
        Kind::Xz,
        Kind::Plain,
    ];

    /// True for the kinds strata opens (archives and compressed streams).
    pub fn is_container(self) -> bool {
        self != Kind::Plain
    }
}

/// The xz decoder may use this much memory for its dictionary; a stream
/// asking for more (xz -9 needs 64 MiB) is an error, not an allocation.
const XZ_MEMORY_LIMIT_KIB: u32 = 256 << 10;

/// Bytes needed to recognise every [`Kind`] (the tar magic sits at 257).
pub const SNIFF_LEN: usize = 512;

/// Recognises a stream by its magic bytes.
pub fn sniff(head: &[u8]) -> Kind {
    match head {
        [b'P', b'K', 3, 4, ..] | [b'P', b'K', 5, 6, ..] => Kind::Zip,
        [0x1f, 0x8b, ..] => Kind::Gzip,
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Kind::Zstd,
        [b'B', b'Z', b'h', b'1'..=b'9', ..] => Kind::Bzip2,
        [0xfd, b'7', b'z', b'X', b'Z', 0, ..] => Kind::Xz,
        _ if head.len() >= 262 && &head[257..262] == b"ustar" => Kind::Tar,
        _ => Kind::Plain,
    }
}

/// Reads up to `SNIFF_LEN` bytes from `reader` without losing them.
pub fn read_head(reader: &mut dyn Read) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(SNIFF_LEN);
    reader.take(SNIFF_LEN as u64).read_to_end(&mut head)?;
    Ok(head)
}

/// A reader that stops at `limit` bytes and remembers that it had to.
pub struct Capped<R> {
    inner: R,
    left: u64,
    pub truncated: bool,
}

impl<R: Read> Capped<R> {
    pub fn new(inner: R, limit: u64) -> Capped<R> {
        Capped {
            inner,
            left: limit,
            truncated: false,
        }
    }
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            if !self.truncated {
                let mut probe = [0u8; 1];
                if self.inner.read(&mut probe)? > 0 {
                    self.truncated = true;
                }
            }
            return Ok(0);
        }
        let want = buf.len().min(self.left.min(usize::MAX as u64) as usize);
        let n = self.inner.read(&mut buf[..want])?;
        self.left -= n as u64;
        Ok(n)
    }
}

/// Per-thread scanning state: the engine scratch plus shared references.
pub struct BlobScanner<'a> {
    pub matcher: &'a Matcher,
    pub limits: &'a Limits,
    pub collector: &'a Collector,
    scratch: Scratch,
    hits: Vec<Hit>,
    /// Decodes small gzip files in memory in one go; made on first use.
    gzip: Option<GzipOneShot>,
    /// What the top-level input being scanned may still expand to.
    budget: Arc<Budget>,
}

impl<'a> BlobScanner<'a> {
    pub fn new(
        matcher: &'a Matcher,
        limits: &'a Limits,
        collector: &'a Collector,
    ) -> BlobScanner<'a> {
        BlobScanner {
            matcher,
            limits,
            collector,
            scratch: matcher.new_scratch(),
            hits: Vec::new(),
            gzip: None,
            budget: Arc::new(Budget::for_input("", 0, limits)),
        }
    }

    /// Starts a top-level input of `size` bytes: it gets a budget of its own.
    pub fn begin_input(&mut self, input: &str, size: u64) {
        self.budget = Arc::new(Budget::for_input(input, size, self.limits));
    }

    /// Makes this scanner share `budget` (the threads scanning one layer do).
    pub fn share_budget(&mut self, budget: Arc<Budget>) {
        self.budget = budget;
    }

    /// Records an error met while reading `path`: a spent budget once for
    /// its input, anything else as a problem of `path`, after `context`.
    pub fn report_error(&self, path: &str, context: &str, error: &io::Error) {
        if is_budget_error(error) {
            self.budget_spent(path);
        } else {
            self.collector.problem(path, format!("{context}{error}"));
        }
    }

    /// Charges `bytes` of expansion that no decoder produced (the holes of
    /// a sparse file) to the input's budget; reported once when spent.
    pub fn charge_expansion(&self, bytes: u64) -> io::Result<()> {
        let charged = self.budget.charge_bytes(bytes);
        if charged.is_err() {
            self.budget_spent(self.budget.input());
        }
        charged
    }

    fn budget_spent(&self, at: &str) {
        if self.budget.claim_report() {
            let input = match self.budget.input() {
                "" => at,
                input => input,
            };
            self.collector.problem(input, self.budget.message(at));
        }
    }

    /// Whether a stream of `kind` at `depth` is opened. An archive past the
    /// depth limit is listed as skipped (it is then scanned raw); one met
    /// after the budget is spent is not listed again.
    fn opens(&self, origin: &Origin, kind: Kind, depth: usize) -> bool {
        if !kind.is_container() || self.budget.exhausted() {
            return false;
        }
        if depth >= self.limits.max_archive_depth {
            self.collector.skipped(
                origin.path.clone(),
                format!(
                    "{kind:?} nested deeper than --max-archive-depth {}: not opened, scanned as raw bytes",
                    self.limits.max_archive_depth
                ),
            );
            return false;
        }
        true
    }

    /// Scans a stream named by `origin`, opening archives inside it. `depth`
    /// counts the archives already entered. Problems are reported to the
    /// collector under the innermost name that failed; the error returned
    /// is the one that stopped reading `reader` itself.
    pub fn scan_stream(
        &mut self,
        origin: &Origin,
        reader: &mut dyn Read,
        depth: usize,
    ) -> io::Result<()> {
        let head = read_head(reader)?;
        let kind = sniff(&head);
        let mut stream = Cursor::new(head).chain(reader);
        if !self.opens(origin, kind, depth) {
            return self.scan_plain(origin, &mut stream);
        }
        match kind {
            Kind::Zip => self.scan_zip_stream(origin, &mut stream, depth),
            Kind::Tar => self.scan_tar(origin, &mut stream, depth),
            _ => self.scan_compressed(origin, kind, &mut stream, depth),
        }
    }

    /// Scans bytes already in memory, opening archives inside them, as
    /// [`BlobScanner::scan_stream`] does for a stream. Plain bytes go to
    /// the engine in place (no copy into a chunk buffer), and a zip is
    /// opened where it lies instead of being buffered again.
    pub fn scan_slice(&mut self, origin: &Origin, data: &[u8], depth: usize) -> io::Result<()> {
        let kind = sniff(&data[..data.len().min(SNIFF_LEN)]);
        if !self.opens(origin, kind, depth) {
            self.scan_plain_slice(origin, data);
            return Ok(());
        }
        match kind {
            Kind::Zip => {
                self.scan_zip_in_memory(origin, data, depth);
                Ok(())
            }
            Kind::Tar => self.scan_tar(origin, &mut &data[..], depth),
            Kind::Gzip => self.scan_gzip_slice(origin, data, depth),
            _ => self.scan_compressed(origin, kind, &mut &data[..], depth),
        }
    }

    /// A gzip file in memory is decoded whole and its contents scanned in
    /// place when it can be (see [`crate::inflate`]), else streamed.
    fn scan_gzip_slice(&mut self, origin: &Origin, data: &[u8], depth: usize) -> io::Result<()> {
        let max_len = usize::try_from(self.limits.max_entry_size).unwrap_or(usize::MAX);
        let mut gzip = self.gzip.take().unwrap_or_default();
        // A compressed stream adds no path level, as when streamed.
        let budget = self.budget.clone();
        let result = gzip.decode(data, max_len).map(|decoded| {
            budget.charge_bytes(decoded.len() as u64)?;
            self.scan_slice(origin, decoded, depth + 1)
        });
        gzip.trim();
        self.gzip = Some(gzip);
        match result {
            Some(result) => result.map_err(decompressing),
            None => self.scan_compressed(origin, Kind::Gzip, &mut &data[..], depth),
        }
    }

    /// Feeds bytes in memory to the engine as they are.
    fn scan_plain_slice(&mut self, origin: &Origin, data: &[u8]) {
        self.matcher.scan_bytes(
            data,
            &mut self.scratch,
            &mut keep_hits(self.matcher, &mut self.hits, origin),
        );
        self.flush_hits();
        self.collector.scanned(data.len() as u64);
    }

    /// Feeds a stream to the engine as it is.
    pub fn scan_plain(&mut self, origin: &Origin, reader: &mut dyn Read) -> io::Result<()> {
        let stats = self.matcher.scan_reader(
            reader,
            self.limits.chunk_size,
            &mut self.scratch,
            &mut keep_hits(self.matcher, &mut self.hits, origin),
        );
        self.flush_hits();
        let stats = stats?;
        self.collector.scanned(stats.bytes);
        Ok(())
    }

    fn flush_hits(&mut self) {
        if !self.hits.is_empty() {
            self.collector.hits_extend(self.hits.drain(..));
        }
    }

    fn scan_compressed(
        &mut self,
        origin: &Origin,
        kind: Kind,
        reader: &mut dyn Read,
        depth: usize,
    ) -> io::Result<()> {
        let decoder: Box<dyn Read + '_> = match kind {
            Kind::Gzip => Box::new(flate2::read::MultiGzDecoder::new(reader)),
            Kind::Zstd => Box::new(zstd::stream::read::Decoder::new(reader)?),
            Kind::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(reader)),
            Kind::Xz => Box::new(lzma_rust2::XzReader::new_mem_limit(
                reader,
                true,
                XZ_MEMORY_LIMIT_KIB,
            )),
            _ => unreachable!("not a compressed kind"),
        };
        let budget = self.budget.clone();
        let mut capped = Capped::new(Charged::new(decoder, &budget), self.limits.max_entry_size);
        // A compressed stream adds no path level: `logs.tar.gz!app/x.env`.
        let result = self.scan_stream(origin, &mut capped, depth + 1);
        if capped.truncated {
            self.collector.skipped(
                origin.path.clone(),
                format!(
                    "decompressed data exceeds {} bytes (possible decompression bomb); scanned only the first {} bytes",
                    self.limits.max_entry_size, self.limits.max_entry_size
                ),
            );
        }
        result.map_err(decompressing)
    }

    fn scan_tar(&mut self, origin: &Origin, reader: &mut dyn Read, depth: usize) -> io::Result<()> {
        let watch = Watch::default();
        let mut archive = tar::Archive::new(Watched::new(reader, &watch));
        let entries = archive.entries().map_err(|e| watch.describe(&e))?;
        for entry in entries {
            let entry = entry.map_err(|e| watch.describe(&e))?;
            let content = content_of(entry.header().entry_type());
            if matches!(content, EntryContent::None | EntryContent::Metadata) {
                continue;
            }
            let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let member = origin.with_path(format!("{}!{}", origin.path, name));
            let charged = self.budget.charge_entry().and_then(|()| {
                if content == EntryContent::Sparse {
                    // The holes read as zeros: that is expansion too.
                    let stored = entry.header().entry_size().unwrap_or(0);
                    self.budget
                        .charge_bytes(entry.size().saturating_sub(stored))
                } else {
                    Ok(())
                }
            });
            if charged.is_err() {
                // Spent: the member is still scanned, its archives not opened.
                self.budget_spent(&member.path);
                if content == EntryContent::Sparse {
                    self.collector.skipped(
                        member.path.clone(),
                        "sparse file not expanded: the input's decompression budget is spent",
                    );
                    continue;
                }
            }
            self.scan_member(&member, entry, depth)
                .map_err(|e| watch.describe(&e))?;
        }
        Ok(())
    }

    /// Scans one archive member; a problem inside it is reported under the
    /// member's name. An error reading the member's own bytes stops the
    /// enclosing archive (its reader is then in an unknown state).
    fn scan_member(&mut self, member: &Origin, reader: impl Read, depth: usize) -> io::Result<()> {
        let mut capped = Capped::new(reader, self.limits.max_entry_size);
        let result = self.scan_stream(member, &mut capped, depth + 1);
        if capped.truncated {
            self.collector.skipped(
                member.path.clone(),
                format!(
                    "larger than {} bytes; scanned only the first part",
                    self.limits.max_entry_size
                ),
            );
        }
        if let Err(e) = result {
            self.report_error(&member.path, "", &e);
        }
        Ok(())
    }

    /// A zip read from a stream must be buffered to be opened (its directory
    /// is at the end). Past `max_buffered_archive` it is scanned raw.
    fn scan_zip_stream(
        &mut self,
        origin: &Origin,
        reader: &mut dyn Read,
        depth: usize,
    ) -> io::Result<()> {
        let mut data = Vec::new();
        let limit = self.limits.max_buffered_archive;
        reader.take(limit).read_to_end(&mut data)?;
        if data.len() as u64 == limit {
            self.collector.skipped(
                origin.path.clone(),
                format!("zip larger than {limit} bytes inside another input: scanned as raw bytes, members not opened"),
            );
            return self.scan_plain(origin, &mut Cursor::new(data).chain(reader));
        }
        self.scan_zip_in_memory(origin, &data, depth);
        Ok(())
    }

    /// Scans the members of a zip held in memory. Bytes that start like a
    /// zip but cannot be opened as one are reported, then scanned as they
    /// are, so nothing goes unread.
    fn scan_zip_in_memory(&mut self, origin: &Origin, data: &[u8], depth: usize) {
        if let Err(e) = self.scan_zip(origin, Cursor::new(data), depth) {
            self.report_error(&origin.path, "", &e);
            self.scan_plain_slice(origin, data);
        }
    }

    /// Scans every member of a zip-family archive.
    pub fn scan_zip<R: Read + Seek>(
        &mut self,
        origin: &Origin,
        reader: R,
        depth: usize,
    ) -> io::Result<()> {
        let mut archive = zip::ZipArchive::new(reader).map_err(|e| zip_error("corrupt zip", &e))?;
        refuse_overlapping_members(&mut archive)?;
        for index in 0..archive.len() {
            // Spent: the caller scans the whole archive raw.
            self.budget.charge_entry()?;
            let name = zip_name(&archive, index);
            let entry = match archive.by_index(index) {
                Ok(entry) => entry,
                Err(zip::result::ZipError::UnsupportedArchive(why)) => {
                    self.collector.skipped(
                        format!("{}!{name}", origin.path),
                        format!("zip member not readable: {why}"),
                    );
                    continue;
                }
                Err(e) => {
                    self.collector.problem(
                        format!("{}!{name}", origin.path),
                        zip_error("corrupt zip member", &e).to_string(),
                    );
                    continue;
                }
            };
            if entry.is_dir() {
                continue;
            }
            let member = origin.with_path(format!(
                "{}!{}",
                origin.path,
                String::from_utf8_lossy(entry.name_raw())
            ));
            let budget = self.budget.clone();
            self.scan_member(&member, Charged::new(entry, &budget), depth)?;
        }
        Ok(())
    }
}

/// An error met while reading a decompressed stream, said to be one. A
/// spent budget stays what it is, so it is reported once, not per member.
pub(crate) fn decompressing(e: io::Error) -> io::Error {
    if is_budget_error(&e) {
        return e;
    }
    io::Error::new(e.kind(), format!("decompressing: {e}"))
}

/// A zip error as strata reports it. The zip crate's texts are fixed
/// descriptions, but escape and clip them anyway: they must never carry
/// more than a few words of an input.
fn zip_error(what: &str, error: &zip::result::ZipError) -> io::Error {
    let text: String = error
        .to_string()
        .chars()
        .take(200)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    io::Error::new(io::ErrorKind::InvalidData, format!("{what}: {text}"))
}

/// Refuses a zip whose members share bytes: the members of a real zip lie
/// one after another, and overlapping ones replay a single stream under
/// many names (a bomb construction that no size cap per member stops).
fn refuse_overlapping_members<R: Read + Seek>(archive: &mut zip::ZipArchive<R>) -> io::Result<()> {
    let mut spans = Vec::with_capacity(archive.len());
    for index in 0..archive.len() {
        let Ok(member) = archive.by_index_raw(index) else {
            // Reported when the member is opened.
            continue;
        };
        let start = member.header_start();
        let end = member
            .data_start()
            .unwrap_or(start)
            .saturating_add(member.compressed_size());
        spans.push((start, end, index));
    }
    spans.sort_unstable();
    for pair in spans.windows(2) {
        let ((_, end, first), (start, _, second)) = (pair[0], pair[1]);
        if start < end {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "corrupt zip: members {first} and {second} overlap (one stream under several names, a zip-bomb construction); members not opened"
                ),
            ));
        }
    }
    Ok(())
}

/// The engine's sink for the stream named by `origin`: keeps every match
/// the rule's path allowlist does not exempt, as a hit in `hits`.
fn keep_hits<'s>(
    matcher: &'s Matcher,
    hits: &'s mut Vec<Hit>,
    origin: &'s Origin,
) -> impl FnMut(Match) + 's {
    move |found| {
        if !matcher.path_allowed(found.rule_index, &origin.path) {
            hits.push(Hit {
                origin: origin.clone(),
                found,
                fate: None,
            });
        }
    }
}

fn zip_name<R: Read + Seek>(archive: &zip::ZipArchive<R>, index: usize) -> String {
    match archive.name_for_index(index) {
        Some(Ok(name)) => name.into_owned(),
        _ => format!("<member {index}>"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_magic_bytes() {
        assert_eq!(sniff(b"PK\x03\x04rest"), Kind::Zip);
        assert_eq!(sniff(&[0x1f, 0x8b, 8, 0]), Kind::Gzip);
        assert_eq!(sniff(&[0x28, 0xb5, 0x2f, 0xfd]), Kind::Zstd);
        assert_eq!(sniff(b"hello"), Kind::Plain);
        let mut tar = vec![0u8; 512];
        tar[257..262].copy_from_slice(b"ustar");
        assert_eq!(sniff(&tar), Kind::Tar);
    }

    #[test]
    fn capped_reader_flags_truncation() {
        let mut capped = Capped::new(&b"0123456789"[..], 4);
        let mut out = Vec::new();
        capped.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"0123");
        assert!(capped.truncated);
        let mut exact = Capped::new(&b"0123"[..], 4);
        exact.read_to_end(&mut Vec::new()).unwrap();
        assert!(!exact.truncated);
    }
}
