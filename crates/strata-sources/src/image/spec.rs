//! The OCI image-spec and Docker schema-2 documents strata reads: index,
//! manifest, config, and the legacy `docker save` `manifest.json`. Only the
//! fields strata uses are modelled; unknown fields are ignored.

use std::collections::BTreeMap;

use serde::Deserialize;

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// A content descriptor: what a blob is and where to find it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    #[serde(default)]
    pub media_type: String,
    pub digest: String,
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub platform: Option<PlatformSpec>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

/// The `platform` object of an index entry.
#[derive(Debug, Clone, Deserialize)]
pub struct PlatformSpec {
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub variant: Option<String>,
}

/// An image index (OCI) or manifest list (Docker).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    #[serde(default)]
    pub media_type: Option<String>,
    pub manifests: Vec<Descriptor>,
}

/// An image manifest (OCI or Docker schema 2).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    #[serde(default)]
    pub media_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
}

/// Either kind of top-level document, told apart by shape.
#[derive(Debug, Clone)]
pub enum ManifestOrIndex {
    Manifest(Manifest),
    Index(Index),
}

impl ManifestOrIndex {
    /// Parses a manifest or index, whatever its declared media type.
    pub fn parse(bytes: &[u8]) -> Result<ManifestOrIndex, String> {
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {}", json_error(&e)))?;
        if value.get("manifests").is_some() {
            serde_json::from_value(value)
                .map(ManifestOrIndex::Index)
                .map_err(|e| format!("bad index: {}", json_error(&e)))
        } else if value.get("layers").is_some() {
            serde_json::from_value(value)
                .map(ManifestOrIndex::Manifest)
                .map_err(|e| format!("bad manifest: {}", json_error(&e)))
        } else if value.get("fsLayers").is_some() {
            Err("Docker schema 1 manifests are not supported (deprecated since 2017)".into())
        } else {
            Err("neither an image manifest nor an index".into())
        }
    }
}

/// The image configuration: runtime settings, layer diff ids and history.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ImageConfig {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub variant: Option<String>,
    #[serde(default)]
    pub config: Option<ContainerConfig>,
    #[serde(default)]
    pub rootfs: Option<RootFs>,
    #[serde(default)]
    pub history: Vec<History>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ContainerConfig {
    #[serde(default, rename = "Env")]
    pub env: Option<Vec<String>>,
    #[serde(default, rename = "Labels")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default, rename = "Cmd")]
    pub cmd: Option<Vec<String>>,
    #[serde(default, rename = "Entrypoint")]
    pub entrypoint: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RootFs {
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

/// One build step as recorded in the config.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
pub struct History {
    #[serde(default)]
    pub created_by: Option<String>,
    #[serde(default)]
    pub empty_layer: bool,
}

impl ImageConfig {
    /// Parses an image config; the error repeats nothing of the document.
    pub fn parse(bytes: &[u8]) -> Result<ImageConfig, String> {
        serde_json::from_slice(bytes).map_err(|e| json_error(&e))
    }

    /// For each layer index, the index of the history step that made it:
    /// steps with `empty_layer` made no layer, so the two counts differ.
    pub fn layer_steps(&self, layers: usize) -> Vec<Option<usize>> {
        let mut steps = self
            .history
            .iter()
            .enumerate()
            .filter(|(_, h)| !h.empty_layer)
            .map(|(i, _)| Some(i));
        (0..layers).map(|_| steps.next().flatten()).collect()
    }
}

/// One entry of a `docker save` `manifest.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct DockerSaveEntry {
    #[serde(rename = "Config")]
    pub config: String,
    #[serde(rename = "RepoTags", default)]
    pub repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers")]
    pub layers: Vec<String>,
}

impl DockerSaveEntry {
    /// Parses a `docker save` `manifest.json`; the error repeats nothing of
    /// the document.
    pub fn parse_manifest(bytes: &[u8]) -> Result<Vec<DockerSaveEntry>, String> {
        serde_json::from_slice(bytes).map_err(|e| json_error(&e))
    }
}

/// A JSON error in words that repeat nothing of the document. serde's own
/// messages quote the offending value (`invalid type: string "…"`), and a
/// value in a hostile document may be a secret; a missing or duplicate
/// field is named from the schema, so those messages are kept.
pub fn json_error(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match e.classify() {
        Category::Data => {
            let text = e.to_string();
            if text.starts_with("missing field") || text.starts_with("duplicate field") {
                return text;
            }
            "a value of the wrong type or form"
        }
        Category::Syntax => "not valid JSON",
        Category::Eof => "JSON cut short",
        Category::Io => "JSON not readable",
    };
    if e.line() == 0 {
        what.to_string()
    } else {
        format!("{what} at line {} column {}", e.line(), e.column())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_steps_skip_empty_layers() {
        let config: ImageConfig = serde_json::from_str(
            r#"{"history":[{"created_by":"ENV A=1","empty_layer":true},{"created_by":"COPY . ."},{"created_by":"LABEL x=y","empty_layer":true},{"created_by":"RUN make"}]}"#,
        )
        .unwrap();
        assert_eq!(config.layer_steps(2), vec![Some(1), Some(3)]);
        assert_eq!(config.layer_steps(3), vec![Some(1), Some(3), None]);
    }

    #[test]
    fn tells_index_from_manifest() {
        let index =
            br#"{"schemaVersion":2,"manifests":[{"mediaType":"x","digest":"sha256:00","size":1}]}"#;
        assert!(matches!(
            ManifestOrIndex::parse(index),
            Ok(ManifestOrIndex::Index(_))
        ));
        let manifest = br#"{"schemaVersion":2,"config":{"digest":"sha256:00"},"layers":[]}"#;
        assert!(matches!(
            ManifestOrIndex::parse(manifest),
            Ok(ManifestOrIndex::Manifest(_))
        ));
        assert!(ManifestOrIndex::parse(br#"{"fsLayers":[]}"#)
            .unwrap_err()
            .contains("schema 1"));
    }

    /// A value of the wrong type is reported by position, never quoted:
    /// in a hostile document it may be a secret (found by the image_spec
    /// fuzz target).
    #[test]
    fn parse_errors_do_not_repeat_the_document() {
        let secret = "AKIAVPLTO5YUVYKDH5UY";
        let index = format!(r#"{{"manifests":"{secret}"}}"#);
        let error = ManifestOrIndex::parse(index.as_bytes()).unwrap_err();
        assert!(
            error.starts_with("bad index:") && !error.contains(secret),
            "{error}"
        );
        let config = format!(r#"{{"config":{{"Env":"{secret}"}}}}"#);
        let error = ImageConfig::parse(config.as_bytes()).unwrap_err();
        assert!(
            error.starts_with("a value of the wrong type or form at line 1"),
            "{error}"
        );
        let save = format!(r#"[{{"Config":"c","Layers":"{secret}"}}]"#);
        let error = DockerSaveEntry::parse_manifest(save.as_bytes()).unwrap_err();
        assert!(!error.contains(secret), "{error}");
        // Errors named by the schema keep their words.
        let error = DockerSaveEntry::parse_manifest(br#"[{"Config":"c"}]"#).unwrap_err();
        assert!(error.starts_with("missing field `Layers`"), "{error}");
        let error = ImageConfig::parse(b"{\"os\": ").unwrap_err();
        assert!(error.starts_with("JSON cut short at line 1"), "{error}");
    }
}
