//! Scanning one stream of bytes, looking inside archives.
//!
//! The first bytes decide what a stream is: a zip-family archive (jar, war,
//! whl, apk, nupkg, … are all zips), a tar, or a gzip/zstd/bzip2 stream
//! (decoded, then sniffed again). Archive members are scanned as blobs of
//! their own, named `outer.zip!inner/path`, to [`Limits::max_archive_depth`].
//! Everything else goes to the engine as it is — binaries too, since secrets
//! get compiled in. Decompressed sizes are capped: a bomb is cut off and the
//! member listed as truncated.

use std::io::{self, Cursor, Read, Seek};

use strata_engine::{Match, Matcher, Scratch};

use crate::{inflate::GzipOneShot, Collector, Hit, Limits, Origin};

/// What a stream's first bytes say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Zip,
    Tar,
    Gzip,
    Zstd,
    Bzip2,
    Plain,
}

/// Bytes needed to recognise every [`Kind`] (the tar magic sits at 257).
pub const SNIFF_LEN: usize = 512;

/// Recognises a stream by its magic bytes.
pub fn sniff(head: &[u8]) -> Kind {
    match head {
        [b'P', b'K', 3, 4, ..] | [b'P', b'K', 5, 6, ..] => Kind::Zip,
        [0x1f, 0x8b, ..] => Kind::Gzip,
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Kind::Zstd,
        [b'B', b'Z', b'h', b'1'..=b'9', ..] => Kind::Bzip2,
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
        }
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
        let nested_ok = depth < self.limits.max_archive_depth;
        match kind {
            Kind::Zip if nested_ok => self.scan_zip_stream(origin, &mut stream, depth),
            Kind::Tar if nested_ok => self.scan_tar(origin, &mut stream, depth),
            Kind::Gzip | Kind::Zstd | Kind::Bzip2 if nested_ok => {
                self.scan_compressed(origin, kind, &mut stream, depth)
            }
            _ => self.scan_plain(origin, &mut stream),
        }
    }

    /// Scans bytes already in memory, opening archives inside them, as
    /// [`BlobScanner::scan_stream`] does for a stream. Plain bytes go to
    /// the engine in place (no copy into a chunk buffer), and a zip is
    /// opened where it lies instead of being buffered again.
    pub fn scan_slice(&mut self, origin: &Origin, data: &[u8], depth: usize) -> io::Result<()> {
        let kind = sniff(&data[..data.len().min(SNIFF_LEN)]);
        let nested_ok = depth < self.limits.max_archive_depth;
        match kind {
            Kind::Zip if nested_ok => {
                self.scan_zip_in_memory(origin, data, depth);
                Ok(())
            }
            Kind::Tar if nested_ok => self.scan_tar(origin, &mut &data[..], depth),
            Kind::Gzip if nested_ok => self.scan_gzip_slice(origin, data, depth),
            Kind::Zstd | Kind::Bzip2 if nested_ok => {
                self.scan_compressed(origin, kind, &mut &data[..], depth)
            }
            _ => {
                self.scan_plain_slice(origin, data);
                Ok(())
            }
        }
    }

    /// A gzip file in memory is decoded whole and its contents scanned in
    /// place when it can be (see [`crate::inflate`]), else streamed.
    fn scan_gzip_slice(&mut self, origin: &Origin, data: &[u8], depth: usize) -> io::Result<()> {
        let max_len = usize::try_from(self.limits.max_entry_size).unwrap_or(usize::MAX);
        let mut gzip = self.gzip.take().unwrap_or_default();
        // A compressed stream adds no path level, as when streamed.
        let result = gzip
            .decode(data, max_len)
            .map(|decoded| self.scan_slice(origin, decoded, depth + 1));
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
            Kind::Bzip2 => return self.scan_plain(origin, reader),
            _ => unreachable!("not a compressed kind"),
        };
        let mut capped = Capped::new(decoder, self.limits.max_entry_size);
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
        let mut archive = tar::Archive::new(reader);
        for entry in archive.entries()? {
            let entry = entry.map_err(|e| {
                io::Error::new(io::ErrorKind::InvalidData, format!("corrupt tar: {e}"))
            })?;
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let member = origin.with_path(format!("{}!{}", origin.path, name));
            self.scan_member(&member, entry, depth)?;
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
            self.collector.problem(member.path.clone(), e.to_string());
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
            self.collector.problem(origin.path.clone(), e.to_string());
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
        let mut archive = zip::ZipArchive::new(reader)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("corrupt zip: {e}")))?;
        for index in 0..archive.len() {
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
                        format!("corrupt zip member: {e}"),
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
            self.scan_member(&member, entry, depth)?;
        }
        Ok(())
    }
}

/// An error met while reading a decompressed stream, said to be one.
pub(crate) fn decompressing(e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("decompressing: {e}"))
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
