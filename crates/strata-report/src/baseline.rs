//! Baselines: findings a team has accepted, so a pipeline gate fails only on
//! new ones. A finding is in the baseline when its secret fingerprint was
//! accepted at the same path: moving lines around does not make an accepted
//! secret new, while the same secret copied to a new file is.

use std::{collections::HashSet, fs, io, path::Path};

use serde::{Deserialize, Serialize};

use crate::Finding;

const BASELINE_VERSION: u32 = 1;

/// A baseline file that could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("baseline {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("baseline {path}: not a strata baseline: {message}")]
    Parse { path: String, message: String },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct BaselineEntry {
    fingerprint: String,
    path: String,
    rule_id: String,
    finding_id: String,
    #[serde(default)]
    line: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct BaselineFile {
    version: u32,
    tool: String,
    findings: Vec<BaselineEntry>,
}

/// Accepted findings, looked up by (fingerprint, path).
#[derive(Debug, Default)]
pub struct Baseline {
    accepted: HashSet<(String, String)>,
}

impl Baseline {
    pub fn load(path: &Path) -> Result<Baseline, BaselineError> {
        let shown = path.display().to_string();
        let text = fs::read_to_string(path).map_err(|source| BaselineError::Io {
            path: shown.clone(),
            source,
        })?;
        let file: BaselineFile = serde_json::from_str(&text).map_err(|e| BaselineError::Parse {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        if file.version != BASELINE_VERSION {
            return Err(BaselineError::Parse {
                path: shown,
                message: format!(
                    "version {} (this strata reads version {BASELINE_VERSION})",
                    file.version
                ),
            });
        }
        Ok(Baseline {
            accepted: file
                .findings
                .into_iter()
                .map(|e| (e.fingerprint, e.path))
                .collect(),
        })
    }

    pub fn contains(&self, finding: &Finding) -> bool {
        self.accepted
            .contains(&(finding.fingerprint.clone(), baseline_path(finding)))
    }

    pub fn len(&self) -> usize {
        self.accepted.len()
    }

    pub fn is_empty(&self) -> bool {
        self.accepted.is_empty()
    }

    /// Writes `findings` as a baseline (fingerprints and locations, never secrets).
    /// Written to a temporary file and renamed, so a reader never sees half a file.
    pub fn write(path: &Path, findings: &[Finding]) -> Result<(), BaselineError> {
        let io_err = |source| BaselineError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut entries: Vec<BaselineEntry> = findings
            .iter()
            .map(|f| BaselineEntry {
                fingerprint: f.fingerprint.clone(),
                path: baseline_path(f),
                rule_id: f.rule_id.clone(),
                finding_id: f.finding_id.clone(),
                line: f.line,
            })
            .collect();
        entries.sort_by(|a, b| (&a.path, a.line, &a.rule_id).cmp(&(&b.path, b.line, &b.rule_id)));
        entries.dedup_by(|a, b| a.fingerprint == b.fingerprint && a.path == b.path);
        let file = BaselineFile {
            version: BASELINE_VERSION,
            tool: format!("strata {}", env!("CARGO_PKG_VERSION")),
            findings: entries,
        };
        let mut text = serde_json::to_string_pretty(&file).expect("baseline serializes");
        text.push('\n');
        let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
        fs::write(&tmp, text).map_err(io_err)?;
        fs::rename(&tmp, path).map_err(io_err)
    }
}

/// The path a baseline keys on: for image findings the layer or config
/// field is part of it, so accepting a secret in one image does not accept
/// it everywhere.
fn baseline_path(finding: &Finding) -> String {
    let mut key = String::new();
    if let Some(image) = &finding.image {
        key.push_str(&image.reference);
        key.push('|');
    }
    if let Some(field) = &finding.config_field {
        key.push_str("config:");
        key.push_str(field);
        return key;
    }
    key.push_str(&finding.path);
    key
}
