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

/// A blob read to exactly the size its descriptor gives: more bytes, or
/// fewer, are an error. Without it a registry sending an endless body, or
/// a layout whose blob is a link to `/dev/zero`, is read forever (a digest
/// is only checked at the end of the stream, which never comes).
pub struct ExactSize<R> {
    inner: R,
    expected: u64,
    read: u64,
}

impl<R: Read> ExactSize<R> {
    pub fn new(inner: R, expected: u64) -> ExactSize<R> {
        ExactSize {
            inner,
            expected,
            read: 0,
        }
    }
}

impl<R: Read> Read for ExactSize<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.read == self.expected {
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "blob is longer than the {} bytes its descriptor gives",
                        self.expected
                    ),
                )),
            };
        }
        let want = buf
            .len()
            .min((self.expected - self.read).min(usize::MAX as u64) as usize);
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "blob is truncated: it ends after {} of the {} bytes its descriptor gives",
                    self.read, self.expected
                ),
            ));
        }
        self.read += n as u64;
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
    fn exact_size_refuses_longer_and_shorter_blobs() {
        let read = |data: &[u8], expected| {
            let mut out = Vec::new();
            ExactSize::new(data, expected)
                .read_to_end(&mut out)
                .map(|_| out)
        };
        assert_eq!(read(b"abcd", 4).unwrap(), b"abcd");
        let longer = read(b"abcde", 4).unwrap_err();
        assert!(
            longer.to_string().contains("longer than the 4 bytes"),
            "{longer}"
        );
        let shorter = read(b"abc", 4).unwrap_err();
        assert_eq!(shorter.kind(), io::ErrorKind::UnexpectedEof);
        let mut endless = ExactSize::new(io::repeat(0), 1 << 20);
        assert!(io::copy(&mut endless, &mut io::sink()).is_err());
    }

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
