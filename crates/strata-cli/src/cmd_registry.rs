//! `strata registry`: a registry-wide batch scan (see strata-batch). This
//! module turns flags into a plan and options, draws the progress bar, and
//! streams the report.

use std::{
    fs::File,
    io::{self, BufWriter, IsTerminal, Write},
    path::PathBuf,
    sync::Mutex,
    time::Instant,
};

use anyhow::{bail, Context, Result};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use strata_batch::{make_plan, run_plan, Cache, Plan, Profile, RunOptions, RunOutcome, Selection};
use strata_engine::Matcher;
use strata_report::{
    write_jsonl_finding, write_jsonl_summary, Baseline, Finding, FindingBuilder, Fingerprinter,
    Report, Summary,
};
use strata_sources::{image::platform::Platform, Collector, Limits, Problem};

use crate::{
    args::{FormatArg, OutputArgs, RegistryArgs, TimeoutArg},
    cmd_image::image_options,
    deadline, output,
};

/// `https://host:5000/` → (`host:5000`, plain HTTP asked for?).
fn registry_host(text: &str) -> Result<(String, bool)> {
    let (plain, rest) = if let Some(rest) = text.strip_prefix("http://") {
        (true, rest)
    } else if let Some(rest) = text.strip_prefix("https://") {
        (false, rest)
    } else {
        (false, text)
    };
    let host = rest.trim_end_matches('/');
    if host.is_empty() || host.contains('/') || host.contains('@') {
        bail!("{text:?} is not a registry (expected host[:port] or https://host[:port])");
    }
    Ok((host.to_string(), plain))
}

/// Everything that changes what a layer scan reports, for the cache profile.
fn profile_options(matcher: &Matcher, limits: &Limits, fingerprinter: &Fingerprinter) -> String {
    let options = matcher.options();
    let allow = &options.global_allowlist;
    // `sealed=2`: sealed matches carry the secret's length, which masking
    // build commands needs; records written before it have none.
    format!(
        "sealed=2\nreport_invalid={}\nallow_paths={:?}\nallow_regexes={:?}\nallow_stopwords={:?}\n\
         fingerprint={}\nmax_file_size={}\nmax_entry_size={}\nmax_archive_depth={}\nmax_buffered_archive={}\n\
         max_decompressed={}\nmax_expansion_ratio={}\nmax_archive_entries={}",
        options.report_invalid,
        allow.path_globs,
        allow.regexes,
        allow.stopwords,
        fingerprinter.mode(),
        limits.max_file_size,
        limits.max_entry_size,
        limits.max_archive_depth,
        limits.max_buffered_archive,
        limits.max_decompressed,
        limits.max_expansion_ratio,
        limits.max_archive_entries,
    )
}

/// The progress bar: images assembled, and layer bytes pulled.
struct Bars {
    images: ProgressBar,
    bytes: ProgressBar,
    _multi: MultiProgress,
}

impl Bars {
    fn new() -> Bars {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let images = multi.add(ProgressBar::new(0));
        images.set_style(
            ProgressStyle::with_template("{prefix:>7} [{bar:30}] {pos}/{len} images ({per_sec})")
                .expect("valid template")
                .progress_chars("=> "),
        );
        images.set_prefix("images");
        let bytes = multi.add(ProgressBar::new(0));
        bytes.set_style(
            ProgressStyle::with_template(
                "{prefix:>7} [{bar:30}] {bytes}/{total_bytes} of layers ({bytes_per_sec}, {eta} left)",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bytes.set_prefix("pulled");
        Bars {
            images,
            bytes,
            _multi: multi,
        }
    }
}

impl strata_batch::Progress for Bars {
    fn planned(&self, images: usize, _layers: usize, bytes: u64) {
        self.images.set_length(images as u64);
        self.bytes.set_length(bytes);
    }
    fn layer_done(&self, blob_bytes: u64) {
        self.bytes.inc(blob_bytes);
    }
    fn image_done(&self) {
        self.images.inc(1);
    }
}

pub fn run(args: RegistryArgs) -> Result<i32> {
    let started = Instant::now();
    let (host, plain) = registry_host(&args.registry)?;
    let (ruleset, matcher_options) = output::load_rules(&args.rules)?;
    let ruleset_fingerprint = ruleset.fingerprint();
    let matcher = Matcher::new(&ruleset, matcher_options)?;
    let mut source = args.source.clone();
    if plain {
        source.insecure_registry.push(host.clone());
    }
    let platform = match &source.platform {
        Some(text) => Some(text.parse::<Platform>().map_err(anyhow::Error::msg)?),
        None => None,
    };
    let limits = image_options(&source, false, None)?.limits;
    let fingerprinter = Fingerprinter::from_env();
    let use_cache = !args.no_cache && !args.show_secrets;
    let cache = if use_cache {
        let root: PathBuf = match &args.cache_dir {
            Some(dir) => dir.clone(),
            None => strata_batch::default_cache_root().context(
                "no cache directory (set --cache-dir, XDG_CACHE_HOME or HOME, or pass --no-cache)",
            )?,
        };
        let profile = Profile {
            strata_version: env!("CARGO_PKG_VERSION").to_string(),
            ruleset_fingerprint,
            options: profile_options(&matcher, &limits, &fingerprinter),
        };
        Some(Cache::open(&root, &profile)?)
    } else {
        None
    };
    let baseline = match &args.baseline {
        Some(path) => Some(Baseline::load(path)?),
        None => None,
    };
    let client = crate::registry::client(&source)?.expect("the registry client is always built");
    let jobs = if source.jobs == 0 {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    } else {
        source.jobs
    };
    let selection = Selection {
        registry: host.clone(),
        repositories: args.repos.clone(),
        tags: args.tags.clone(),
        platform,
        page_size: args.page_size,
    };
    strata_batch::plan::check_globs(&selection)?;
    // Listing, manifests and configs are round trips: more of them in
    // flight than cores.
    let network_jobs = (jobs * 4).clamp(4, 32);
    let network_pool = rayon::ThreadPoolBuilder::new()
        .num_threads(network_jobs)
        .build()
        .context("starting the listing threads")?;

    let show_progress = !args.no_progress && io::stderr().is_terminal();
    let bars = show_progress.then(Bars::new);
    let builder = FindingBuilder {
        matcher: &matcher,
        fingerprinter,
        show_secrets: args.show_secrets,
        inline_allow: !args.no_inline_allow,
        threshold: args.threshold.threshold(),
    };
    // What is in progress, for a report cut short by --timeout.
    let tracker = Collector::new();
    let options = RunOptions {
        limits,
        jobs,
        network_jobs,
        shard: args.shard,
        cache: cache.as_ref(),
        cached_only: args.cached_only,
        in_progress: Some(&tracker),
    };

    // Where findings go: streamed for JSONL, gathered for the rest.
    let streaming = args.format == FormatArg::Jsonl;
    let sink: Box<dyn Write + Send> = match (&args.output, streaming) {
        (Some(path), true) => Box::new(BufWriter::new(
            File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        (None, true) => Box::new(io::stdout()),
        (_, false) => Box::new(io::sink()),
    };
    // Shared with the main thread, which writes the report if the run
    // times out.
    let emitted = Mutex::new(Emitted {
        sink,
        gathered: Vec::new(),
        reported: 0,
        baselined: 0,
        write_error: None,
    });
    let output_args = OutputArgs {
        format: args.format,
        output: args.output.clone(),
        baseline: None,
        write_baseline: None,
        show_secrets: args.show_secrets,
        no_inline_allow: args.no_inline_allow,
        color: crate::args::ColorArg::Auto,
        timeout: TimeoutArg::default(),
        threshold: args.threshold.clone(),
    };
    let timeout = args.timeout.timeout.as_ref();
    let finish_bars = || {
        if let Some(bars) = &bars {
            bars.images.finish_and_clear();
            bars.bytes.finish_and_clear();
        }
    };
    let work = || -> Result<(Plan, RunOutcome)> {
        let plan = {
            let _listing = tracker.begin(host.clone());
            make_plan(&client, &selection, &network_pool).map_err(anyhow::Error::msg)?
        };
        let mut emit = |finding: Finding| -> bool {
            let mut emitted = emitted.lock().unwrap();
            if baseline.as_ref().is_some_and(|b| b.contains(&finding)) {
                emitted.baselined += 1;
                return false;
            }
            emitted.reported += 1;
            if streaming {
                if emitted.write_error.is_none() {
                    let Emitted { sink, .. } = &mut *emitted;
                    if let Err(e) = write_jsonl_finding(&finding, sink).and_then(|()| sink.flush())
                    {
                        emitted.write_error = Some(e);
                    }
                }
            } else {
                emitted.gathered.push(finding);
            }
            true
        };
        let progress: &dyn strata_batch::Progress = match &bars {
            Some(bars) => bars,
            None => &strata_batch::NoProgress,
        };
        let outcome = run_plan(
            &client, &matcher, &builder, &plan, &options, progress, &mut emit,
        );
        Ok((plan, outcome))
    };
    let on_timeout = || -> Result<i32> {
        finish_bars();
        let timeout = timeout.expect("a timeout passed");
        deadline::record_timeout(&tracker, timeout);
        let (_, problems, skipped) = tracker.take();
        let mut emitted = emitted.lock().unwrap();
        let summary = Summary {
            baselined: emitted.baselined,
            elapsed_seconds: started.elapsed().as_secs_f64(),
            registry: Some(strata_report::RegistrySummary {
                registry: host.clone(),
                ..Default::default()
            }),
            ..Summary::default()
        };
        let gathered = std::mem::take(&mut emitted.gathered);
        let report = Report::new(gathered, problems, skipped, summary);
        write_registry_report(&matcher, report, &output_args, streaming, &mut emitted)
    };
    let (plan, outcome) = deadline::run_until(timeout, work, on_timeout)?;
    finish_bars();
    let mut emitted = emitted.into_inner().unwrap();
    if let Some(e) = emitted.write_error.take() {
        if e.kind() != io::ErrorKind::BrokenPipe {
            return Err(e).context("writing the report");
        }
    }

    let summary = Summary {
        files_scanned: outcome.files,
        bytes_scanned: outcome.bytes,
        suppressed: outcome.suppressed,
        baselined: emitted.baselined,
        elapsed_seconds: started.elapsed().as_secs_f64(),
        images: Some(plan.images.len()),
        layers: Some(
            plan.images
                .iter()
                .map(|i| i.tagged.manifest.layers.len())
                .sum(),
        ),
        layers_scanned: Some(outcome.summary.layers_scanned),
        registry: Some(strata_report::RegistrySummary {
            registry: host.clone(),
            ..outcome.summary
        }),
        ..Summary::default()
    };
    let problems: Vec<Problem> = outcome.problems;
    let gathered = std::mem::take(&mut emitted.gathered);
    let report = Report::new(gathered, problems, outcome.skipped, summary);
    if streaming && args.output.is_some() && io::stderr().is_terminal() {
        eprintln!(
            "strata: {} findings, {} errors over {} images; report written",
            emitted.reported,
            report.summary.errors,
            plan.images.len()
        );
    }
    write_registry_report(&matcher, report, &output_args, streaming, &mut emitted)
}

/// Findings as they were handed out, and where streamed ones went.
struct Emitted {
    sink: Box<dyn Write + Send>,
    /// Kept for formats written at the end.
    gathered: Vec<Finding>,
    reported: usize,
    baselined: usize,
    write_error: Option<io::Error>,
}

/// Ends the report: the summary line after streamed findings, or the whole
/// report in the other formats. Returns the exit code.
fn write_registry_report(
    matcher: &Matcher,
    mut report: Report,
    output_args: &OutputArgs,
    streaming: bool,
    emitted: &mut Emitted,
) -> Result<i32> {
    if streaming {
        report.summary.findings = emitted.reported;
        match write_jsonl_summary(&report, &mut emitted.sink).and_then(|()| emitted.sink.flush()) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
            Err(e) => return Err(e).context("writing the report"),
        }
    } else {
        output::write_output(matcher, &report, output_args)?;
    }
    Ok(report.exit_code())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_arguments() {
        assert_eq!(
            registry_host("localhost:5000").unwrap(),
            ("localhost:5000".into(), false)
        );
        assert_eq!(
            registry_host("https://reg.example/").unwrap(),
            ("reg.example".into(), false)
        );
        assert_eq!(
            registry_host("http://10.0.0.2:5000").unwrap(),
            ("10.0.0.2:5000".into(), true)
        );
        assert!(registry_host("reg.example/team/app").is_err());
        assert!(registry_host("https://").is_err());
    }
}
