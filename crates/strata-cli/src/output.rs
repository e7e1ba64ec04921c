//! Shared by every scanning command: load rules, turn collected hits into a
//! report (inline allow, baseline), write it, and compute the exit code.

use std::{
    fs::File,
    io::{self, BufWriter, IsTerminal, Write},
    time::Instant,
};

use anyhow::{Context, Result};
use strata_engine::{Matcher, MatcherOptions};
use strata_report::{
    write_report, Baseline, FindingBuilder, Fingerprinter, Format, Report, Summary,
};
use strata_rules::{Config, Ruleset};
use strata_sources::Collector;

use crate::args::{ColorArg, FormatArg, OutputArgs, RuleArgs};

/// Loads the ruleset the user asked for and compiles it.
pub fn load_matcher(args: &RuleArgs) -> Result<Matcher> {
    let (ruleset, options) = load_rules(args)?;
    Ok(Matcher::new(&ruleset, options)?)
}

/// Loads the ruleset and matcher options the user asked for (`--rules`,
/// `--config`, `--include-invalid`), without compiling.
pub fn load_rules(args: &RuleArgs) -> Result<(Ruleset, MatcherOptions)> {
    let mut ruleset = match &args.rules {
        Some(dir) => Ruleset::from_dir(dir)?,
        None => Ruleset::embedded().context("loading the embedded ruleset")?,
    };
    let mut options = MatcherOptions {
        report_invalid: args.include_invalid,
        ..Default::default()
    };
    if let Some(path) = &args.config {
        let config = Config::load(path)?;
        config.apply(&mut ruleset)?;
        options.global_allowlist = config.allowlist.clone();
    }
    Ok((ruleset, options))
}

/// Builds the report from what the collector gathered, writes it where the
/// user asked, and returns the exit code.
pub fn finish(
    matcher: &Matcher,
    collector: &Collector,
    started: Instant,
    args: &OutputArgs,
) -> Result<i32> {
    let report = build_report(matcher, collector, started, args, Summary::default())?;
    emit(matcher, &report, args)
}

/// Turns collected hits into a report: inline allow, baseline, summary.
/// `extra` carries summary fields the caller knows (image counts).
pub fn build_report(
    matcher: &Matcher,
    collector: &Collector,
    started: Instant,
    args: &OutputArgs,
    extra: Summary,
) -> Result<Report> {
    let (hits, problems, skipped) = collector.take();
    let builder = FindingBuilder {
        matcher,
        fingerprinter: Fingerprinter::from_env(),
        show_secrets: args.show_secrets,
        inline_allow: !args.no_inline_allow,
        threshold: args.threshold.threshold(),
    };
    let mut suppressed = 0;
    let mut findings = Vec::with_capacity(hits.len());
    for hit in &hits {
        match builder.build(hit) {
            Some(finding) => findings.push(finding),
            // Below the threshold is not "suppressed inline".
            None if hit.found.inline_allow && builder.inline_allow => suppressed += 1,
            None => {}
        }
    }
    let mut baselined = 0;
    if let Some(path) = &args.baseline {
        let baseline = Baseline::load(path)?;
        let before = findings.len();
        findings.retain(|f| !baseline.contains(f));
        baselined = before - findings.len();
    }
    let summary = Summary {
        files_scanned: collector.files(),
        bytes_scanned: collector.bytes(),
        suppressed,
        baselined,
        elapsed_seconds: started.elapsed().as_secs_f64(),
        ..extra
    };
    Ok(Report::new(findings, problems, skipped, summary))
}

/// Writes a report, and the baseline if asked; returns the exit code.
pub fn emit(matcher: &Matcher, report: &Report, args: &OutputArgs) -> Result<i32> {
    if let Some(path) = &args.write_baseline {
        Baseline::write(path, &report.findings)?;
    }
    write_output(matcher, report, args)?;
    if args.write_baseline.is_some() && report.summary.complete {
        return Ok(0);
    }
    Ok(report.exit_code())
}

pub fn write_output(matcher: &Matcher, report: &Report, args: &OutputArgs) -> Result<()> {
    let format = match args.format {
        FormatArg::Text => Format::Text,
        FormatArg::Json => Format::Json,
        FormatArg::Jsonl => Format::Jsonl,
        FormatArg::Sarif => Format::Sarif,
    };
    let rules: Vec<_> = matcher.rules().collect();
    match &args.output {
        Some(path) => {
            let file =
                File::create(path).with_context(|| format!("creating {}", path.display()))?;
            let mut out = BufWriter::new(file);
            let color = args.color == ColorArg::Always;
            write_report(report, format, &rules, color, &mut out)
                .and_then(|()| out.flush())
                .with_context(|| format!("writing {}", path.display()))?;
            // Still tell a person at a terminal how it went.
            if format != Format::Text && io::stderr().is_terminal() {
                let s = &report.summary;
                eprintln!(
                    "strata: {} findings, {} errors, {} skipped; report written to {}",
                    s.findings,
                    s.errors,
                    s.skipped,
                    strata_report::printable(&path.display().to_string())
                );
            }
        }
        None => {
            let stdout = io::stdout();
            let color = match args.color {
                ColorArg::Always => true,
                ColorArg::Never => false,
                ColorArg::Auto => stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none(),
            };
            let mut out = BufWriter::new(stdout.lock());
            match write_report(report, format, &rules, color, &mut out).and_then(|()| out.flush()) {
                Ok(()) => {}
                // A closed pipe (`strata scan | head`) is not a scan failure.
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
                Err(e) => return Err(e).context("writing the report"),
            }
        }
    }
    Ok(())
}
