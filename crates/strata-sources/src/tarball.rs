//! Walking tar archives without losing bytes or echoing them.
//!
//! Two things every tar walk in strata (nested archives, image layers,
//! `docker save` members) must get right, kept here so they are got right
//! once:
//!
//! - **Which entries carry data.** `tar`'s `is_file()` is true for type `0`
//!   only, but GNU tar and Python's `tarfile` extract contiguous files
//!   (`7`), GNU sparse files (`S`, whose holes read as zeros) and entries of
//!   unknown types as regular files: their bytes ship, so strata scans them.
//!   Links, directories, devices and FIFOs carry no content of their own.
//! - **Error messages.** The `tar` crate's errors quote header fields: the
//!   entry name, or the raw bytes of a numeric field that failed to parse.
//!   A hostile header can put a credential there, and a report must never
//!   echo input bytes. A walk therefore reads through a [`Watched`] reader:
//!   a failure of the stream underneath (a corrupt gzip, a digest problem)
//!   keeps its own message, which strata or a decoder wrote, and any other
//!   error becomes a fixed description with the byte offset it happened at.

use std::{
    cell::{Cell, RefCell},
    io::{self, Read, Seek},
};

use tar::EntryType;

/// What an entry's type says about its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryContent {
    /// Its bytes are a file's content (types `0`, `7`, unknown types).
    File,
    /// A GNU sparse file: its data blocks, with the holes read as zeros.
    Sparse,
    /// No content of its own: links, directories, devices, FIFOs.
    None,
    /// Headers about other entries (pax, GNU long names), not files.
    Metadata,
}

/// Classifies an entry by its type.
pub fn content_of(kind: EntryType) -> EntryContent {
    match kind {
        EntryType::Regular | EntryType::Continuous => EntryContent::File,
        EntryType::GNUSparse => EntryContent::Sparse,
        EntryType::Link
        | EntryType::Symlink
        | EntryType::Char
        | EntryType::Block
        | EntryType::Directory
        | EntryType::Fifo => EntryContent::None,
        EntryType::XGlobalHeader
        | EntryType::XHeader
        | EntryType::GNULongName
        | EntryType::GNULongLink => EntryContent::Metadata,
        // GNU tar extracts entries of types it does not know as regular
        // files, and so does Python: scan what they carry.
        _ => EntryContent::File,
    }
}

/// What a [`Watched`] reader saw: bytes read, and the stream's own failure.
#[derive(Debug, Default)]
pub struct Watch {
    bytes: Cell<u64>,
    failure: RefCell<Option<(io::ErrorKind, String)>>,
}

impl Watch {
    /// True once the stream underneath failed: the archive cannot be read
    /// further (an error in one member's own contents leaves it readable).
    pub fn failed(&self) -> bool {
        self.failure.borrow().is_some()
    }

    /// Bytes read through the watched reader so far.
    pub fn offset(&self) -> u64 {
        self.bytes.get()
    }

    /// The error a tar walk met, as strata reports it: the underlying
    /// stream's failure as it was, else a fixed description of what went
    /// wrong in the archive's structure, never the `tar` crate's text.
    pub fn describe(&self, error: &io::Error) -> io::Error {
        if let Some((kind, message)) = self.failure.borrow().as_ref() {
            return io::Error::new(*kind, message.clone());
        }
        let what = match error.kind() {
            io::ErrorKind::UnexpectedEof => "the archive ends inside an entry",
            _ => "malformed entry header or entry data",
        };
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("corrupt tar: {what} (at or before byte {})", self.offset()),
        )
    }
}

/// A reader that counts what it reads and keeps its inner reader's error.
pub struct Watched<'w, R> {
    inner: R,
    watch: &'w Watch,
}

impl<'w, R: Read> Watched<'w, R> {
    pub fn new(inner: R, watch: &'w Watch) -> Watched<'w, R> {
        Watched { inner, watch }
    }
}

impl<R: Read> Read for Watched<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.watch.bytes.set(self.watch.bytes.get() + n as u64);
                Ok(n)
            }
            Err(e) => {
                self.watch
                    .failure
                    .borrow_mut()
                    .get_or_insert_with(|| (e.kind(), e.to_string()));
                Err(e)
            }
        }
    }
}

/// Seeking over entry data (an index of a `docker save` tar) keeps the
/// offset right.
impl<R: Seek> Seek for Watched<'_, R> {
    fn seek(&mut self, to: io::SeekFrom) -> io::Result<u64> {
        let at = self.inner.seek(to)?;
        self.watch.bytes.set(at);
        Ok(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tar whose first header has a size field of letters after the name.
    fn tar_with_bad_size(name: &str) -> Vec<u8> {
        let mut block = vec![0u8; 1024];
        block[..name.len()].copy_from_slice(name.as_bytes());
        block[100..107].copy_from_slice(b"0000644");
        block[124..135].copy_from_slice(b"AKIAZZZZZZZ");
        block[257..263].copy_from_slice(b"ustar\0");
        block
    }

    #[test]
    fn structure_errors_never_quote_the_header() {
        let name = "AKIAIOSFODNN7SECRETNAME";
        let data = tar_with_bad_size(name);
        let watch = Watch::default();
        let mut archive = tar::Archive::new(Watched::new(&data[..], &watch));
        let error = archive
            .entries()
            .unwrap()
            .find_map(|e| e.err())
            .expect("a corrupt header");
        assert!(
            error.to_string().contains("AKIA"),
            "the tar crate quotes it"
        );
        let described = watch.describe(&error).to_string();
        assert!(!described.contains("AKIA"), "{described}");
        assert!(described.starts_with("corrupt tar:"), "{described}");
    }

    #[test]
    fn a_failing_stream_keeps_its_own_message() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("decompressing: corrupt deflate stream"))
            }
        }
        let watch = Watch::default();
        let mut archive = tar::Archive::new(Watched::new(Broken, &watch));
        let error = archive.entries().unwrap().find_map(|e| e.err()).unwrap();
        assert_eq!(
            watch.describe(&error).to_string(),
            "decompressing: corrupt deflate stream"
        );
    }

    #[test]
    fn entry_types_that_ship_bytes_are_scanned() {
        assert_eq!(content_of(EntryType::Regular), EntryContent::File);
        assert_eq!(content_of(EntryType::Continuous), EntryContent::File);
        assert_eq!(content_of(EntryType::GNUSparse), EntryContent::Sparse);
        assert_eq!(content_of(EntryType::new(b'Z')), EntryContent::File);
        assert_eq!(content_of(EntryType::Symlink), EntryContent::None);
        assert_eq!(content_of(EntryType::XHeader), EntryContent::Metadata);
    }
}
