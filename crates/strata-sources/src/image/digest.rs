//! Digest checking. Every blob strata reads passes through a
//! [`HashingReader`]; once the reader is drained its digest is compared with
//! the one the manifest promised. A tar walk stops at the end-of-archive
//! blocks, so callers drain the rest before comparing — or a tampered blob
//! with trailing bytes would pass.

use std::io::{self, Read};

use sha2::{Digest as _, Sha256};

/// A reader that hashes everything read through it with SHA-256 (or, made
/// with [`HashingReader::counting`], only counts it).
pub struct HashingReader<R> {
    inner: R,
    hasher: Option<Sha256>,
    bytes: u64,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R) -> HashingReader<R> {
        HashingReader {
            inner,
            hasher: Some(Sha256::new()),
            bytes: 0,
        }
    }

    /// A reader that counts bytes but does not hash them, for a stream
    /// whose bytes another `HashingReader` already hashes; its
    /// [`digest`](Self::digest) is `None`.
    pub fn counting(inner: R) -> HashingReader<R> {
        HashingReader {
            inner,
            hasher: None,
            bytes: 0,
        }
    }

    /// Reads whatever is left, so the digest covers the whole stream.
    pub fn drain(&mut self) -> io::Result<u64> {
        io::copy(self, &mut io::sink())
    }

    /// Bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes
    }

    /// `sha256:<hex>` of everything read (`None` for a counting reader).
    pub fn digest(&self) -> Option<String> {
        let hasher = self.hasher.clone()?;
        Some(format!("sha256:{}", hex::encode(hasher.finalize())))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(hasher) = &mut self.hasher {
            hasher.update(&buf[..n]);
        }
        self.bytes += n as u64;
        Ok(n)
    }
}

/// Checks that `digest` is a `sha256:` digest of 64 lower-case hex digits
/// (the only algorithm strata verifies; anything else is refused, not trusted).
pub fn check_digest_syntax(digest: &str) -> Result<&str, String> {
    match digest.split_once(':') {
        Some(("sha256", hex))
            if hex.len() == 64
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) =>
        {
            Ok(hex)
        }
        Some((algo, _)) if algo != "sha256" => Err(format!(
            "digest {digest}: algorithm {algo} is not supported (only sha256)"
        )),
        _ => Err(format!("{digest:?} is not a valid sha256 digest")),
    }
}

/// SHA-256 of a byte slice as `sha256:<hex>`.
pub fn sha256_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_what_passes_through() {
        let mut reader = HashingReader::new(&b"hello"[..]);
        let mut first = [0u8; 2];
        reader.read_exact(&mut first).unwrap();
        reader.drain().unwrap();
        assert_eq!(reader.bytes_read(), 5);
        assert_eq!(reader.digest(), Some(sha256_of(b"hello")));
        assert_eq!(
            sha256_of(b"hello"),
            "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
    }

    #[test]
    fn digest_syntax() {
        assert!(check_digest_syntax(&sha256_of(b"x")).is_ok());
        assert!(check_digest_syntax("sha512:abcd")
            .unwrap_err()
            .contains("not supported"));
        assert!(check_digest_syntax("sha256:../../etc/passwd").is_err());
    }
}
