//! From an image location to a resolved image: the manifest chosen for the
//! platform, its config, and each layer's digest and diff id. Local layouts
//! are resolved here; registries in `registry`.

use std::{io::Read, path::Path, sync::Arc};

use super::{
    digest::{check_digest_syntax, sha256_of},
    platform::{choose, Platform},
    spec::{DockerSaveEntry, ImageConfig, ManifestOrIndex},
    store::{BlobSource, LayoutDir, TarFile},
};

/// A layer of a resolved image.
#[derive(Debug, Clone)]
pub struct LayerRef {
    /// Digest of the blob as stored; the dedupe key.
    pub digest: String,
    /// Digest of the uncompressed tar, from the config.
    pub diff_id: Option<String>,
    /// Size of the stored blob, if the manifest says.
    pub size: u64,
}

/// An image ready to scan.
#[derive(Clone)]
pub struct ResolvedImage {
    /// The reference as the user wrote it.
    pub reference: String,
    pub manifest_digest: Option<String>,
    pub layers: Vec<LayerRef>,
    pub config: ImageConfig,
    pub source: Arc<dyn BlobSource>,
}

/// Reads a whole blob, checks its digest, and returns it.
pub fn read_verified(source: &dyn BlobSource, digest: &str, limit: u64) -> Result<Vec<u8>, String> {
    check_digest_syntax(digest)?;
    let mut bytes = Vec::new();
    source
        .open(digest)
        .and_then(|r| Deadline::new(r.take(limit + 1), DOCUMENT_DEADLINE).read_to_end(&mut bytes))
        .map_err(|e| format!("reading blob {digest}: {e}"))?;
    if bytes.len() as u64 > limit {
        return Err(format!(
            "blob {digest} is larger than {limit} bytes; refusing to load it as JSON"
        ));
    }
    let actual = sha256_of(&bytes);
    if actual != digest {
        return Err(format!(
            "digest mismatch for blob {digest}: content hashes to {actual}"
        ));
    }
    Ok(bytes)
}

/// Documents (index, manifest, config) larger than this are refused.
pub const MAX_DOCUMENT: u64 = 16 << 20;

/// A document (an image config) must be read within this time. A registry
/// body must keep a minimum pace (see `http`), so each read returns within
/// one pace window and the deadline is checked at least that often; without
/// it a server sending a 16 MiB config at exactly the minimum pace would
/// hold the scan for hours.
const DOCUMENT_DEADLINE: std::time::Duration = std::time::Duration::from_secs(120);

/// A reader that fails once `limit` has passed since it was made.
struct Deadline<R> {
    inner: R,
    ends: std::time::Instant,
    limit: std::time::Duration,
}

impl<R: Read> Deadline<R> {
    fn new(inner: R, limit: std::time::Duration) -> Deadline<R> {
        Deadline {
            inner,
            ends: std::time::Instant::now() + limit,
            limit,
        }
    }
}

impl<R: Read> Read for Deadline<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if std::time::Instant::now() > self.ends {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("not read within {} s", self.limit.as_secs()),
            ));
        }
        self.inner.read(buf)
    }
}

/// Follows a manifest-or-index descriptor down to one image, by platform.
pub fn resolve_from_descriptor(
    reference: &str,
    source: Arc<dyn BlobSource>,
    mut digest: String,
    platform: &Platform,
) -> Result<ResolvedImage, String> {
    for _ in 0..4 {
        let bytes = read_verified(source.as_ref(), &digest, MAX_DOCUMENT)?;
        match ManifestOrIndex::parse(&bytes).map_err(|e| format!("{digest}: {e}"))? {
            ManifestOrIndex::Index(index) => {
                digest = choose(&index.manifests, platform)?.digest.clone();
            }
            ManifestOrIndex::Manifest(manifest) => {
                return image_from_manifest(reference, digest, &manifest, source)
            }
        }
    }
    Err("image index nested too deeply".into())
}

/// Reads and checks a manifest's config and lists its layers with their
/// diff ids: the last step of resolving, wherever the blobs live.
pub fn image_from_manifest(
    reference: &str,
    manifest_digest: String,
    manifest: &super::spec::Manifest,
    source: Arc<dyn BlobSource>,
) -> Result<ResolvedImage, String> {
    let config_bytes = read_verified(source.as_ref(), &manifest.config.digest, MAX_DOCUMENT)
        .map_err(|e| format!("image config: {e}"))?;
    let config = ImageConfig::parse(&config_bytes)
        .map_err(|e| format!("image config {}: {e}", manifest.config.digest))?;
    let diff_ids = config
        .rootfs
        .as_ref()
        .map(|r| r.diff_ids.clone())
        .unwrap_or_default();
    let layers = manifest
        .layers
        .iter()
        .enumerate()
        .map(|(i, d)| LayerRef {
            digest: d.digest.clone(),
            diff_id: diff_ids.get(i).cloned(),
            size: d.size,
        })
        .collect();
    Ok(ResolvedImage {
        reference: reference.to_string(),
        manifest_digest: Some(manifest_digest),
        layers,
        config,
        source,
    })
}

/// Picks the manifest descriptor named by `tag` from an OCI `index.json`.
fn pick_from_index_json(bytes: &[u8], tag: Option<&str>, what: &str) -> Result<String, String> {
    let ManifestOrIndex::Index(index) =
        ManifestOrIndex::parse(bytes).map_err(|e| format!("{what}: {e}"))?
    else {
        return Err(format!("{what} is not an image index"));
    };
    let tag_of = |d: &super::spec::Descriptor| {
        d.annotations
            .get("org.opencontainers.image.ref.name")
            .or_else(|| d.annotations.get("io.containerd.image.name"))
            .cloned()
    };
    match tag {
        Some(tag) => index
            .manifests
            .iter()
            .find(|d| tag_of(d).is_some_and(|t| t == tag || t.ends_with(&format!(":{tag}"))))
            .map(|d| d.digest.clone())
            .ok_or_else(|| {
                let tags: Vec<String> = index.manifests.iter().filter_map(tag_of).collect();
                format!(
                    "no image tagged {tag:?} in {what} (tags: {})",
                    tags.join(", ")
                )
            }),
        None if index.manifests.len() == 1 => Ok(index.manifests[0].digest.clone()),
        None => {
            let tags: Vec<String> = index.manifests.iter().filter_map(tag_of).collect();
            Err(format!(
                "{what} holds {} images; name one with :TAG (tags: {})",
                index.manifests.len(),
                tags.join(", ")
            ))
        }
    }
}

/// Resolves an OCI layout directory.
pub fn resolve_oci_dir(
    reference: &str,
    dir: &Path,
    tag: Option<&str>,
    platform: &Platform,
) -> Result<ResolvedImage, String> {
    let layout = LayoutDir::new(dir);
    if !dir.join("oci-layout").is_file() {
        return Err(format!(
            "{} is not an OCI image layout (no oci-layout file)",
            dir.display()
        ));
    }
    let index = layout
        .read_document("index.json", MAX_DOCUMENT)
        .map_err(|e| format!("reading index.json: {e}"))?;
    let digest = pick_from_index_json(&index, tag, "index.json")?;
    resolve_from_descriptor(reference, Arc::new(layout), digest, platform)
}

/// Resolves a tar: an OCI archive or Docker 25+ save (index.json + blobs),
/// or a legacy `docker save` (manifest.json + `<id>/layer.tar`).
pub fn resolve_archive(
    reference: &str,
    path: &Path,
    tag: Option<&str>,
    platform: &Platform,
) -> Result<ResolvedImage, String> {
    let mut tar = TarFile::open(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    if tar.has("index.json") && tar.has("oci-layout") {
        let index = tar
            .read_member("index.json", MAX_DOCUMENT)
            .map_err(|e| format!("index.json: {e}"))?;
        // Docker writes tags as full names in index.json annotations; fall
        // back to manifest.json's RepoTags when the tag is not found there.
        match pick_from_index_json(&index, tag, "index.json") {
            Ok(digest) => {
                return resolve_from_descriptor(reference, Arc::new(tar), digest, platform)
            }
            Err(e) if !tar.has("manifest.json") => return Err(e),
            Err(_) => {}
        }
    }
    if !tar.has("manifest.json") {
        return Err(format!(
            "{} is neither a docker save archive (no manifest.json) nor an OCI archive (no index.json)",
            path.display()
        ));
    }
    let manifest = tar
        .read_member("manifest.json", MAX_DOCUMENT)
        .map_err(|e| format!("manifest.json: {e}"))?;
    let entries =
        DockerSaveEntry::parse_manifest(&manifest).map_err(|e| format!("manifest.json: {e}"))?;
    let entry = match tag {
        Some(tag) => entries
            .iter()
            .find(|e| {
                e.repo_tags.iter().flatten().any(|t| {
                    t == tag || t.ends_with(&format!(":{tag}")) || t.starts_with(&format!("{tag}:"))
                })
            })
            .ok_or_else(|| format!("no image tagged {tag:?} in manifest.json"))?,
        None if entries.len() == 1 => &entries[0],
        None => {
            return Err(format!(
                "manifest.json holds {} images; name one with :TAG",
                entries.len()
            ))
        }
    };
    let config_bytes = tar
        .read_member(&entry.config, MAX_DOCUMENT)
        .map_err(|e| format!("image config {}: {e}", entry.config))?;
    // The config's name is its digest (`<hex>.json` or `blobs/sha256/<hex>`).
    let config_digest = sha256_of(&config_bytes);
    let named_hex = entry
        .config
        .trim_end_matches(".json")
        .rsplit('/')
        .next()
        .unwrap_or("");
    if named_hex.len() == 64 && config_digest != format!("sha256:{named_hex}") {
        return Err(format!(
            "digest mismatch for image config {}: content hashes to {config_digest}",
            entry.config
        ));
    }
    let config = ImageConfig::parse(&config_bytes).map_err(|e| format!("image config: {e}"))?;
    let diff_ids = config
        .rootfs
        .as_ref()
        .map(|r| r.diff_ids.clone())
        .unwrap_or_default();
    let mut layers = Vec::new();
    for (i, layer_path) in entry.layers.iter().enumerate() {
        // In a Docker 25 save the layer is a blob named by its digest; in a
        // legacy save it is an uncompressed tar whose digest is the diff id.
        let digest = match layer_path.strip_prefix("blobs/sha256/") {
            Some(hex) => format!("sha256:{hex}"),
            None => diff_ids.get(i).cloned().ok_or_else(|| {
                format!("layer {layer_path}: the config lists no diff id for layer {i}")
            })?,
        };
        check_digest_syntax(&digest)?;
        tar.alias(&digest, layer_path);
        layers.push(LayerRef {
            digest,
            diff_id: diff_ids.get(i).cloned(),
            size: 0,
        });
    }
    Ok(ResolvedImage {
        reference: reference.to_string(),
        manifest_digest: None,
        layers,
        config,
        source: Arc::new(tar),
    })
}
