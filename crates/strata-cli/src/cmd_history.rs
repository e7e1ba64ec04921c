//! `strata history`: a `docker history`-like view of one image — every build
//! step newest first, the layer it made (digest, size), and the findings in
//! that layer and in the step's own command line, with deleted and
//! overwritten secrets marked.

use std::{io::Write, time::Instant};

use anyhow::Result;
use serde::Serialize;
use strata_report::{
    finding::{short_digest, Finding},
    format::{human_bytes, truncate},
    printable, Report,
};
use strata_sources::{
    image::{scan_images, ImageOutcome},
    Collector,
};

use crate::{
    args::{FormatArg, HistoryArgs},
    cmd_image, deadline, output,
};

#[derive(Serialize)]
struct LayerView {
    index: usize,
    digest: String,
    diff_id: Option<String>,
    size: u64,
}

#[derive(Serialize)]
struct StepView {
    step: usize,
    created_by: Option<String>,
    empty_layer: bool,
    layer: Option<LayerView>,
    findings: Vec<Finding>,
}

#[derive(Serialize)]
struct ImageView {
    reference: String,
    manifest_digest: Option<String>,
}

#[derive(Serialize)]
struct HistoryView {
    image: ImageView,
    order: &'static str,
    steps: Vec<StepView>,
    config_findings: Vec<Finding>,
    summary: strata_report::Summary,
    errors: Vec<strata_report::summary::ErrorEntry>,
    skipped: Vec<strata_report::summary::SkippedEntry>,
}

/// Groups the report's findings under the history steps of the image.
fn view(outcome: Option<&ImageOutcome>, reference: &str, report: &Report) -> HistoryView {
    let mut steps = Vec::new();
    let mut config_findings = Vec::new();
    let mut used = vec![false; report.findings.len()];
    if let Some(outcome) = outcome {
        let mut rows: Vec<StepView> = outcome
            .history
            .iter()
            .enumerate()
            .map(|(i, h)| StepView {
                step: i,
                created_by: h.created_by.clone(),
                empty_layer: h.empty_layer,
                layer: None,
                findings: Vec::new(),
            })
            .collect();
        // Layers without a history entry (a config missing its history) still show.
        for layer in &outcome.layers {
            let view = LayerView {
                index: layer.index,
                digest: layer.digest.clone(),
                diff_id: layer.diff_id.clone(),
                size: layer.size,
            };
            match layer.step {
                Some(step) => rows[step].layer = Some(view),
                None => rows.push(StepView {
                    step: rows.len(),
                    created_by: None,
                    empty_layer: false,
                    layer: Some(view),
                    findings: Vec::new(),
                }),
            }
        }
        for (i, finding) in report.findings.iter().enumerate() {
            if let Some(layer) = &finding.layer {
                if let Some(row) = rows
                    .iter_mut()
                    .find(|r| r.layer.as_ref().is_some_and(|l| l.index == layer.index))
                {
                    row.findings.push(finding.clone());
                    used[i] = true;
                }
            } else if let Some(step) = finding
                .config_field
                .as_deref()
                .and_then(|f| f.strip_prefix("history["))
                .and_then(|f| f.split(']').next())
                .and_then(|n| n.parse::<usize>().ok())
            {
                if let Some(row) = rows.get_mut(step) {
                    row.findings.push(finding.clone());
                    used[i] = true;
                }
            }
        }
        rows.reverse();
        steps = rows;
    }
    for (i, finding) in report.findings.iter().enumerate() {
        if !used[i] {
            config_findings.push(finding.clone());
        }
    }
    HistoryView {
        image: ImageView {
            reference: outcome.map_or(reference.to_string(), |o| o.reference.clone()),
            manifest_digest: outcome.and_then(|o| o.manifest_digest.clone()),
        },
        order: "newest-first",
        steps,
        config_findings,
        summary: report.summary.clone(),
        errors: report.errors.clone(),
        skipped: report.skipped.clone(),
    }
}

fn fate_note(finding: &Finding) -> String {
    match &finding.fate {
        Some(fate) if fate.status != "present" => {
            let layer = fate
                .layer_index
                .map(|i| format!(" in layer {i}"))
                .unwrap_or_default();
            format!("  [{}{layer}]", fate.status)
        }
        _ => String::new(),
    }
}

fn finding_line(finding: &Finding) -> String {
    let place = match &finding.config_field {
        Some(field) => format!("config {field}"),
        None => format!("{}:{}", finding.path, finding.line),
    };
    format!(
        "{} {} {}{}",
        finding.rule_id,
        place,
        finding.secret,
        fate_note(finding)
    )
}

/// The text table: 80 columns, newest step first.
fn write_text(view: &HistoryView, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "IMAGE  {}",
        printable(&truncate(&view.image.reference, 73))
    )?;
    if let Some(digest) = &view.image.manifest_digest {
        writeln!(out, "DIGEST {digest}")?;
    }
    writeln!(
        out,
        "Layers newest first; `!` marks a layer holding findings."
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "{:<3} {:<4} {:<19} {:>9} {:>3}  CREATED BY",
        "", "LAYR", "DIGEST", "SIZE", "HIT"
    )?;
    for step in &view.steps {
        let (index, digest, size) = match &step.layer {
            Some(layer) => (
                layer.index.to_string(),
                short_digest(&layer.digest),
                human_bytes(layer.size),
            ),
            None => ("-".into(), "<empty layer>".into(), "0 B".into()),
        };
        let mark = if step.findings.is_empty() { " " } else { "!" };
        let created = truncate(step.created_by.as_deref().unwrap_or("<missing>"), 34);
        let created = printable(&created);
        writeln!(
            out,
            "{mark}{:<2} {:<4} {:<19} {:>9} {:>3}  {created}",
            step.step,
            index,
            digest,
            size,
            step.findings.len()
        )?;
        for finding in &step.findings {
            writeln!(
                out,
                "      └ {}",
                printable(&truncate(&finding_line(finding), 72))
            )?;
        }
    }
    if !view.config_findings.is_empty() {
        writeln!(out)?;
        writeln!(out, "In the image config:")?;
        for finding in &view.config_findings {
            writeln!(
                out,
                "      └ {}",
                printable(&truncate(&finding_line(finding), 72))
            )?;
        }
    }
    for error in &view.errors {
        writeln!(
            out,
            "error: {}",
            printable(&truncate(&format!("{}: {}", error.path, error.message), 73))
        )?;
    }
    let s = &view.summary;
    writeln!(out)?;
    writeln!(
        out,
        "{} findings, {} errors{}",
        s.findings,
        s.errors,
        if s.complete { "" } else { "; SCAN INCOMPLETE" }
    )
}

pub fn run(args: HistoryArgs) -> Result<i32> {
    let started = Instant::now();
    let matcher = output::load_matcher(&args.rules)?;
    let registry = crate::registry::client(&args.source)?;
    let options = cmd_image::image_options(
        &args.source,
        args.output.show_secrets,
        registry.as_ref().map(|r| r as _),
    )?;
    let collector = Collector::new();
    let timeout = args.output.timeout.timeout.as_ref();
    let scanned = deadline::run_until(
        timeout,
        || {
            scan_images(
                std::slice::from_ref(&args.image),
                &matcher,
                &options,
                &collector,
            )
        },
        || {
            let report = deadline::partial_report(&matcher, &collector, started, &args.output)?;
            write_view(&view(None, &args.image, &report), &args)?;
            Ok(report.exit_code())
        },
    );
    let report = output::build_report(
        &matcher,
        &collector,
        started,
        &args.output,
        cmd_image::image_summary(&scanned),
    )?;
    write_view(&view(scanned.images.first(), &args.image, &report), &args)?;
    Ok(report.exit_code())
}

/// Writes the history in the format and to the file asked for.
fn write_view(view: &HistoryView, args: &HistoryArgs) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out: Box<dyn Write> = match &args.output.output {
        Some(path) => Box::new(std::io::BufWriter::new(std::fs::File::create(path)?)),
        None => Box::new(std::io::BufWriter::new(stdout.lock())),
    };
    match args.output.format {
        FormatArg::Json => {
            serde_json::to_writer_pretty(&mut out, view)?;
            writeln!(out)?;
        }
        FormatArg::Text => write_text(view, &mut out)?,
        other => anyhow::bail!("strata history writes text or json, not {other:?}"),
    }
    out.flush()?;
    Ok(())
}
