//! The decode-only floor for `benches/image/run.sh`: how fast `strata image`
//! could go if matching cost nothing.
//!
//! It takes the same image arguments as `strata image` (`oci:DIR[:TAG]`,
//! `docker-archive:PATH[:TAG]`, a registry reference such as
//! `127.0.0.1:5000/repo:tag`), resolves them with the same library code
//! (`strata_sources::image::resolve`, the same `RegistryClient` for
//! registries), and then does to every distinct layer what
//! `image::layer::scan_layer` does, minus the engine:
//!
//! - open the blob from the same `BlobSource` and hash it with SHA-256
//!   (`HashingReader`);
//! - pick the decoder by magic bytes with the scanner's own
//!   `layer::layer_decoder`: flate2 `MultiGzDecoder`, zstd, or none for a
//!   plain tar;
//! - hash the decoded stream too (the diff id strata checks), unless the
//!   layer is an uncompressed tar: that is its blob, hashed once;
//!   `layer::read_layer` does both, for strata and for this floor;
//! - by default, decode on a thread of its own that hands 256 KiB chunks
//!   through a bounded channel of depth 8 to the walking thread, with
//!   strata's own `layer::decode_to_channel` and `ChannelReader`
//!   (`--inline` decodes and walks on one thread instead);
//! - walk the tar with the `tar` crate and read every regular entry's bytes
//!   in 1 MiB reads (the engine's chunk size) into a sink;
//! - drain the rest of both streams and compare both digests with the
//!   manifest's and the config's (`layer::digest_problems`, strata's check).
//!
//! Distinct layers run in parallel on a rayon pool of `-j N` threads
//! (default 2, what the benchmark gives strata). Nested archives inside
//! layers (`.gz`, `.zip`, `.jar`, ... entries) are not opened: strata does
//! open them, so the floor only counts them (`nested_*` in the output) to
//! show how much extra decompression strata does on the same image.
//!
//! `--bound` adds to the floor the work no scanner built like strata can
//! skip, and nothing else: every nested gzip entry is inflated (libdeflate
//! in one call, as strata does for small files; flate2 streaming for the
//! rest) and every scanned byte, a layer's file or a nested file's decoded
//! contents, goes through the engine's keyword pass (`Matcher::
//! count_keyword_hits`, the embedded rules). No regex runs, nothing is
//! reported. Its time is a lower bound on strata's with the default
//! `--max-archive-depth`, so `bound ÷ floor` says how close to the floor
//! any matching could get on this image.
//!
//! ```text
//! cargo run --release -p strata-sources --example decode_floor -- [-j N] [--inline] [--bound] [--json] IMAGE...
//! ```
//!
//! Prints layers, compressed and uncompressed bytes, seconds and MB/s
//! (10^6 bytes of uncompressed layer tar per second), or one JSON object
//! with `--json`. Exits 1 if an image fails to resolve or a layer fails to
//! read or verify.

use std::{
    collections::HashSet,
    io::{self, Read},
    sync::{mpsc::sync_channel, Arc},
    time::Instant,
};

use rayon::prelude::*;
use strata_engine::Matcher;
use strata_sources::{
    blob::{sniff, Kind},
    image::{
        credentials::CredentialStore,
        layer::{
            decode_to_channel, digest_problems, read_layer, ChannelReader, LayerDigests, PIPE_DEPTH,
        },
        platform::Platform,
        registry::{RegistryClient, RegistryOptions},
        resolve,
        resolve::{LayerRef, ResolvedImage},
        store::BlobSource,
        ImageOptions,
    },
    inflate::GzipOneShot,
    Limits,
};

#[derive(Default, Debug, Clone)]
struct LayerStats {
    digest: String,
    kind: String,
    blob_bytes: u64,
    /// Bytes of the decoded tar stream (headers and padding included).
    tar_bytes: u64,
    /// Bytes of regular entries' contents.
    entry_bytes: u64,
    files: u64,
    /// Regular entries whose first bytes are gzip/zstd/bzip2/zip/tar (strata opens these).
    nested_files: u64,
    nested_bytes: u64,
    /// With `--bound`: bytes of nested gzip files after inflating them.
    inflated_bytes: u64,
    /// With `--bound`: keyword occurrences found (kept so the pass is not
    /// optimised away).
    keyword_hits: u64,
    seconds: f64,
    error: Option<String>,
}

/// Opens a blob and reads it with strata's own `layer::read_layer`: the
/// blob hashed, a compressed layer's tar hashed too (an uncompressed one is
/// its blob, hashed once), `each` given the decoded stream, both drained.
fn decode_with(
    source: &dyn BlobSource,
    digest: &str,
    each: &mut dyn FnMut(&mut dyn Read) -> io::Result<()>,
) -> io::Result<LayerDigests> {
    let mut raw = source.open(digest)?;
    read_layer(&mut raw, &strata_sources::Limits::default(), each)
}

/// The work `--bound` adds on top of the floor.
struct Bound<'m> {
    matcher: &'m Matcher,
    gzip: GzipOneShot,
    /// A nested gzip file's compressed bytes, gathered whole.
    whole: Vec<u8>,
}

/// The engine's keyword pass over `bytes`, its hits counted.
fn keyword_pass(matcher: &Matcher, bytes: &[u8], stats: &mut LayerStats) {
    stats.keyword_hits += matcher.count_keyword_hits(bytes) as u64;
}

impl Bound<'_> {
    /// Inflates the gzip file gathered in `whole` and runs the keyword
    /// pass over its contents.
    fn nested_gzip(&mut self, stats: &mut LayerStats, buf: &mut [u8]) -> io::Result<()> {
        if let Some(decoded) = self.gzip.decode(&self.whole, usize::MAX) {
            stats.inflated_bytes += decoded.len() as u64;
            keyword_pass(self.matcher, decoded, stats);
        } else {
            let mut stream = flate2::read::MultiGzDecoder::new(&self.whole[..]);
            loop {
                let n = stream.read(buf)?;
                if n == 0 {
                    break;
                }
                stats.inflated_bytes += n as u64;
                keyword_pass(self.matcher, &buf[..n], stats);
            }
        }
        self.gzip.trim();
        self.whole.clear();
        Ok(())
    }
}

/// Walks a tar and reads every regular entry to a sink, 1 MiB at a time;
/// with a `bound`, matches each entry's bytes instead (see the module doc).
fn walk_tar(
    reader: &mut dyn Read,
    stats: &mut LayerStats,
    buf: &mut [u8],
    mut bound: Option<&mut Bound>,
) -> io::Result<()> {
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries()? {
        let mut entry = entry?;
        // Same bookkeeping strata does per entry: the path as a string.
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        std::hint::black_box(&name);
        if !entry.header().entry_type().is_file() {
            continue;
        }
        stats.files += 1;
        let mut first = true;
        let mut size = 0u64;
        let mut kind = Kind::Plain;
        loop {
            let n = entry.read(buf)?;
            if n == 0 {
                break;
            }
            if first {
                kind = sniff(&buf[..n]);
                first = false;
            }
            match bound.as_deref_mut() {
                Some(bound) if kind == Kind::Gzip => bound.whole.extend_from_slice(&buf[..n]),
                Some(bound) => keyword_pass(bound.matcher, &buf[..n], stats),
                None => {
                    std::hint::black_box(&buf[..n]);
                }
            }
            size += n as u64;
        }
        stats.entry_bytes += size;
        if kind != Kind::Plain {
            stats.nested_files += 1;
            stats.nested_bytes += size;
        }
        if let (Some(bound), Kind::Gzip) = (bound.as_deref_mut(), kind) {
            bound.nested_gzip(stats, buf)?;
        }
    }
    Ok(())
}

fn floor_layer(
    source: &dyn BlobSource,
    layer: &LayerRef,
    inline: bool,
    matcher: Option<&Matcher>,
) -> LayerStats {
    let started = Instant::now();
    let mut stats = LayerStats {
        digest: layer.digest.clone(),
        ..LayerStats::default()
    };
    let mut bound = matcher.map(|matcher| Bound {
        matcher,
        gzip: GzipOneShot::new(),
        whole: Vec::new(),
    });
    let result = if inline {
        let mut buf = vec![0u8; strata_engine::DEFAULT_CHUNK_SIZE];
        decode_with(source, &layer.digest, &mut |r| {
            walk_tar(r, &mut stats, &mut buf, bound.as_mut())
        })
    } else {
        let (tx, rx) = sync_channel(PIPE_DEPTH);
        std::thread::scope(|scope| {
            let limits = strata_sources::Limits::default();
            let producer = scope.spawn(move || decode_to_channel(source, layer, &limits, tx));
            let mut reader = ChannelReader::new(rx);
            let mut buf = vec![0u8; strata_engine::DEFAULT_CHUNK_SIZE];
            let walked = walk_tar(&mut reader, &mut stats, &mut buf, bound.as_mut());
            drop(reader);
            let decoded = producer.join().expect("decoding thread panicked");
            match (decoded, walked) {
                (Err(e), _) => Err(io::Error::other(e)),
                (Ok(_), Err(e)) => Err(e),
                (Ok(d), Ok(())) => Ok(d),
            }
        })
    };
    match result {
        Ok(decoded) => {
            stats.kind = format!("{:?}", decoded.kind).to_lowercase();
            stats.blob_bytes = decoded.blob_bytes;
            stats.tar_bytes = decoded.tar_bytes;
            // strata's own checks; the first failure is the layer's error.
            stats.error = digest_problems(layer, &decoded)
                .into_iter()
                .next()
                .map(|problem| problem.message);
        }
        Err(e) => stats.error = Some(e.to_string()),
    }
    stats.seconds = started.elapsed().as_secs_f64();
    stats
}

fn usage() -> ! {
    eprintln!("usage: decode_floor [-j N] [--inline] [--bound] [--json] IMAGE...");
    std::process::exit(2);
}

fn main() {
    let mut jobs = 2usize;
    let mut inline = false;
    let mut bound = false;
    let mut json = false;
    let mut images = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-j" | "--jobs" => {
                jobs = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_else(|| usage())
            }
            "--inline" => inline = true,
            "--bound" => bound = true,
            "--json" => json = true,
            "-h" | "--help" => usage(),
            _ => images.push(arg),
        }
    }
    if images.is_empty() {
        usage();
    }
    let started = Instant::now();
    // Built before the clock's layer work starts, as strata builds its
    // matcher before scanning.
    let matcher = bound.then(|| {
        let rules = strata_rules::Ruleset::embedded().expect("the embedded rules load");
        Matcher::new(&rules, Default::default()).expect("the embedded rules compile")
    });

    // As in strata-cli: a registry client always exists; local forms never use it.
    let client = CredentialStore::load(None)
        .and_then(|store| RegistryClient::new(RegistryOptions::default(), store))
        .unwrap_or_else(|e| {
            eprintln!("decode_floor: registry client: {e}");
            std::process::exit(1);
        });
    let options = ImageOptions {
        platform: Platform::host(),
        limits: Limits::default(),
        registry: Some(&client),
        jobs,
        reveal_secrets: false,
    };
    let mut resolved: Vec<ResolvedImage> = Vec::new();
    for image in &images {
        match resolve(image, &options) {
            Ok(r) => resolved.push(r),
            Err(e) => {
                eprintln!("decode_floor: {image}: {e}");
                std::process::exit(1);
            }
        }
    }
    let resolve_seconds = started.elapsed().as_secs_f64();
    let mut seen = HashSet::new();
    let mut distinct: Vec<(Arc<dyn BlobSource>, LayerRef)> = Vec::new();
    let mut total_layers = 0;
    for image in &resolved {
        for layer in &image.layers {
            total_layers += 1;
            if seen.insert(layer.digest.clone()) {
                distinct.push((image.source.clone(), layer.clone()));
            }
        }
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .expect("building the thread pool");
    let layers: Vec<LayerStats> = pool.install(|| {
        distinct
            .par_iter()
            .map(|(source, layer)| floor_layer(source.as_ref(), layer, inline, matcher.as_ref()))
            .collect()
    });
    let seconds = started.elapsed().as_secs_f64();

    let sum = |f: fn(&LayerStats) -> u64| layers.iter().map(f).sum::<u64>();
    let (blob, tar_bytes, entry, files) = (
        sum(|l| l.blob_bytes),
        sum(|l| l.tar_bytes),
        sum(|l| l.entry_bytes),
        sum(|l| l.files),
    );
    let (nested_files, nested_bytes) = (sum(|l| l.nested_files), sum(|l| l.nested_bytes));
    let (inflated_bytes, keyword_hits) = (sum(|l| l.inflated_bytes), sum(|l| l.keyword_hits));
    let mbps = tar_bytes as f64 / 1e6 / seconds;
    let errors: Vec<String> = layers
        .iter()
        .filter_map(|l| l.error.as_ref().map(|e| format!("{}: {e}", l.digest)))
        .collect();
    if json {
        let per_layer: Vec<serde_json::Value> = layers
            .iter()
            .map(|l| {
                serde_json::json!({
                    "digest": l.digest, "kind": l.kind, "blob_bytes": l.blob_bytes,
                    "tar_bytes": l.tar_bytes, "entry_bytes": l.entry_bytes, "files": l.files,
                    "nested_files": l.nested_files, "nested_bytes": l.nested_bytes,
                    "seconds": l.seconds, "error": l.error,
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({
                "images": images, "layers": total_layers, "layers_distinct": distinct.len(),
                "blob_bytes": blob, "tar_bytes": tar_bytes, "entry_bytes": entry, "files": files,
                "nested_files": nested_files, "nested_bytes": nested_bytes,
                "resolve_seconds": resolve_seconds, "seconds": seconds, "mb_per_second": mbps,
                "inflated_bytes": inflated_bytes, "keyword_hits": keyword_hits, "bound": bound,
                "jobs": jobs, "pipelined": !inline, "per_layer": per_layer, "errors": errors,
            })
        );
    } else {
        for l in &layers {
            println!(
                "layer {} {:<5} blob {:>8.1} MB  tar {:>8.1} MB  {:>6} files  {:>6.2}s  {:>7.1} MB/s{}",
                &l.digest[..l.digest.len().min(19)],
                l.kind,
                l.blob_bytes as f64 / 1e6,
                l.tar_bytes as f64 / 1e6,
                l.files,
                l.seconds,
                l.tar_bytes as f64 / 1e6 / l.seconds,
                l.error.as_ref().map(|e| format!("  ERROR {e}")).unwrap_or_default(),
            );
        }
        println!(
            "layers {total_layers} ({} distinct), blobs {:.1} MB, uncompressed {:.1} MB \
             ({:.1} MB in {files} regular files; {nested_files} nested archives, {:.1} MB), \
             {jobs} threads, {}",
            distinct.len(),
            blob as f64 / 1e6,
            tar_bytes as f64 / 1e6,
            entry as f64 / 1e6,
            nested_bytes as f64 / 1e6,
            if inline { "inline" } else { "pipelined" },
        );
        if bound {
            println!(
                "bound: {:.1} MB of nested gzip inflated, {keyword_hits} keyword hits",
                inflated_bytes as f64 / 1e6
            );
        }
        println!("seconds {seconds:.3} (resolve {resolve_seconds:.3}), {mbps:.1} MB/s");
    }
    if !errors.is_empty() {
        for e in &errors {
            eprintln!("decode_floor: {e}");
        }
        std::process::exit(1);
    }
}
