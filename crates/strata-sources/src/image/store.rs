//! Where blobs come from: an OCI layout directory (`blobs/sha256/<hex>`), a
//! tar file (`docker save` output or an OCI archive, read in place through
//! an index of its members — nothing is unpacked to disk), or a registry.
//! Stores hand out raw, unverified bytes; the caller hashes what it reads.

use std::{
    collections::HashMap,
    fs::File,
    io::{self, Read, Seek, SeekFrom},
    path::{Path, PathBuf},
};

use super::digest::check_digest_syntax;

/// Something that can open a blob by digest.
pub trait BlobSource: Send + Sync {
    /// The raw bytes of a blob. Not verified: read it through a `HashingReader`.
    fn open(&self, digest: &str) -> io::Result<Box<dyn Read + Send + '_>>;
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

    pub fn read_file(&self, name: &str) -> io::Result<Vec<u8>> {
        std::fs::read(self.root.join(name))
    }
}

impl BlobSource for LayoutDir {
    fn open(&self, digest: &str) -> io::Result<Box<dyn Read + Send + '_>> {
        let hex = check_digest_syntax(digest)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let path = self.root.join("blobs/sha256").join(hex);
        match File::open(&path) {
            Ok(file) => Ok(Box::new(io::BufReader::with_capacity(256 << 10, file))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("missing blob {digest} (no {})", path.display()),
            )),
            Err(e) => Err(e),
        }
    }
}

/// A tar file read in place: an index of member name → (offset, size).
pub struct TarFile {
    path: PathBuf,
    members: HashMap<String, (u64, u64)>,
    /// Digest → member name, for blobs addressed by digest.
    by_digest: HashMap<String, String>,
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
        let file = File::open(path)?;
        let mut archive = tar::Archive::new(file);
        let mut members = HashMap::new();
        for entry in archive.entries_with_seek()? {
            let entry = entry.map_err(|e| {
                io::Error::new(io::ErrorKind::InvalidData, format!("corrupt tar: {e}"))
            })?;
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let name = normalize_member(&String::from_utf8_lossy(&entry.path_bytes()));
            members.insert(name, (entry.raw_file_position(), entry.size()));
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

    /// A member's bytes, in full (for small JSON documents).
    pub fn read_member(&self, name: &str) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        self.open_member(name)?.read_to_end(&mut out)?;
        Ok(out)
    }

    pub fn open_member(&self, name: &str) -> io::Result<Box<dyn Read + Send + '_>> {
        let key = normalize_member(name);
        let &(offset, size) = self.members.get(&key).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("missing blob: {key} is not in {}", self.path.display()),
            )
        })?;
        let mut file = File::open(&self.path)?;
        file.seek(SeekFrom::Start(offset))?;
        Ok(Box::new(io::BufReader::with_capacity(
            256 << 10,
            file.take(size),
        )))
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
        if let Some(name) = self.by_digest.get(digest) {
            return self.open_member(name);
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
        self.open_member(&name)
    }
}
