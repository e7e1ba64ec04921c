//! Scanning one layer blob, streamed: blob → SHA-256 check → decoder chosen
//! by magic bytes (gzip, zstd, plain tar) → tar entries → engine. Nothing is
//! unpacked to disk. Reading and decompressing run on their own thread and
//! hand decoded chunks to the scanning thread through a small bounded
//! channel, so the two overlap and memory stays flat whatever the layer size.
//!
//! One layer can be most of an image (an OS base), so its entries are
//! matched in parallel too: the tar walk reads small entries whole and
//! hands them, in batches, to worker threads, and streams large ones
//! through the engine itself. Batches and the queue are bounded, so memory
//! stays flat.
//!
//! After the tar walk the rest of the stream is drained: the tar reader stops
//! at the end-of-archive blocks, and a digest is only meaningful over every
//! byte. A digest or diff-id mismatch is an error of the layer.
//!
//! Every read is bounded: the blob is held to the size its descriptor (or
//! its tar header, in a `docker save`) gives, a compressed layer may expand
//! only so far ([`Limits::max_expansion_ratio`], at least
//! [`Limits::max_decompressed`]), and the archives inside the layer's files
//! share one decompression budget ([`crate::budget`]).

use std::{
    cell::Cell,
    io::{self, Read},
    sync::{
        mpsc::{sync_channel, Receiver, SyncSender},
        Arc, Mutex,
    },
};

use strata_engine::Matcher;

use super::{
    digest::{ExactSize, HashingReader},
    fate::LayerEvents,
    priority::Priority,
    resolve::LayerRef,
    store::BlobSource,
};
use crate::{
    blob::{decompressing, read_head, sniff, BlobScanner, Capped, Kind},
    budget::Budget,
    tarball::{content_of, EntryContent, Watch, Watched},
    Collector, Hit, Limits, Origin, Problem, Skipped,
};

/// Everything learned from one layer, independent of the image it is in.
#[derive(Debug, Default)]
pub struct LayerScan {
    pub events: LayerEvents,
    /// Hits with only `origin.path` set (`/app/.env`).
    pub hits: Vec<Hit>,
    /// Problems, with paths inside the layer (empty path: the layer itself).
    pub problems: Vec<Problem>,
    pub skipped: Vec<Skipped>,
    pub files: u64,
    /// Uncompressed bytes scanned.
    pub bytes: u64,
    /// Bytes of the stored blob read.
    pub blob_bytes: u64,
}

/// The decoder hands the walk chunks of this size ...
const PIPE_CHUNK: usize = 256 << 10;
/// ... at most this many ahead of it: the depth of the channel between them.
pub const PIPE_DEPTH: usize = 8;
/// Entries up to this size are read whole and matched by a worker; larger
/// ones are streamed through the engine on the walking thread.
const WORKER_ENTRY_MAX: u64 = 8 << 20;
/// A batch for the workers is sent once it holds this many bytes.
const BATCH_BYTES: usize = 2 << 20;

/// Files read whole from the tar, for a worker: their contents one after
/// another in `data`, and each file's path and range in it. A worker sends
/// the batch back when done, and the walk refills it: `data` is allocated
/// and zeroed once, not once per file.
#[derive(Default)]
struct Batch {
    /// Initialized bytes; the files' ranges cover a prefix of them.
    data: Vec<u8>,
    files: Vec<(String, std::ops::Range<usize>)>,
}

impl Batch {
    /// Bytes of `data` the files of the batch hold.
    fn used(&self) -> usize {
        self.files.last().map_or(0, |(_, range)| range.end)
    }

    /// Reads the `size` bytes of the file at `path` from `entry`.
    fn read_file(&mut self, path: String, size: usize, entry: &mut impl Read) -> io::Result<()> {
        let start = self.used();
        let end = start + size;
        if self.data.len() < end {
            self.data.resize(end, 0);
        }
        if let Err(e) = entry.read_exact(&mut self.data[start..end]) {
            return Err(io::Error::new(e.kind(), format!("{path}: {e}")));
        }
        self.files.push((path, start..end));
        Ok(())
    }

    fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Empties the batch for reuse, keeping its buffer unless a very large
    /// file made it grow far past a batch's usual size.
    fn recycle(&mut self) {
        self.files.clear();
        if self.data.len() > 2 * BATCH_BYTES {
            self.data = Vec::new();
        }
    }
}

/// A `Read` over chunks sent by the decoding thread (also used by the
/// decode-only benchmark floor, so both read layers the same way).
pub struct ChannelReader {
    rx: Receiver<io::Result<Vec<u8>>>,
    current: Vec<u8>,
    pos: usize,
    done: bool,
}

impl ChannelReader {
    pub fn new(rx: Receiver<io::Result<Vec<u8>>>) -> ChannelReader {
        ChannelReader {
            rx,
            current: Vec::new(),
            pos: 0,
            done: false,
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.current.len() {
            if self.done {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Ok(chunk)) => {
                    self.current = chunk;
                    self.pos = 0;
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => {
                    self.done = true;
                    return Ok(0);
                }
            }
        }
        let n = buf.len().min(self.current.len() - self.pos);
        buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// The decoder for a layer blob, chosen by its magic bytes (gzip, zstd or
/// plain tar), and the kind found. The decode-only benchmark floor uses it
/// too, so both decode layers the same way.
pub fn layer_decoder<'r>(blob: &'r mut dyn Read) -> io::Result<(Kind, Box<dyn Read + 'r>)> {
    let head = read_head(blob)?;
    let kind = sniff(&head);
    let raw = io::Cursor::new(head).chain(blob);
    let decoder: Box<dyn Read + 'r> = match kind {
        Kind::Gzip => Box::new(flate2::read::MultiGzDecoder::new(raw)),
        Kind::Zstd => Box::new(zstd::stream::read::Decoder::new(raw)?),
        Kind::Tar | Kind::Plain => Box::new(raw),
        other => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                "layer is {other:?}-compressed; only gzip, zstd and plain tar layers are supported"
            ),
            ))
        }
    };
    Ok((kind, decoder))
}

/// What reading a layer blob through [`read_layer`] found.
#[derive(Debug, Clone)]
pub struct LayerDigests {
    pub kind: Kind,
    /// `sha256:` of the stored blob (the manifest's layer digest).
    pub blob_digest: String,
    pub blob_bytes: u64,
    /// `sha256:` of the uncompressed tar (the config's diff id).
    pub diff_id: String,
    pub tar_bytes: u64,
}

/// A reader that counts what it reads into a cell the caller can watch.
struct Counted<'c, R> {
    inner: R,
    count: &'c Cell<u64>,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

/// A layer's decoded tar, cut off with an error once it has expanded past
/// `ratio` times the blob bytes read so far and past `floor` bytes: a gzip
/// layer of 208 MB that inflates to 200 GiB is a bomb, not an image.
struct Expansion<'c, R> {
    inner: R,
    blob_read: &'c Cell<u64>,
    decoded: u64,
    ratio: u64,
    floor: u64,
}

impl<R: Read> Read for Expansion<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.decoded += n as u64;
        let allowed = self
            .blob_read
            .get()
            .saturating_mul(self.ratio)
            .max(self.floor);
        if self.decoded > allowed {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "layer expands past {} bytes from {} compressed bytes, more than {}x (possible decompression bomb; see --max-decompressed); not scanned further",
                    self.decoded - n as u64,
                    self.blob_read.get(),
                    self.ratio
                ),
            ));
        }
        Ok(n)
    }
}

/// Reads a layer blob to its end, handing its decoded tar to `each` on the
/// way (the decode-only benchmark floor reads layers with it too). The blob
/// is hashed as it is read; a compressed layer's tar is hashed as well. An
/// uncompressed layer's tar is its blob byte for byte, so it is hashed once,
/// and its diff id is its blob digest. Whatever `each` leaves unread is
/// drained: a digest only means something over every byte. A compressed
/// layer that expands past what `limits` allow is an error.
pub fn read_layer(
    blob: &mut dyn Read,
    limits: &Limits,
    each: &mut dyn FnMut(&mut dyn Read) -> io::Result<()>,
) -> io::Result<LayerDigests> {
    let blob_read = Cell::new(0);
    let mut blob = HashingReader::new(Counted {
        inner: blob,
        count: &blob_read,
    });
    let (kind, decoder) = layer_decoder(&mut blob)?;
    let decoder = Expansion {
        inner: decoder,
        blob_read: &blob_read,
        decoded: 0,
        ratio: limits.max_expansion_ratio,
        floor: limits.max_decompressed,
    };
    let mut decoded = match kind {
        Kind::Gzip | Kind::Zstd => HashingReader::new(decoder),
        _ => HashingReader::counting(decoder),
    };
    each(&mut decoded)?;
    decoded.drain().map_err(decompressing)?;
    let diff_id = decoded.digest();
    let tar_bytes = decoded.bytes_read();
    drop(decoded);
    blob.drain()?;
    let blob_digest = blob.digest().expect("the blob reader hashes");
    Ok(LayerDigests {
        kind,
        diff_id: diff_id.unwrap_or_else(|| blob_digest.clone()),
        blob_digest,
        blob_bytes: blob.bytes_read(),
        tar_bytes,
    })
}

/// The size a layer's blob must have: its descriptor's, or where the
/// descriptor gives none (a legacy `docker save`), the store's own record.
fn expected_size(source: &dyn BlobSource, layer: &LayerRef) -> u64 {
    match layer.size {
        0 => source.stored_size(&layer.digest).unwrap_or(0),
        size => size,
    }
}

/// Reads, verifies and decodes the blob, sending decoded chunks to `tx`
/// (a channel of [`PIPE_DEPTH`], read by a [`ChannelReader`]; the
/// decode-only benchmark floor pipes layers with it too). Errors are sent
/// to `tx` too, and returned.
pub fn decode_to_channel(
    source: &dyn BlobSource,
    layer: &LayerRef,
    limits: &Limits,
    tx: SyncSender<io::Result<Vec<u8>>>,
) -> Result<LayerDigests, String> {
    let expected = expected_size(source, layer);
    let result = source.open(&layer.digest).and_then(|blob| {
        let mut blob = ExactSize::new(blob, expected);
        read_layer(&mut blob, limits, &mut |decoded| {
            loop {
                let mut chunk = Vec::with_capacity(PIPE_CHUNK);
                let n = decoded
                    .take(PIPE_CHUNK as u64)
                    .read_to_end(&mut chunk)
                    .map_err(decompressing)?;
                // At the end, or the scanner stopped early (a corrupt tar):
                // read_layer hashes the rest, so the digest is still checked.
                if n == 0 || tx.send(Ok(chunk)).is_err() {
                    return Ok(());
                }
            }
        })
    });
    result.map_err(|e| {
        let text = e.to_string();
        let _ = tx.send(Err(e));
        text
    })
}

/// Scans one layer with one matching worker per core. Never fails:
/// problems are recorded in the result.
pub fn scan_layer(
    source: &dyn BlobSource,
    layer: &LayerRef,
    matcher: &Matcher,
    limits: &Limits,
    priority: Priority,
) -> LayerScan {
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    scan_layer_with_workers(source, layer, matcher, limits, workers, priority)
}

/// Scans one layer; `workers` threads match small entries (0: the walking
/// thread matches everything itself). The decoder, the walk and the
/// workers each run on a thread made for this layer, so `priority` can be
/// applied to all of them and to nothing else.
pub fn scan_layer_with_workers(
    source: &dyn BlobSource,
    layer: &LayerRef,
    matcher: &Matcher,
    limits: &Limits,
    workers: usize,
    priority: Priority,
) -> LayerScan {
    let collector = Collector::new();
    let (tx, rx) = sync_channel(PIPE_DEPTH);
    let (batch_tx, batch_rx) = sync_channel::<Batch>(workers.max(1));
    let batch_rx = Mutex::new(batch_rx);
    // Batches come back for reuse; the walk takes one if there is one.
    let (spare_tx, spare_rx) = sync_channel::<Batch>(workers + 1);
    // The archives inside the layer's files share one budget.
    let budget = Arc::new(Budget::for_input("", layer.size, limits));
    let (decoded, events) = std::thread::scope(|scope| {
        let producer = scope.spawn(|| {
            priority.apply_to_this_thread();
            decode_to_channel(source, layer, limits, tx)
        });
        let collector = &collector;
        let batch_rx = &batch_rx;
        for _ in 0..workers {
            let spare_tx = spare_tx.clone();
            let budget = budget.clone();
            scope.spawn(move || {
                priority.apply_to_this_thread();
                let mut scanner = BlobScanner::new(matcher, limits, collector);
                scanner.share_budget(budget.clone());
                loop {
                    // The lock is held only while waiting for the next batch.
                    let next = batch_rx.lock().unwrap().recv();
                    let Ok(mut batch) = next else { break };
                    for (path, range) in batch.files.drain(..) {
                        let origin = Origin::path(path);
                        if let Err(e) = scanner.scan_slice(&origin, &batch.data[range], 0) {
                            scanner.report_error(&origin.path, "", &e);
                        }
                    }
                    batch.recycle();
                    // Full or gone: the batch is simply dropped.
                    let _ = spare_tx.try_send(batch);
                }
            });
        }
        drop(spare_tx);
        let walker = scope.spawn(move || {
            priority.apply_to_this_thread();
            let mut events = LayerEvents::default();
            let mut reader = ChannelReader::new(rx);
            let mut scanner = BlobScanner::new(matcher, limits, collector);
            scanner.share_budget(budget.clone());
            let to_workers = (workers > 0).then_some(Workers {
                batches: &batch_tx,
                spare: &spare_rx,
            });
            if let Err(e) = walk_tar(&mut reader, &mut scanner, &mut events, limits, to_workers) {
                collector.problem("", e.to_string());
            }
            // No more batches: the workers finish what is queued and stop.
            drop(batch_tx);
            // Let the decoder finish (it keeps hashing even if we stop reading).
            drop(reader);
            events
        });
        let events = walker.join().expect("layer walking thread panicked");
        let decoded = producer.join().expect("layer decoding thread panicked");
        (decoded, events)
    });
    let (hits, mut problems, skipped) = collector.take();
    match &decoded {
        Err(error) => {
            // The tar walk usually reports the same failure; keep one message.
            problems.retain(|p| !p.path.is_empty());
            problems.push(Problem {
                path: String::new(),
                message: error.clone(),
            });
        }
        Ok(decoded) => problems.extend(digest_problems(layer, decoded)),
    }
    LayerScan {
        events,
        files: collector.files(),
        bytes: collector.bytes(),
        blob_bytes: decoded.as_ref().map_or(0, |d| d.blob_bytes),
        hits,
        problems,
        skipped,
    }
}

/// A blob that does not hash to the manifest's digest, or a tar that does
/// not hash to the config's diff id, is an error of the layer.
pub fn digest_problems(layer: &LayerRef, decoded: &LayerDigests) -> Vec<Problem> {
    let mut problems = Vec::new();
    if decoded.blob_digest != layer.digest {
        problems.push(Problem {
            path: String::new(),
            message: format!(
                "digest mismatch: the manifest says {}, the blob hashes to {}",
                layer.digest, decoded.blob_digest
            ),
        });
    }
    if let Some(diff_id) = &layer.diff_id {
        if *diff_id != decoded.diff_id {
            problems.push(Problem {
                path: String::new(),
                message: format!(
                    "diff id mismatch: the config says {diff_id}, the uncompressed layer hashes to {}",
                    decoded.diff_id
                ),
            });
        }
    }
    problems
}

/// Where the walk sends batches of small files, and gets emptied ones back.
#[derive(Clone, Copy)]
struct Workers<'a> {
    batches: &'a SyncSender<Batch>,
    spare: &'a Receiver<Batch>,
}

impl Workers<'_> {
    /// Sends a full batch and returns an empty one to fill next.
    fn hand_over(&self, batch: &mut Batch) {
        let next = self.spare.try_recv().unwrap_or_default();
        // The workers only stop when the sender is dropped.
        let _ = self.batches.send(std::mem::replace(batch, next));
    }
}

fn walk_tar(
    reader: &mut dyn Read,
    scanner: &mut BlobScanner<'_>,
    events: &mut LayerEvents,
    limits: &Limits,
    workers: Option<Workers<'_>>,
) -> io::Result<()> {
    let mut batch = Batch::default();
    let result = walk_entries(reader, scanner, events, limits, workers, &mut batch);
    if let Some(workers) = workers {
        if !batch.is_empty() {
            workers.hand_over(&mut batch);
        }
    }
    result
}

fn walk_entries(
    reader: &mut dyn Read,
    scanner: &mut BlobScanner<'_>,
    events: &mut LayerEvents,
    limits: &Limits,
    workers: Option<Workers<'_>>,
    batch: &mut Batch,
) -> io::Result<()> {
    let watch = Watch::default();
    let mut archive = tar::Archive::new(Watched::new(reader, &watch));
    let entries = archive.entries().map_err(|e| watch.describe(&e))?;
    for entry in entries {
        let entry = entry.map_err(|e| watch.describe(&e))?;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let content = content_of(entry.header().entry_type());
        if content == EntryContent::Metadata {
            continue;
        }
        if !events.record(&name) {
            continue;
        }
        // Links are recorded (they replace what was at their path) but not
        // followed: a hardlink's content is its target's, scanned already.
        if content == EntryContent::None {
            continue;
        }
        let path = format!("/{}", super::fate::normalize(&name));
        let size = entry.size();
        if content == EntryContent::Sparse {
            // The holes read as zeros: bound them with the layer's budget.
            let stored = entry.header().entry_size().unwrap_or(0);
            if scanner
                .charge_expansion(size.saturating_sub(stored))
                .is_err()
            {
                scanner.collector.skipped(
                    path,
                    "sparse file not expanded: the layer's decompression budget is spent",
                );
                continue;
            }
        }
        if let Some(workers) = workers {
            if size <= WORKER_ENTRY_MAX.min(limits.max_entry_size) {
                let mut entry = entry;
                batch
                    .read_file(path, size as usize, &mut entry)
                    .map_err(|e| watch.describe(&e))?;
                if batch.used() >= BATCH_BYTES {
                    workers.hand_over(batch);
                }
                continue;
            }
        }
        let origin = Origin::path(path);
        let mut capped = Capped::new(entry, limits.max_entry_size);
        let result = scanner.scan_stream(&origin, &mut capped, 0);
        if capped.truncated {
            scanner.collector.skipped(
                origin.path.clone(),
                format!(
                    "larger than {} bytes; scanned only the first part",
                    limits.max_entry_size
                ),
            );
        }
        if let Err(e) = result {
            if watch.failed() {
                // The layer stream itself failed: nothing more can be read.
                let e = watch.describe(&e);
                return Err(io::Error::new(e.kind(), format!("{}: {e}", origin.path)));
            }
            // The entry's own contents (a corrupt nested archive, a spent
            // budget): an error of that file; the walk goes on, as it does
            // for the files the workers scan.
            scanner.report_error(&origin.path, "", &e);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::image::digest::sha256_of;

    fn small_tar() -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        let body = b"TOKEN=not-a-real-one\n".repeat(100);
        let mut header = tar::Header::new_gnu();
        header.set_size(body.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(&mut header, "app/.env", &body[..])
            .unwrap();
        builder.into_inner().unwrap()
    }

    /// Reads `blob` with only the first 100 bytes of its tar taken, and
    /// checks that both digests and both counts still cover every byte.
    fn assert_read_whole(blob: &[u8], tar: &[u8], kind: Kind) {
        let mut reader = blob;
        let read = read_layer(&mut reader, &Limits::default(), &mut |tar| {
            tar.read_exact(&mut [0u8; 100])
        })
        .unwrap();
        assert_eq!(read.kind, kind);
        assert_eq!(read.blob_digest, sha256_of(blob));
        assert_eq!(read.diff_id, sha256_of(tar));
        assert_eq!(
            (read.blob_bytes, read.tar_bytes),
            (blob.len() as u64, tar.len() as u64)
        );
    }

    #[test]
    fn an_uncompressed_layer_is_hashed_once_and_its_diff_id_is_its_digest() {
        let tar = small_tar();
        assert_read_whole(&tar, &tar, Kind::Tar);
    }

    #[test]
    fn a_compressed_layer_has_a_blob_digest_and_a_diff_id() {
        let tar = small_tar();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        assert_read_whole(&gz.finish().unwrap(), &tar, Kind::Gzip);
    }
}
