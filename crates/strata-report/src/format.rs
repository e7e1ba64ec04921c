//! Report formats: `text` for people (colored on a terminal), `json` (one
//! object: tool, summary, findings, errors, skipped), `jsonl` (one finding
//! per line, then one summary line) and `sarif` (SARIF 2.1.0 for code
//! scanning dashboards).

use std::io::{self, Write};

use serde_json::{json, Value};
use strata_rules::{Confidence, Rule, Severity};

use crate::{finding::short_digest, printable::printable, Finding, Report};

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Jsonl,
    Sarif,
}

impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Format, String> {
        Ok(match s {
            "text" => Format::Text,
            "json" => Format::Json,
            "jsonl" => Format::Jsonl,
            "sarif" => Format::Sarif,
            other => {
                return Err(format!(
                    "unknown format {other:?} (text, json, jsonl, sarif)"
                ))
            }
        })
    }
}

/// Writes `report` in `format`. `rules` feeds SARIF's rule table; `color`
/// turns on ANSI colors in text.
pub fn write_report(
    report: &Report,
    format: Format,
    rules: &[&Rule],
    color: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, report)?;
            writeln!(out)
        }
        Format::Jsonl => write_jsonl(report, out),
        Format::Sarif => {
            serde_json::to_writer_pretty(&mut *out, &sarif(report, rules))?;
            writeln!(out)
        }
        Format::Text => write_text(report, color, out),
    }
}

fn write_jsonl(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    for finding in &report.findings {
        write_jsonl_finding(finding, out)?;
    }
    write_jsonl_summary(report, out)
}

/// One `"kind": "finding"` line of the JSONL format (streamed by batch scans).
pub fn write_jsonl_finding(finding: &Finding, out: &mut dyn Write) -> io::Result<()> {
    let mut value = serde_json::to_value(finding)?;
    value["kind"] = json!("finding");
    serde_json::to_writer(&mut *out, &value)?;
    writeln!(out)
}

/// The closing `"kind": "summary"` line of the JSONL format.
pub fn write_jsonl_summary(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer(
        &mut *out,
        &json!({
            "kind": "summary",
            "tool": report.tool,
            "summary": report.summary,
            "errors": report.errors,
            "skipped": report.skipped,
        }),
    )?;
    writeln!(out)
}

struct Palette {
    on: bool,
}

impl Palette {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

fn write_text(report: &Report, color: bool, out: &mut dyn Write) -> io::Result<()> {
    let p = Palette { on: color };
    for finding in &report.findings {
        let severity_color = match finding.severity {
            Severity::Critical | Severity::High => "1;31",
            Severity::Medium => "1;33",
            Severity::Low => "1;34",
        };
        writeln!(
            out,
            "{}  {}  {}",
            p.paint(severity_color, &format!("[{}]", finding.severity)),
            p.paint("1", &printable(&finding.rule_id)),
            printable(&finding.rule_name)
        )?;
        writeln!(out, "  {}", p.paint("36", &printable(&finding.location())))?;
        if let Some(image) = &finding.image {
            writeln!(out, "  image:    {}", printable(&image.reference))?;
        }
        if let Some(layer) = &finding.layer {
            if let Some(created_by) = &layer.created_by {
                writeln!(out, "  step:     {}", printable(&truncate(created_by, 100)))?;
            }
        }
        if let Some(fate) = &finding.fate {
            if fate.status != "present" {
                let by = fate
                    .layer_index
                    .map(|i| format!(" in layer {i}"))
                    .unwrap_or_default();
                writeln!(
                    out,
                    "  fate:     {}",
                    p.paint(
                        "33",
                        &format!("{}{by} (still shipped in this layer)", fate.status)
                    )
                )?;
            }
        }
        let validation = if finding.validation == "none" {
            String::new()
        } else {
            format!("  {}", finding.validation)
        };
        writeln!(
            out,
            "  secret:   {}  entropy {:.2}{validation}  confidence {}  fingerprint {}",
            printable(&finding.secret),
            finding.entropy,
            finding.confidence,
            &finding.fingerprint[..16]
        )?;
        if let Some(pair) = &finding.pair {
            writeln!(
                out,
                "  {}:{} {}",
                printable(&pair.name),
                " ".repeat(8usize.saturating_sub(pair.name.len() + 1)),
                printable(&pair.value)
            )?;
        }
        writeln!(out)?;
    }
    for skipped in &report.skipped {
        writeln!(
            out,
            "{} {}: {}",
            p.paint("33", "skipped"),
            printable(&skipped.path),
            printable(&skipped.reason)
        )?;
    }
    for error in &report.errors {
        writeln!(
            out,
            "{} {}: {}",
            p.paint("1;31", "error"),
            printable(&error.path),
            printable(&error.message)
        )?;
    }
    let s = &report.summary;
    let mut extra = Vec::new();
    if s.suppressed > 0 {
        extra.push(format!("{} suppressed inline", s.suppressed));
    }
    if s.baselined > 0 {
        extra.push(format!("{} in baseline", s.baselined));
    }
    let extra = if extra.is_empty() {
        String::new()
    } else {
        format!(" ({})", extra.join(", "))
    };
    let headline = format!(
        "{} findings{extra}, {} skipped, {} errors",
        s.findings, s.skipped, s.errors
    );
    let headline = if s.findings > 0 || s.errors > 0 {
        p.paint("1", &headline)
    } else {
        headline
    };
    writeln!(
        out,
        "{headline}; scanned {} files, {} in {:.2}s ({:.1} MB/s){}",
        s.files_scanned,
        human_bytes(s.bytes_scanned),
        s.elapsed_seconds,
        s.mb_per_second,
        if s.complete { "" } else { "; SCAN INCOMPLETE" }
    )
}

/// `text` cut to `max` characters with an ellipsis.
pub fn truncate(text: &str, max: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        flat
    } else {
        let mut cut: String = flat.chars().take(max.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

/// `12.3 MB` style sizes (decimal units).
pub fn human_bytes(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1e9 {
        format!("{:.2} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.1} MB", b / 1e6)
    } else if b >= 1e3 {
        format!("{:.1} kB", b / 1e3)
    } else {
        format!("{bytes} B")
    }
}

/// Percent-encodes what may not stand in a URI path as it is.
fn uri_escape(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The artifact URI of a finding: a relative path for files, and for images
/// `oci://IMAGE@DIGEST/layer/DIGEST/path` (or `/config/FIELD`).
pub fn artifact_uri(finding: &Finding) -> String {
    let Some(image) = &finding.image else {
        return uri_escape(finding.path.trim_start_matches('/'));
    };
    let mut uri = format!("oci://{}", uri_escape(&image.reference));
    if let Some(digest) = &image.manifest_digest {
        if !image.reference.contains('@') {
            uri.push('@');
            uri.push_str(digest);
        }
    }
    if let Some(field) = &finding.config_field {
        uri.push_str("/config/");
        uri.push_str(&uri_escape(field));
    } else if let Some(layer) = &finding.layer {
        uri.push_str("/layer/");
        uri.push_str(&layer.digest);
        uri.push('/');
        uri.push_str(&uri_escape(finding.path.trim_start_matches('/')));
    }
    uri
}

/// SARIF result level: GitHub shows `error` for critical and high.
fn sarif_level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "note",
    }
}

fn sarif_problem_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "recommendation",
    }
}

/// GitHub code scanning's `precision` values.
fn sarif_precision(confidence: Confidence) -> &'static str {
    match confidence {
        Confidence::High => "very-high",
        Confidence::Medium => "high",
        Confidence::Low => "medium",
    }
}

/// `reportingDescriptor.name` must be an identifier-like word; rule ids are
/// kebab-case, so `github-pat-classic` becomes `GithubPatClassic`.
fn sarif_rule_name(id: &str) -> String {
    id.split(['-', '_', '.'])
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

fn help_text(rule: &Rule) -> String {
    let mut text = format!(
        "{}\n\nSeverity: {}. Confidence: {}.\n\nWhat to do: revoke or rotate the credential at the provider first (removing it from the file does not make it safe: it is in history, images and caches), then remove it and load it from a secret store or CI secret at run time.",
        if rule.description.is_empty() { &rule.name } else { &rule.description },
        rule.severity,
        rule.confidence
    );
    for reference in &rule.references {
        text.push_str(&format!("\n\nReference: {reference}"));
    }
    text
}

fn help_markdown(rule: &Rule) -> String {
    let mut text = format!(
        "**{}**\n\n{}\n\n| severity | confidence |\n|---|---|\n| {} | {} |\n\n**What to do:** revoke or rotate the credential at the provider first (removing it from the file does not make it safe: it is in history, images and caches), then remove it and load it from a secret store or CI secret at run time.",
        rule.name,
        if rule.description.is_empty() { &rule.name } else { &rule.description },
        rule.severity,
        rule.confidence
    );
    if !rule.references.is_empty() {
        text.push_str("\n\nReferences:");
        for reference in &rule.references {
            text.push_str(&format!("\n- <{reference}>"));
        }
    }
    text
}

fn sarif(report: &Report, rules: &[&Rule]) -> Value {
    let rule_index = |id: &str| rules.iter().position(|r| r.id == id);
    let sarif_rules: Vec<Value> = rules
        .iter()
        .map(|rule| {
            let description = if rule.description.is_empty() {
                &rule.name
            } else {
                &rule.description
            };
            let mut tags = vec!["security".to_string(), "secret".to_string()];
            tags.extend(
                rule.tags
                    .iter()
                    .filter(|t| *t != "security" && *t != "secret")
                    .cloned(),
            );
            let mut sarif_rule = json!({
                "id": rule.id,
                "name": sarif_rule_name(&rule.id),
                "shortDescription": { "text": rule.name },
                "fullDescription": { "text": description },
                "help": { "text": help_text(rule), "markdown": help_markdown(rule) },
                "defaultConfiguration": { "level": sarif_level(rule.severity) },
                "properties": {
                    "tags": tags,
                    "security-severity": rule.severity.sarif_score(),
                    "precision": sarif_precision(rule.confidence),
                    "problem.severity": sarif_problem_severity(rule.severity),
                    "severity": rule.severity,
                    "confidence": rule.confidence,
                }
            });
            if let Some(uri) = rule.references.first() {
                sarif_rule["helpUri"] = json!(uri);
            }
            sarif_rule
        })
        .collect();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let mut message = format!("{} found ({})", f.rule_name, f.secret);
            if let Some(fate) = &f.fate {
                if fate.status != "present" {
                    let by = fate.layer_index.map(|i| format!(" in layer {i}")).unwrap_or_default();
                    message.push_str(&format!("; file {}{by} but still shipped in the image", fate.status));
                }
            }
            if let Some(layer) = &f.layer {
                message.push_str(&format!("; layer {} {}", layer.index, short_digest(&layer.digest)));
            }
            let mut region = json!({ "startLine": f.line, "startColumn": f.column, "endLine": f.end_line });
            if f.config_field.is_some() {
                region = json!({ "startLine": 1 });
            }
            let mut result = json!({
                "ruleId": f.rule_id,
                "level": sarif_level(f.severity),
                "message": { "text": message },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": artifact_uri(f) },
                        "region": region
                    }
                }],
                "partialFingerprints": { "strataSecretFingerprint/v1": f.fingerprint, "strataFindingId/v1": f.finding_id },
                "properties": {
                    "fingerprint": f.fingerprint,
                    "finding_id": f.finding_id,
                    "entropy": f.entropy,
                    "validation": f.validation,
                    "severity": f.severity,
                    "confidence": f.confidence,
                    "pair": f.pair,
                    "layer": f.layer,
                    "fate": f.fate,
                    "image": f.image,
                    "config_field": f.config_field
                }
            });
            if let Some(index) = rule_index(&f.rule_id) {
                result["ruleIndex"] = json!(index);
            }
            result
        })
        .collect();
    let notifications: Vec<Value> = report
        .errors
        .iter()
        .map(|e| {
            json!({
                "level": "error",
                "message": { "text": format!("{}: {}", e.path, e.message) },
                "locations": [{ "physicalLocation": { "artifactLocation": { "uri": uri_escape(e.path.trim_start_matches('/')) } } }]
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "strata",
                    "version": report.tool.version,
                    "informationUri": "https://github.com/strata-scanner/strata",
                    "rules": sarif_rules
                }
            },
            "invocations": [{
                "executionSuccessful": report.summary.complete,
                "toolExecutionNotifications": notifications
            }],
            "results": results
        }]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_escape_spaces_but_keep_archive_bang() {
        assert_eq!(uri_escape("a dir/x.zip!in/f.env"), "a%20dir/x.zip!in/f.env");
    }

    #[test]
    fn truncation_flattens_whitespace() {
        assert_eq!(truncate("RUN  apt-get\n update", 100), "RUN apt-get update");
        assert_eq!(truncate("abcdef", 4), "abc…");
    }
}
