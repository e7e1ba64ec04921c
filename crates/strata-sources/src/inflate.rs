//! One-shot decoding of small gzip files held in memory, with libdeflate.
//!
//! Images are full of small gzip files: botocore's service models, man
//! pages, `/usr/share/doc/*/changelog.gz`. They arrive whole in a batch, so
//! there is no need to stream them through a window-sized inflater:
//! libdeflate decodes a whole member into a buffer of the right size (the
//! gzip trailer records it) about twice as fast as a streaming zlib, and
//! the decoded bytes go to the engine in place.
//!
//! This is only a fast path. Whenever it does not apply (more than one
//! member, bytes after the member, a size over the cap, a corrupt stream),
//! [`GzipOneShot::decode`] returns `None` and the caller streams the file
//! as before, so the results, errors and limits are exactly the streaming
//! path's.

use std::ptr::NonNull;

use libdeflate_sys::{
    libdeflate_alloc_decompressor, libdeflate_decompressor, libdeflate_free_decompressor,
    libdeflate_gzip_decompress_ex, libdeflate_result_LIBDEFLATE_SUCCESS,
};

/// The smallest gzip file: a 10-byte header, an empty deflate block and an
/// 8-byte trailer.
const GZIP_MIN_LEN: usize = 18;

/// Files decoding to more than this are streamed: the buffer is per thread,
/// and memory must stay flat.
const ONE_SHOT_MAX: usize = 8 << 20;

/// The decoding buffer is kept for the next file up to this size; a larger
/// one is freed after use.
const KEEP_BUFFER: usize = 2 << 20;

/// A libdeflate decompressor and the buffer it decodes into.
pub struct GzipOneShot {
    decompressor: NonNull<libdeflate_decompressor>,
    /// Initialised bytes; a file's output is a prefix of it.
    out: Vec<u8>,
}

// SAFETY: a libdeflate decompressor holds no thread-local state or
// references to other data; it may move to another thread. It is not
// shared: every use takes `&mut self`.
unsafe impl Send for GzipOneShot {}

impl GzipOneShot {
    pub fn new() -> GzipOneShot {
        // SAFETY: no preconditions; the result is checked for null.
        let raw = unsafe { libdeflate_alloc_decompressor() };
        let decompressor = NonNull::new(raw).expect("libdeflate: out of memory");
        GzipOneShot {
            decompressor,
            out: Vec::new(),
        }
    }

    /// Decodes `gz`, a whole gzip file of one member, into the buffer and
    /// returns the decoded bytes; `None` if it is not such a file, decodes
    /// to more than `max_len` bytes (or a few MB), or is corrupt.
    pub fn decode(&mut self, gz: &[u8], max_len: usize) -> Option<&[u8]> {
        if gz.len() < GZIP_MIN_LEN || gz[..2] != [0x1f, 0x8b] {
            return None;
        }
        // ISIZE: the member's decoded length modulo 2^32, last in the file.
        let trailer: [u8; 4] = gz[gz.len() - 4..].try_into().expect("four bytes");
        let claimed = u32::from_le_bytes(trailer) as usize;
        // Deflate cannot expand more than 1032:1; a larger claim is a lie
        // (or trailing bytes), and the streaming path will say what is wrong.
        if claimed > max_len.min(ONE_SHOT_MAX) || claimed > gz.len().saturating_mul(1032) {
            return None;
        }
        if self.out.len() < claimed {
            self.out.resize(claimed, 0);
        }
        let (mut read, mut written) = (0usize, 0usize);
        // SAFETY: the decompressor is live (freed only in Drop); `gz` is
        // valid for reads of `gz.len()` bytes and `self.out` for writes of
        // `claimed <= self.out.len()` bytes, neither aliasing the other or
        // the decompressor; libdeflate writes only inside those bounds and
        // keeps no pointer after returning. `read` and `written` are valid
        // for writes of one usize each.
        let result = unsafe {
            libdeflate_gzip_decompress_ex(
                self.decompressor.as_ptr(),
                gz.as_ptr().cast(),
                gz.len(),
                self.out.as_mut_ptr().cast(),
                claimed,
                &mut read,
                &mut written,
            )
        };
        // Success means the checksum and the length in the trailer matched;
        // bytes left over are another member or junk: stream those files.
        if result != libdeflate_result_LIBDEFLATE_SUCCESS || read != gz.len() || written != claimed
        {
            return None;
        }
        Some(&self.out[..written])
    }

    /// Frees the buffer if one file made it grow past its usual size.
    pub fn trim(&mut self) {
        if self.out.len() > KEEP_BUFFER {
            self.out = Vec::new();
        }
    }
}

impl Default for GzipOneShot {
    fn default() -> Self {
        GzipOneShot::new()
    }
}

impl Drop for GzipOneShot {
    fn drop(&mut self) {
        // SAFETY: the pointer came from libdeflate_alloc_decompressor and is
        // freed once, here.
        unsafe { libdeflate_free_decompressor(self.decompressor.as_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::{write::GzEncoder, Compression};

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn decodes_one_member() {
        let text = b"aws_secret_access_key = not-a-real-one\n".repeat(1000);
        let mut inflater = GzipOneShot::new();
        assert_eq!(inflater.decode(&gzip(&text), 1 << 20), Some(&text[..]));
        // The buffer is reused for a smaller file.
        assert_eq!(
            inflater.decode(&gzip(b"short"), 1 << 20),
            Some(&b"short"[..])
        );
        assert_eq!(inflater.decode(&gzip(b""), 1 << 20), Some(&b""[..]));
    }

    #[test]
    fn leaves_what_it_cannot_decode_whole_to_the_stream() {
        let mut inflater = GzipOneShot::new();
        let one = gzip(b"first member ");
        let mut two = one.clone();
        two.extend_from_slice(&gzip(b"second member"));
        assert_eq!(inflater.decode(&two, 1 << 20), None, "two members");
        let mut trailing = one.clone();
        trailing.extend_from_slice(&[0; 16]);
        assert_eq!(inflater.decode(&trailing, 1 << 20), None, "bytes after");
        assert_eq!(inflater.decode(&one, 4), None, "over the cap");
        let mut corrupt = one.clone();
        corrupt[12] ^= 0xff;
        assert_eq!(inflater.decode(&corrupt, 1 << 20), None, "corrupt");
        let mut lying = one.clone();
        let n = lying.len();
        lying[n - 4..].copy_from_slice(&5u32.to_le_bytes());
        assert_eq!(inflater.decode(&lying, 1 << 20), None, "wrong length");
        assert_eq!(
            inflater.decode(&one[..one.len() - 1], 1 << 20),
            None,
            "truncated"
        );
        assert_eq!(
            inflater.decode(b"not gzip at all, long enough", 1 << 20),
            None
        );
    }
}
