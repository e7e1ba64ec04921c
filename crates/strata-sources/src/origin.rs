//! Where a blob came from. A filesystem match needs only a path; matches in
//! images add the image, the layer and, for image configs, the config field.

use std::sync::Arc;

/// The layer of an image a blob was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerContext {
    /// Position in the image's layer stack, 0 = base layer.
    pub index: usize,
    /// Digest of the blob as stored (compressed).
    pub digest: String,
    /// Digest of the uncompressed tar.
    pub diff_id: Option<String>,
    /// The `created_by` of the history step that made this layer.
    pub created_by: Option<String>,
}

/// The image a blob belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageContext {
    /// The reference as the user wrote it (or as the registry listed it).
    pub reference: String,
    /// Digest of the manifest, when known.
    pub manifest_digest: Option<String>,
}

/// The provenance of one scanned blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// File path as reached from the scan root; archive members as
    /// `outer.zip!inner/path`; `-` for standard input.
    pub path: String,
    pub image: Option<Arc<ImageContext>>,
    pub layer: Option<Arc<LayerContext>>,
    /// For image-config matches: `Env[3]`, `Labels.maintainer`, `history[4].created_by`, …
    pub config_field: Option<String>,
}

impl Origin {
    /// An origin that is just a path.
    pub fn path(path: impl Into<String>) -> Origin {
        Origin {
            path: path.into(),
            image: None,
            layer: None,
            config_field: None,
        }
    }

    /// The same image and layer, another path (an archive member, a file in the layer).
    pub fn with_path(&self, path: impl Into<String>) -> Origin {
        Origin {
            path: path.into(),
            ..self.clone()
        }
    }
}

/// What became of a file holding a finding in the layers above it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FateStatus {
    /// The file is in the final image as this layer wrote it.
    Present,
    /// A later layer deleted the file (whiteout or opaque directory); the
    /// secret still ships in this layer's blob.
    Deleted,
    /// A later layer replaced the file; the old content still ships.
    Overwritten,
}

impl FateStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FateStatus::Present => "present",
            FateStatus::Deleted => "deleted",
            FateStatus::Overwritten => "overwritten",
        }
    }
}

/// The fate of a finding's file, and the layer that decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fate {
    pub status: FateStatus,
    /// The layer that deleted or overwrote the file (None when present).
    pub layer_index: Option<usize>,
    pub layer_digest: Option<String>,
}
