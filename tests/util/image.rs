//! Container-image fixtures built by code: OCI layouts (one image per tag, or
//! a multi-arch index), `docker save` tarballs (the legacy layout and Docker
//! 25+'s OCI-in-tar), and OCI archives — all with real SHA-256 digests, so a
//! scanner that verifies every blob accepts them. Helpers then break them in
//! the ways a scanner has to catch: truncated, tampered, missing blobs and
//! corrupt tar headers.
//!
//! A test describes an image with [`ImageSpec`] (layers of [`Entry`], config
//! fields, history) and gets back a [`BuiltImage`] with every digest it may
//! want to assert on.
//!
//! ```ignore
//! let spec = ImageSpec {
//!     layers: vec![
//!         LayerSpec::gzip(vec![file("etc/os-release", "ID=test\n")]),
//!         LayerSpec::gzip(vec![file("app/.env", format!("T={}\n", github_token(1)))]),
//!         LayerSpec::gzip(vec![whiteout("app/.env")]),
//!     ],
//!     ..ImageSpec::default()
//! };
//! let built = write_oci_layout(&tree.path().join("layout"), &[("app", &spec)]);
//! // strata image oci:layout:app → deleted in layer 2 (built[0].layers[2].digest)
//! ```

use std::{
    collections::{BTreeMap, BTreeSet},
    io::Write,
    path::{Path, PathBuf},
};

use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

pub const MEDIA_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const MEDIA_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const MEDIA_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
pub const MEDIA_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const MEDIA_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MEDIA_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// Fixed timestamp for every tar header, so the same spec gives the same digests.
const MTIME: u64 = 1_700_000_000;

/// An image whose build step passes a secret as a build arg and writes it
/// into a file: `RUN |1 K=<secret> /bin/sh -c printf 'aws_secret_access_key
/// = %s' "$K" > /app/creds`. Only the file gives the rule its context, so
/// the secret is a *layer* finding that the step's `created_by` repeats
/// bare. Returns the spec and the secret.
pub fn build_arg_secret_spec(seed: u64) -> (ImageSpec, String) {
    let secret = super::aws_secret_key(seed);
    let spec = ImageSpec {
        layers: vec![
            LayerSpec::gzip(vec![file("etc/os-release", "ID=fixture\n")]),
            LayerSpec::gzip(vec![file(
                "app/creds",
                format!("[default]\naws_secret_access_key = {secret}\n"),
            )]),
        ],
        history: vec![
            ("/bin/sh -c #(nop) ADD file:base in / ".into(), false),
            ("ARG K".into(), true),
            (
                format!(
                    "RUN |1 K={secret} /bin/sh -c printf 'aws_secret_access_key = %s\\n' \"$K\" > /app/creds"
                ),
                false,
            ),
        ],
        ..ImageSpec::default()
    };
    (spec, secret)
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The hex part of a `sha256:<hex>` digest.
pub fn hex_of(digest: &str) -> &str {
    digest.strip_prefix("sha256:").expect("a sha256: digest")
}

/// The first 12 hex digits of a digest, with its `sha256:` prefix: what an
/// error message that abbreviates digests still contains.
pub fn short(digest: &str) -> &str {
    &digest[..7 + 12]
}

/// One member of a layer tar. Paths are written without a leading `/`, as
/// docker writes them (`app/.env`); a leading `/` given here is dropped.
#[derive(Clone, Debug)]
pub enum Entry {
    File(String, Vec<u8>),
    Dir(String),
    /// Writes `parent/.wh.NAME`: hides NAME (a file or a whole directory) of lower layers.
    Whiteout(String),
    /// Writes `dir/.wh..wh..opq`: hides everything lower layers put in `dir`.
    Opaque(String),
    /// A symbolic link at the first path pointing to the second (as written).
    Symlink(String, String),
    /// A hard link at the first path to the second (a path inside the image).
    Hardlink(String, String),
    /// Tar blocks written as they are (see [`typed_entry`], [`sparse_entry`]).
    Raw(Vec<u8>),
}

fn clean(path: &str) -> String {
    path.trim_start_matches('/')
        .trim_end_matches('/')
        .to_string()
}

pub fn file(path: &str, contents: impl AsRef<[u8]>) -> Entry {
    Entry::File(clean(path), contents.as_ref().to_vec())
}
pub fn dir(path: &str) -> Entry {
    Entry::Dir(clean(path))
}
pub fn whiteout(path: &str) -> Entry {
    Entry::Whiteout(clean(path))
}
pub fn opaque(dir: &str) -> Entry {
    Entry::Opaque(clean(dir))
}
pub fn symlink(path: &str, target: &str) -> Entry {
    Entry::Symlink(clean(path), target.to_string())
}
pub fn hardlink(path: &str, target: &str) -> Entry {
    Entry::Hardlink(clean(path), clean(target))
}

/// A file entry of type `kind` (`7` contiguous, an unknown type, …):
/// header and padded data blocks.
pub fn typed_entry(path: &str, kind: tar::EntryType, data: &[u8]) -> Entry {
    let mut header = tar::Header::new_gnu();
    header.set_path(clean(path)).unwrap();
    header.set_mode(0o644);
    header.set_size(data.len() as u64);
    header.set_entry_type(kind);
    header.set_cksum();
    Entry::Raw(blocks(&header, data))
}

/// A GNU sparse file (`S`): `hole` zero bytes (a multiple of 512), then
/// `data`; only `data` is stored in the archive.
pub fn sparse_entry(path: &str, hole: u64, data: &[u8]) -> Entry {
    let octal = |value: u64| {
        let mut field = [0u8; 12];
        field[..11].copy_from_slice(format!("{value:011o}").as_bytes());
        field
    };
    let mut header = tar::Header::new_gnu();
    header.set_path(clean(path)).unwrap();
    header.set_mode(0o644);
    header.set_size(data.len() as u64);
    header.set_entry_type(tar::EntryType::GNUSparse);
    let gnu = header.as_gnu_mut().unwrap();
    gnu.sparse[0].offset = octal(hole);
    gnu.sparse[0].numbytes = octal(data.len() as u64);
    gnu.realsize = octal(hole + data.len() as u64);
    header.set_cksum();
    Entry::Raw(blocks(&header, data))
}

fn blocks(header: &tar::Header, data: &[u8]) -> Vec<u8> {
    let mut out = header.as_bytes().to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

/// A tar of `entries` (for files that are archives, not layers).
pub fn tar_of(entries: &[Entry]) -> Vec<u8> {
    layer_tar(entries, false)
}

/// How a layer blob is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    /// Gzip written as two concatenated members (some tools do this).
    GzipTwoMembers,
    Zstd,
    None,
}

/// Damage done to a layer before its digests are computed, so the manifest
/// still describes the blob exactly and only the content is broken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Damage {
    None,
    /// The compressed blob is cut in half (its digest is of the cut bytes).
    TruncatedBlob,
    /// After the entries, one more member (`app/after-corrupt.txt`) whose
    /// header checksum field is wrong.
    CorruptTarHeader,
}

#[derive(Clone, Debug)]
pub struct LayerSpec {
    pub entries: Vec<Entry>,
    pub compression: Compression,
    /// The media type in the manifest; by default the one matching `compression`.
    pub media_type: Option<String>,
    pub damage: Damage,
}

impl LayerSpec {
    pub fn new(compression: Compression, entries: Vec<Entry>) -> LayerSpec {
        LayerSpec {
            entries,
            compression,
            media_type: None,
            damage: Damage::None,
        }
    }
    pub fn gzip(entries: Vec<Entry>) -> LayerSpec {
        LayerSpec::new(Compression::Gzip, entries)
    }
    pub fn zstd(entries: Vec<Entry>) -> LayerSpec {
        LayerSpec::new(Compression::Zstd, entries)
    }
    pub fn plain(entries: Vec<Entry>) -> LayerSpec {
        LayerSpec::new(Compression::None, entries)
    }
    pub fn damaged(mut self, damage: Damage) -> LayerSpec {
        self.damage = damage;
        self
    }
    pub fn media_type(mut self, media_type: &str) -> LayerSpec {
        self.media_type = Some(media_type.to_string());
        self
    }

    /// The uncompressed tar (the diff).
    pub fn tar(&self) -> Vec<u8> {
        layer_tar(&self.entries, self.damage == Damage::CorruptTarHeader)
    }

    fn default_media_type(&self) -> &'static str {
        match self.compression {
            Compression::Gzip | Compression::GzipTwoMembers => MEDIA_LAYER_GZIP,
            Compression::Zstd => MEDIA_LAYER_ZSTD,
            Compression::None => MEDIA_LAYER_TAR,
        }
    }
}

/// An image: its layers (base first) and the config fields that matter.
#[derive(Clone, Debug)]
pub struct ImageSpec {
    pub layers: Vec<LayerSpec>,
    pub env: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub cmd: Vec<String>,
    pub entrypoint: Vec<String>,
    /// `(created_by, empty_layer)`, oldest first. Empty: one step per layer
    /// is made up. Otherwise the non-empty steps must match the layers.
    pub history: Vec<(String, bool)>,
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Default for ImageSpec {
    fn default() -> ImageSpec {
        ImageSpec {
            layers: Vec::new(),
            env: vec!["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()],
            labels: BTreeMap::new(),
            cmd: vec!["/bin/sh".into()],
            entrypoint: Vec::new(),
            history: Vec::new(),
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
        }
    }
}

impl ImageSpec {
    pub fn with_layers(layers: Vec<LayerSpec>) -> ImageSpec {
        ImageSpec {
            layers,
            ..ImageSpec::default()
        }
    }

    /// The history, made up if the spec has none.
    pub fn resolved_history(&self) -> Vec<(String, bool)> {
        if !self.history.is_empty() {
            let non_empty = self.history.iter().filter(|(_, empty)| !empty).count();
            assert_eq!(
                non_empty,
                self.layers.len(),
                "history has {non_empty} non-empty steps for {} layers",
                self.layers.len()
            );
            return self.history.clone();
        }
        (0..self.layers.len())
            .map(|i| {
                let step = if i == 0 {
                    "/bin/sh -c #(nop) ADD file:0f3e1c5d in / ".to_string()
                } else {
                    format!("COPY layer-{i}/ / # buildkit")
                };
                (step, false)
            })
            .collect()
    }
}

/// One built layer: what the manifest and config say about it.
#[derive(Clone, Debug)]
pub struct BuiltLayer {
    /// `sha256:` of the blob as stored (compressed).
    pub digest: String,
    /// `sha256:` of the uncompressed tar.
    pub diff_id: String,
    /// Size of the stored blob.
    pub size: u64,
    pub media_type: String,
    /// Index of the history step that made this layer.
    pub history_index: usize,
    pub created_by: String,
    pub blob: Vec<u8>,
}

/// One built image and every digest a test may assert on.
#[derive(Clone, Debug)]
pub struct BuiltImage {
    /// `sha256:` of the manifest. For a legacy `docker save` (which has no
    /// manifest) the config digest, i.e. docker's image ID.
    pub manifest_digest: String,
    pub manifest: Vec<u8>,
    pub config_digest: String,
    pub config: Vec<u8>,
    pub layers: Vec<BuiltLayer>,
    /// `(created_by, empty_layer)` as written to the config, oldest first.
    pub history: Vec<(String, bool)>,
    pub platform: Value,
}

impl BuiltImage {
    pub fn layer_digests(&self) -> Vec<String> {
        self.layers.iter().map(|l| l.digest.clone()).collect()
    }
}

/// A multi-arch image: the index blob and the image of each platform.
#[derive(Clone, Debug)]
pub struct BuiltIndex {
    pub index_digest: String,
    pub images: Vec<BuiltImage>,
}

/// Writes the uncompressed tar of a layer: parent directories first (once),
/// every header with a fixed owner and time.
fn layer_tar(entries: &[Entry], corrupt_tail: bool) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut dirs: BTreeSet<String> = BTreeSet::new();
    let header = |kind: tar::EntryType, mode: u32, size: u64| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_mtime(MTIME);
        h.set_uid(0);
        h.set_gid(0);
        h
    };
    let mut ensure_parents = |builder: &mut tar::Builder<Vec<u8>>, path: &str| {
        let parts: Vec<&str> = path.split('/').collect();
        for depth in 1..parts.len() {
            let parent = parts[..depth].join("/");
            if dirs.insert(parent.clone()) {
                let mut h = header(tar::EntryType::Directory, 0o755, 0);
                builder
                    .append_data(&mut h, format!("{parent}/"), std::io::empty())
                    .unwrap();
            }
        }
    };
    for entry in entries {
        match entry {
            Entry::File(path, data) => {
                ensure_parents(&mut builder, path);
                let mut h = header(tar::EntryType::Regular, 0o644, data.len() as u64);
                builder.append_data(&mut h, path, &data[..]).unwrap();
            }
            Entry::Dir(path) => {
                ensure_parents(&mut builder, path);
                let mut h = header(tar::EntryType::Directory, 0o755, 0);
                builder
                    .append_data(&mut h, format!("{path}/"), std::io::empty())
                    .unwrap();
            }
            Entry::Whiteout(path) => {
                let marker = match path.rsplit_once('/') {
                    Some((parent, name)) => format!("{parent}/.wh.{name}"),
                    None => format!(".wh.{path}"),
                };
                ensure_parents(&mut builder, &marker);
                let mut h = header(tar::EntryType::Regular, 0o644, 0);
                builder
                    .append_data(&mut h, marker, std::io::empty())
                    .unwrap();
            }
            Entry::Opaque(dir) => {
                let marker = format!("{dir}/.wh..wh..opq");
                ensure_parents(&mut builder, &marker);
                let mut h = header(tar::EntryType::Regular, 0o644, 0);
                builder
                    .append_data(&mut h, marker, std::io::empty())
                    .unwrap();
            }
            Entry::Symlink(path, target) => {
                ensure_parents(&mut builder, path);
                let mut h = header(tar::EntryType::Symlink, 0o777, 0);
                builder.append_link(&mut h, path, target).unwrap();
            }
            Entry::Hardlink(path, target) => {
                ensure_parents(&mut builder, path);
                let mut h = header(tar::EntryType::Link, 0o644, 0);
                builder.append_link(&mut h, path, target).unwrap();
            }
            Entry::Raw(blocks) => builder.get_mut().extend_from_slice(blocks),
        }
    }
    let victim_at = builder.get_ref().len();
    if corrupt_tail {
        let data = b"written after a corrupt header\n";
        let mut h = header(tar::EntryType::Regular, 0o644, data.len() as u64);
        builder
            .append_data(&mut h, "app/after-corrupt.txt", &data[..])
            .unwrap();
    }
    let mut tar = builder.into_inner().unwrap();
    if corrupt_tail {
        // The checksum field (offset 148, 8 bytes): octal 0 can never be
        // right, the sum counts the field itself as eight spaces (256).
        tar[victim_at + 148..victim_at + 156].copy_from_slice(b"0000000\0");
    }
    tar
}

/// `data` compressed as asked.
pub fn compress(data: &[u8], compression: Compression) -> Vec<u8> {
    match compression {
        Compression::Gzip => super::gzip(data),
        Compression::GzipTwoMembers => {
            let half = data.len() / 2;
            let mut out = super::gzip(&data[..half]);
            out.extend_from_slice(&super::gzip(&data[half..]));
            out
        }
        Compression::Zstd => zstd::encode_all(data, 3).unwrap(),
        Compression::None => data.to_vec(),
    }
}

fn build_layer(spec: &LayerSpec, history_index: usize, created_by: &str) -> BuiltLayer {
    let tar = spec.tar();
    let diff_id = sha256(&tar);
    let mut blob = compress(&tar, spec.compression);
    if spec.damage == Damage::TruncatedBlob {
        blob.truncate(blob.len() / 2);
    }
    BuiltLayer {
        digest: sha256(&blob),
        diff_id,
        size: blob.len() as u64,
        media_type: spec
            .media_type
            .clone()
            .unwrap_or_else(|| spec.default_media_type().to_string()),
        history_index,
        created_by: created_by.to_string(),
        blob,
    }
}

fn platform_json(spec: &ImageSpec) -> Value {
    let mut platform = json!({"os": spec.os, "architecture": spec.architecture});
    if let Some(variant) = &spec.variant {
        platform["variant"] = json!(variant);
    }
    platform
}

/// Builds the blobs of one image (layers, config, OCI manifest).
/// `force_plain` stores every layer uncompressed, as legacy `docker save`
/// does whatever the spec says.
fn build_image(spec: &ImageSpec, force_plain: bool) -> BuiltImage {
    let history = spec.resolved_history();
    let layer_steps: Vec<usize> = history
        .iter()
        .enumerate()
        .filter(|(_, (_, empty))| !empty)
        .map(|(i, _)| i)
        .collect();
    let layers: Vec<BuiltLayer> = spec
        .layers
        .iter()
        .zip(&layer_steps)
        .map(|(layer, &step)| {
            let mut layer = layer.clone();
            if force_plain {
                layer.compression = Compression::None;
                layer.media_type = None;
            }
            build_layer(&layer, step, &history[step].0)
        })
        .collect();
    let mut container = serde_json::Map::new();
    if !spec.env.is_empty() {
        container.insert("Env".into(), json!(spec.env));
    }
    if !spec.labels.is_empty() {
        container.insert("Labels".into(), json!(spec.labels));
    }
    if !spec.cmd.is_empty() {
        container.insert("Cmd".into(), json!(spec.cmd));
    }
    if !spec.entrypoint.is_empty() {
        container.insert("Entrypoint".into(), json!(spec.entrypoint));
    }
    container.insert("WorkingDir".into(), json!("/"));
    let history_json: Vec<Value> = history
        .iter()
        .map(|(created_by, empty)| {
            let mut step = json!({"created": "2026-01-01T00:00:00Z", "created_by": created_by});
            if *empty {
                step["empty_layer"] = json!(true);
            }
            step
        })
        .collect();
    let mut config = json!({
        "created": "2026-01-01T00:00:00Z",
        "architecture": spec.architecture,
        "os": spec.os,
        "config": Value::Object(container),
        "rootfs": {
            "type": "layers",
            "diff_ids": layers.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>(),
        },
        "history": history_json,
    });
    if let Some(variant) = &spec.variant {
        config["variant"] = json!(variant);
    }
    let config = serde_json::to_vec(&config).unwrap();
    let config_digest = sha256(&config);
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": MEDIA_MANIFEST,
        "config": {"mediaType": MEDIA_CONFIG, "digest": config_digest, "size": config.len()},
        "layers": layers.iter().map(|l| json!({
            "mediaType": l.media_type, "digest": l.digest, "size": l.size,
        })).collect::<Vec<_>>(),
    }))
    .unwrap();
    BuiltImage {
        manifest_digest: sha256(&manifest),
        manifest,
        config_digest,
        config,
        layers,
        history,
        platform: platform_json(spec),
    }
}

/// Files of an image artifact, by path, before they go to a directory or a tar.
type Files = BTreeMap<String, Vec<u8>>;

fn add_blob(files: &mut Files, bytes: &[u8]) -> String {
    let digest = sha256(bytes);
    files.insert(format!("blobs/sha256/{}", hex_of(&digest)), bytes.to_vec());
    digest
}

fn add_image_blobs(files: &mut Files, image: &BuiltImage) {
    for layer in &image.layers {
        add_blob(files, &layer.blob);
    }
    add_blob(files, &image.config);
    add_blob(files, &image.manifest);
}

fn layout_files(images: &[(&str, &ImageSpec)]) -> (Files, Vec<BuiltImage>) {
    let mut files = Files::new();
    let mut built = Vec::new();
    let mut manifests = Vec::new();
    for (tag, spec) in images {
        let image = build_image(spec, false);
        add_image_blobs(&mut files, &image);
        manifests.push(json!({
            "mediaType": MEDIA_MANIFEST,
            "digest": image.manifest_digest,
            "size": image.manifest.len(),
            "annotations": {REF_NAME: tag},
        }));
        built.push(image);
    }
    files.insert(
        "index.json".into(),
        serde_json::to_vec(&json!({
            "schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": manifests,
        }))
        .unwrap(),
    );
    files.insert(
        "oci-layout".into(),
        br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
    );
    (files, built)
}

fn write_dir(dir: &Path, files: &Files) {
    for (name, bytes) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
}

fn write_tar(path: &Path, files: &Files) {
    let mut builder = tar::Builder::new(Vec::new());
    let mut dirs = BTreeSet::new();
    for (name, bytes) in files {
        let parts: Vec<&str> = name.split('/').collect();
        for depth in 1..parts.len() {
            let parent = parts[..depth].join("/");
            if dirs.insert(parent.clone()) {
                let mut h = tar::Header::new_gnu();
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                h.set_mtime(MTIME);
                builder
                    .append_data(&mut h, format!("{parent}/"), std::io::empty())
                    .unwrap();
            }
        }
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(bytes.len() as u64);
        h.set_mtime(MTIME);
        builder.append_data(&mut h, name, &bytes[..]).unwrap();
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(path, builder.into_inner().unwrap()).unwrap();
}

/// An OCI image layout in `dir`: `oci-layout`, `index.json` with one
/// manifest per `(tag, spec)` (annotated `org.opencontainers.image.ref.name`),
/// `blobs/sha256/`. Identical layers of different images are one blob.
pub fn write_oci_layout(dir: &Path, images: &[(&str, &ImageSpec)]) -> Vec<BuiltImage> {
    let (files, built) = layout_files(images);
    write_dir(dir, &files);
    built
}

/// An OCI archive (`oci-archive:`): a tar of an OCI layout.
pub fn write_oci_archive(tar_path: &Path, images: &[(&str, &ImageSpec)]) -> Vec<BuiltImage> {
    let (files, built) = layout_files(images);
    write_tar(tar_path, &files);
    built
}

/// A multi-arch OCI layout: `index.json` has one entry, tagged `tag`, that
/// points at an image index blob listing one manifest per spec with its
/// `platform` (os, architecture, variant).
pub fn write_oci_layout_multiarch(dir: &Path, tag: &str, specs: &[&ImageSpec]) -> BuiltIndex {
    let mut files = Files::new();
    let mut images = Vec::new();
    let mut manifests = Vec::new();
    for spec in specs {
        let image = build_image(spec, false);
        add_image_blobs(&mut files, &image);
        manifests.push(json!({
            "mediaType": MEDIA_MANIFEST,
            "digest": image.manifest_digest,
            "size": image.manifest.len(),
            "platform": image.platform,
        }));
        images.push(image);
    }
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": manifests,
    }))
    .unwrap();
    let index_digest = add_blob(&mut files, &index);
    files.insert(
        "index.json".into(),
        serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": MEDIA_INDEX,
            "manifests": [{
                "mediaType": MEDIA_INDEX,
                "digest": index_digest,
                "size": index.len(),
                "annotations": {REF_NAME: tag},
            }],
        }))
        .unwrap(),
    );
    files.insert(
        "oci-layout".into(),
        br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
    );
    write_dir(dir, &files);
    BuiltIndex {
        index_digest,
        images,
    }
}

/// The classic `docker save` tar: `manifest.json`, `<config hex>.json`,
/// `repositories`, and per layer `<id>/layer.tar` (plus `VERSION`, `json`).
/// Legacy layers are plain tars whatever the spec's compression, so a
/// layer's digest equals its diff_id. `manifest_digest` of the result is
/// the config digest (docker's image ID): there is no manifest blob.
pub fn write_docker_save_legacy(tar_path: &Path, repo_tag: &str, spec: &ImageSpec) -> BuiltImage {
    let mut image = build_image(spec, true);
    let mut files = Files::new();
    let mut layer_paths = Vec::new();
    let mut parent: Option<String> = None;
    for layer in &image.layers {
        let id = hex::encode(Sha256::digest(
            format!("{}\n{}", parent.as_deref().unwrap_or(""), layer.diff_id).as_bytes(),
        ));
        let mut v1 = json!({"id": id, "created": "2026-01-01T00:00:00Z", "os": spec.os});
        if let Some(p) = &parent {
            v1["parent"] = json!(p);
        }
        files.insert(format!("{id}/VERSION"), b"1.0".to_vec());
        files.insert(format!("{id}/json"), serde_json::to_vec(&v1).unwrap());
        files.insert(format!("{id}/layer.tar"), layer.blob.clone());
        layer_paths.push(format!("{id}/layer.tar"));
        parent = Some(id);
    }
    let config_name = format!("{}.json", hex_of(&image.config_digest));
    files.insert(config_name.clone(), image.config.clone());
    files.insert(
        "manifest.json".into(),
        serde_json::to_vec(&json!([{
            "Config": config_name, "RepoTags": [repo_tag], "Layers": layer_paths,
        }]))
        .unwrap(),
    );
    let (repo, tag) = repo_tag.rsplit_once(':').unwrap_or((repo_tag, "latest"));
    files.insert(
        "repositories".into(),
        serde_json::to_vec(&json!({repo: {tag: parent.unwrap_or_default()}})).unwrap(),
    );
    write_tar(tar_path, &files);
    image.manifest_digest = image.config_digest.clone();
    image
}

/// Docker 25+ `docker save`: an OCI layout inside the tar (`oci-layout`,
/// `index.json`, `blobs/sha256/`) plus the legacy `manifest.json` whose
/// `Config` and `Layers` are `blobs/sha256/<hex>` paths. Layers keep the
/// spec's compression (Docker writes them plain; pulled images may not be).
pub fn write_docker_save_oci(tar_path: &Path, repo_tag: &str, spec: &ImageSpec) -> BuiltImage {
    let image = build_image(spec, false);
    let mut files = Files::new();
    add_image_blobs(&mut files, &image);
    let (repo, tag) = repo_tag.rsplit_once(':').unwrap_or((repo_tag, "latest"));
    files.insert(
        "index.json".into(),
        serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": MEDIA_INDEX,
            "manifests": [{
                "mediaType": MEDIA_MANIFEST,
                "digest": image.manifest_digest,
                "size": image.manifest.len(),
                "annotations": {
                    "io.containerd.image.name": format!("docker.io/library/{repo_tag}"),
                    REF_NAME: tag,
                },
            }],
        }))
        .unwrap(),
    );
    files.insert(
        "oci-layout".into(),
        br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
    );
    files.insert(
        "manifest.json".into(),
        serde_json::to_vec(&json!([{
            "Config": format!("blobs/sha256/{}", hex_of(&image.config_digest)),
            "RepoTags": [repo_tag],
            "Layers": image.layers.iter()
                .map(|l| format!("blobs/sha256/{}", hex_of(&l.digest)))
                .collect::<Vec<_>>(),
        }]))
        .unwrap(),
    );
    files.insert(
        "repositories".into(),
        serde_json::to_vec(&json!({repo: {tag: hex_of(&image.manifest_digest)}})).unwrap(),
    );
    write_tar(tar_path, &files);
    image
}

// ---- breaking a written OCI layout -----------------------------------------

/// Where a blob of an OCI layout lives.
pub fn blob_path(layout: &Path, digest: &str) -> PathBuf {
    layout.join("blobs/sha256").join(hex_of(digest))
}

/// Cuts a blob to half its length; the manifest still names the old digest.
pub fn truncate_blob(layout: &Path, digest: &str) {
    let path = blob_path(layout, digest);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(path, bytes).unwrap();
}

/// Flips every bit of the byte at `offset` of a blob: its digest no longer matches.
pub fn flip_byte(layout: &Path, digest: &str, offset: usize) {
    let path = blob_path(layout, digest);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[offset] ^= 0xFF;
    std::fs::write(path, bytes).unwrap();
}

/// Tampers with a gzip layer blob so it still decompresses to the very
/// same tar (one byte of the gzip header's MTIME field changes, which no
/// checksum covers): only a digest check can notice.
pub fn tamper_gzip_blob(layout: &Path, digest: &str) {
    let bytes = std::fs::read(blob_path(layout, digest)).unwrap();
    assert_eq!(&bytes[..2], b"\x1f\x8b", "not a gzip blob");
    flip_byte(layout, digest, 4);
}

/// Deletes a blob: the manifest points to a blob that is not there.
pub fn remove_blob(layout: &Path, digest: &str) {
    std::fs::remove_file(blob_path(layout, digest)).unwrap();
}

/// Decompresses a layer blob by its magic bytes (gzip, zstd or plain tar).
pub fn decompress(blob: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::new();
    if blob.starts_with(b"\x1f\x8b") {
        flate2::read::MultiGzDecoder::new(blob).read_to_end(&mut out)?;
    } else if blob.starts_with(b"\x28\xb5\x2f\xfd") {
        out = zstd::decode_all(blob)?;
    } else {
        out = blob.to_vec();
    }
    Ok(out)
}

/// The members of a tar (path → bytes); directories and links as empty.
pub fn tar_members(tar: &[u8]) -> std::io::Result<BTreeMap<String, Vec<u8>>> {
    use std::io::Read;
    let mut out = BTreeMap::new();
    let mut archive = tar::Archive::new(tar);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let name = entry.path()?.to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes)?;
        out.insert(name, bytes);
    }
    Ok(out)
}

/// Writes `bytes` to `path`, creating parents (for ad-hoc broken artifacts).
pub fn write_bytes(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut f = std::fs::File::create(path).unwrap();
    f.write_all(bytes).unwrap();
}
