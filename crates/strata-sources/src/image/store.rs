//! Where blobs come from: an OCI layout directory (`blobs/sha256/<hex>`), a
//! tar file (`docker save` output or an OCI archive, read in place through
//! an index of its members — nothing is unpacked to disk), or a registry.
//! Stores hand out raw, unverified bytes; the caller hashes what it reads
//! and holds it to the size the descriptor gives.
//!
//! Nothing is opened before it is known to be a regular file: opening a
//! FIFO blocks until a writer comes, and a device (`/dev/zero`) never ends.
//! Documents are read to a size limit, checked against the file's or tar
//! header's size before a byte is read.

use std::{
    collections::HashMap,
    fs::File,
    io::{self, Read, Seek, SeekFrom},
    path::{Path, PathBuf},
};

use super::digest::check_digest_syntax;
use crate::tarball::{content_of, EntryContent};

/// Something that can open a blob by digest.
pub trait BlobSource: Send + Sync {
    /// The raw bytes of a blob. Not verified: read it through a `HashingReader`.
    fn open(&self, digest: &str) -> io::Result<Box<dyn Read + Send + '_>>;

    /// The blob's size as the store itself records it (a tar member's
    /// header), for blobs whose descriptor gives none (a legacy `docker
    /// save` manifest has no sizes).
    fn stored_size(&self, _digest: &str) -> Option<u64> {
        None
    }
}

/// Opens `path` for reading only if it is a regular file (following
/// links), so a FIFO or a device is refused instead of blocking or never
/// ending.
pub fn open_regular(path: &Path) -> io::Result<(File, u64)> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a regular file", path.display()),
        ));
    }
    Ok((File::open(path)?, meta.len()))
}

/// Reads a whole reader of `size` bytes (as its file or header says), if
/// that is at most `limit`; never more than `limit` bytes either way.
fn read_document(mut reader: impl Read, size: u64, limit: u64, what: &str) -> io::Result<Vec<u8>> {
    let too_large = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{what} is larger than {limit} bytes; refusing to load it as JSON"),
        )
    };
    if size > limit {
        return Err(too_large());
    }
    let mut out = Vec::with_capacity(size as usize);
    (&mut reader).take(limit + 1).read_to_end(&mut out)?;
    if out.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(out)
}

/// An OCI image layout directory.
pub struct LayoutDir {
    root: PathBuf,
}

impl LayoutDir {
    pub fn new(root: &Path) -> LayoutDir {
        LayoutDir {
            root: root.to_path_buf(),
        }
    }

    /// A small document of the layout (`index.json`), at most `limit` bytes.
    pub fn read_document(&self, name: &str, limit: u64) -> io::Result<Vec<u8>> {
        let (file, size) = open_regular(&self.root.join(name))?;
        read_document(file, size, limit, name)
    }
}

impl BlobSource for LayoutDir {
    fn open(&self, digest: &str) -> io::Result<Box<dyn Read + Send + '_>> {
        let hex = check_digest_syntax(digest)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let path = self.root.join("blobs/sha256").join(hex);
        match open_regular(&path) {
            Ok((file, _)) => Ok(Box::new(io::BufReader::with_capacity(256 << 10, file))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("missing blob {digest} (no {})", path.display()),
            )),
            Err(e) => Err(e),
        }
    }
}

/// A tar file read in place: an index of member name → where its bytes are.
pub struct TarFile {
    path: PathBuf,
    members: HashMap<String, Member>,
    /// Digest → member name, for blobs addressed by digest.
    by_digest: HashMap<String, String>,
}

/// Where a member's bytes lie in the tar file.
#[derive(Debug, Clone, Copy)]
struct Member {
    offset: u64,
    size: u64,
    /// A GNU sparse member's bytes are not in one piece: it cannot be read
    /// in place, and opening it is an error.
    sparse: bool,
}

/// `./a/b` and `a/b` name the same member.
fn normalize_member(name: &str) -> String {
    let mut name = name;
    while let Some(rest) = name.strip_prefix("./") {
        name = rest;
    }
    name.trim_start_matches('/').to_string()
}

impl TarFile {
    /// Reads the tar's headers (seeking over the data) and indexes its members.
    pub fn open(path: &Path) -> io::Result<TarFile> {
        let (file, _) = open_regular(path)?;
        let watch = crate::tarball::Watch::default();
        let mut archive = tar::Archive::new(crate::tarball::Watched::new(file, &watch));
        let mut members = HashMap::new();
        let entries = archive
            .entries_with_seek()
            .map_err(|e| watch.describe(&e))?;
        for entry in entries {
            let entry = entry.map_err(|e| watch.describe(&e))?;
            let sparse = match content_of(entry.header().entry_type()) {
                EntryContent::File => false,
                EntryContent::Sparse => true,
                EntryContent::None | EntryContent::Metadata => continue,
            };
            let name = normalize_member(&String::from_utf8_lossy(&entry.path_bytes()));
            let member = Member {
                offset: entry.raw_file_position(),
                size: entry.size(),
                sparse,
            };
            members.insert(name, member);
        }
        Ok(TarFile {
            path: path.to_path_buf(),
            members,
            by_digest: HashMap::new(),
        })
    }

    pub fn has(&self, name: &str) -> bool {
        self.members.contains_key(&normalize_member(name))
    }

    /// A small member in full (a JSON document), if its header says it is
    /// at most `limit` bytes.
    pub fn read_member(&self, name: &str, limit: u64) -> io::Result<Vec<u8>> {
        let size = self.member(name)?.size;
        read_document(self.open_member(name)?, size, limit, name)
    }

    fn member(&self, name: &str) -> io::Result<Member> {
        let key = normalize_member(name);
        self.members.get(&key).copied().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("missing blob: {key} is not in {}", self.path.display()),
            )
        })
    }

    pub fn open_member(&self, name: &str) -> io::Result<Box<dyn Read + Send + '_>> {
        let member = self.member(name)?;
        if member.sparse {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!(
                    "{} is stored as a GNU sparse file in {}; strata reads archive members in place and cannot read it",
                    normalize_member(name),
                    self.path.display()
                ),
            ));
        }
        let (mut file, _) = open_regular(&self.path)?;
        file.seek(SeekFrom::Start(member.offset))?;
        Ok(Box::new(io::BufReader::with_capacity(
            256 << 10,
            file.take(member.size),
        )))
    }

    /// The member a digest stands for: an alias, else `blobs/sha256/<hex>`.
    fn member_name(&self, digest: &str) -> io::Result<String> {
        if let Some(name) = self.by_digest.get(digest) {
            return Ok(name.clone());
        }
        let hex = check_digest_syntax(digest)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let name = format!("blobs/sha256/{hex}");
        if !self.has(&name) {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("missing blob {digest} in {}", self.path.display()),
            ));
        }
        Ok(name)
    }

    /// Makes `digest` resolve to member `name` (docker-save layers are
    /// addressed by path; their digest is the diff id from the config).
    pub fn alias(&mut self, digest: &str, name: &str) {
        self.by_digest
            .insert(digest.to_string(), normalize_member(name));
    }
}

impl BlobSource for TarFile {
    fn open(&self, digest: &str) -> io::Result<Box<dyn Read + Send + '_>> {
        self.open_member(&self.member_name(digest)?)
    }

    fn stored_size(&self, digest: &str) -> Option<u64> {
        let name = self.member_name(digest).ok()?;
        self.member(&name).ok().map(|m| m.size)
    }
}
