//! The whole outcome of a scan: findings, what could not be read, what was
//! skipped, and the summary figures a gate and a person look at.

use serde::Serialize;
use strata_sources::{Problem, Skipped};

use crate::Finding;

/// Figures for the summary line and the `summary` JSON object.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub files_scanned: u64,
    pub bytes_scanned: u64,
    pub findings: usize,
    /// Suppressed by an inline `strata:allow`.
    pub suppressed: usize,
    /// Accepted by the baseline.
    pub baselined: usize,
    pub skipped: usize,
    pub errors: usize,
    pub elapsed_seconds: f64,
    pub mb_per_second: f64,
    /// False when anything could not be read: the scan is incomplete (exit 2).
    pub complete: bool,
    /// Image scans only: images scanned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub images: Option<usize>,
    /// Image scans only: layers over all images.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layers: Option<usize>,
    /// Image scans only: distinct layer digests scanned (shared layers once).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layers_scanned: Option<usize>,
    /// Registry batch scans only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<RegistrySummary>,
}

/// What a registry-wide run covered, pulled and found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RegistrySummary {
    pub registry: String,
    pub repositories: usize,
    pub tags: usize,
    /// Image manifests (one per platform of a multi-platform tag).
    pub images: usize,
    /// Distinct image manifests (the same image under two tags counts once).
    pub distinct_images: usize,
    /// Distinct layer digests over every image.
    pub distinct_layers: usize,
    /// `K/N` when this run is one shard; its share of the distinct layers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    pub shard_layers: usize,
    /// Layers scanned in this run (each pulled once).
    pub layers_scanned: usize,
    /// Layers whose results came from the cache.
    pub cache_hits: usize,
    /// Image configs scanned in this run, and taken from the cache.
    pub configs_scanned: usize,
    pub config_cache_hits: usize,
    /// Layer blob GET requests sent (retries included).
    pub layer_blob_requests: u64,
    /// Compressed layer bytes pulled.
    pub bytes_pulled: u64,
    /// Uncompressed bytes scanned.
    pub bytes_scanned: u64,
    pub findings_by_rule: std::collections::BTreeMap<String, usize>,
    pub findings_by_repository: std::collections::BTreeMap<String, usize>,
    /// Present when the cache was used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_dir: Option<String>,
}

/// An input that could not be read, in report form.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorEntry {
    pub path: String,
    pub message: String,
}

/// An input not scanned (or cut short), in report form.
#[derive(Debug, Clone, Serialize)]
pub struct SkippedEntry {
    pub path: String,
    pub reason: String,
}

/// Everything a report format writes.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub tool: ToolInfo,
    pub summary: Summary,
    pub findings: Vec<Finding>,
    pub errors: Vec<ErrorEntry>,
    pub skipped: Vec<SkippedEntry>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ToolInfo {
    pub name: &'static str,
    pub version: &'static str,
    /// Version of this JSON layout; bumped only for incompatible changes.
    pub report_format: u32,
}

impl Default for ToolInfo {
    fn default() -> ToolInfo {
        ToolInfo {
            name: "strata",
            version: env!("CARGO_PKG_VERSION"),
            report_format: 1,
        }
    }
}

impl Report {
    pub fn new(
        findings: Vec<Finding>,
        problems: Vec<Problem>,
        skipped: Vec<Skipped>,
        mut summary: Summary,
    ) -> Report {
        summary.findings = findings.len();
        summary.errors = problems.len();
        summary.skipped = skipped.len();
        summary.complete = problems.is_empty();
        if summary.elapsed_seconds > 0.0 {
            summary.mb_per_second =
                ((summary.bytes_scanned as f64 / 1e6 / summary.elapsed_seconds) * 10.0).round()
                    / 10.0;
        }
        summary.elapsed_seconds = (summary.elapsed_seconds * 1000.0).round() / 1000.0;
        Report {
            tool: ToolInfo::default(),
            summary,
            findings,
            errors: problems
                .into_iter()
                .map(|p| ErrorEntry {
                    path: p.path,
                    message: p.message,
                })
                .collect(),
            skipped: skipped
                .into_iter()
                .map(|s| SkippedEntry {
                    path: s.path,
                    reason: s.reason,
                })
                .collect(),
        }
    }

    /// 0 nothing found, 1 findings, 2 incomplete (even with findings: fail
    /// closed). Counts from the summary, so a report whose findings were
    /// streamed out rather than kept (`strata registry`) is judged the same.
    pub fn exit_code(&self) -> i32 {
        if !self.summary.complete {
            2
        } else if self.summary.findings > 0 {
            1
        } else {
            0
        }
    }
}
