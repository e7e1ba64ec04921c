//! Command-line definitions. Long help for each flag sits next to the flag.

use std::{path::PathBuf, time::Duration};

use clap::{Args, Parser, Subcommand, ValueEnum};
use strata_report::Threshold;
use strata_rules::{Confidence, Severity};

#[derive(Parser, Debug)]
#[command(
    name = "strata",
    version,
    about = "Find leaked secrets in workspace trees and container images",
    long_about = "Find leaked secrets in workspace trees and container images.\n\n\
Exit codes: 0 nothing found, 1 findings (not in the baseline), 2 the scan was \
incomplete or failed (fail closed: an unreadable input makes it 2 even when \
findings exist)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Scan files, directories and standard input (`-`).
    Scan(ScanArgs),
    /// Scan container images: every layer, the config and the build history.
    Image(ImageArgs),
    /// Show an image's layers newest first, the step that made each, and its findings.
    History(HistoryArgs),
    /// Scan every repository and tag of a registry; each distinct layer once.
    ///
    /// Enumerates the catalog and tags (paginated), resolves every tag to its
    /// manifests (every platform of a multi-platform tag unless --platform),
    /// scans each distinct layer digest once, and streams findings as JSON
    /// lines as images complete, then a summary line. Results are cached by
    /// layer digest (never the secrets themselves), so a rerun over an
    /// unchanged registry pulls no layer. With --shard K/N several processes
    /// share the distinct layers through one --cache-dir; a final
    /// --cached-only run assembles the report without pulling anything.
    Registry(RegistryArgs),
    /// List the rules, or check a rules directory against its own examples.
    #[command(subcommand)]
    Rules(RulesCommand),
}

/// Which rules to use: the embedded default set, or a directory, plus a config.
#[derive(Args, Debug, Clone)]
pub struct RuleArgs {
    /// Use the rules in DIR (every *.toml in it) instead of the embedded set.
    #[arg(long, value_name = "DIR")]
    pub rules: Option<PathBuf>,

    /// Read extra rules, disabled rules and a global allowlist from FILE.
    ///
    /// A config is only read from the path given here: a strata.toml lying
    /// inside a scanned tree is never picked up, so scanned code cannot
    /// allowlist its own secrets.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Also report matches whose checksum or structure is invalid (marked so).
    #[arg(long)]
    pub include_invalid: bool,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Text,
    Json,
    Jsonl,
    Sarif,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorArg {
    Auto,
    Always,
    Never,
}

/// How findings are reported and judged.
#[derive(Args, Debug, Clone)]
pub struct OutputArgs {
    /// Report format.
    #[arg(long, short = 'f', value_enum, default_value = "text")]
    pub format: FormatArg,

    /// Write the report to FILE instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Only findings not in this baseline count (and are reported).
    ///
    /// A finding is in the baseline when the same secret (by fingerprint)
    /// was accepted at the same path; moved lines stay accepted.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,

    /// Write every finding of this scan to FILE as a baseline, then exit 0
    /// unless the scan was incomplete.
    #[arg(long, value_name = "FILE")]
    pub write_baseline: Option<PathBuf>,

    /// Print secrets in full instead of redacted. Reports then hold live credentials.
    #[arg(long)]
    pub show_secrets: bool,

    /// Ignore inline `strata:allow` markers (for strict gates).
    #[arg(long)]
    pub no_inline_allow: bool,

    #[command(flatten)]
    pub threshold: ThresholdArgs,

    /// Colors in text output.
    #[arg(long, value_enum, default_value = "auto")]
    pub color: ColorArg,

    #[command(flatten)]
    pub timeout: TimeoutArg,
}

/// `--min-severity` / `--min-confidence`: which findings are reported.
#[derive(Args, Debug, Clone, Default)]
pub struct ThresholdArgs {
    /// Report only findings of rules at least this severe: critical, high,
    /// medium or low (every rule has one; `strata rules list --json`).
    #[arg(long, value_name = "LEVEL", value_parser = clap::builder::ValueParser::new(parse_severity))]
    pub min_severity: Option<Severity>,

    /// Report only findings of rules at least this confident: high (a
    /// distinctive prefix or checksum), medium (provider keyword + shape)
    /// or low (generic assignments).
    #[arg(long, value_name = "LEVEL", value_parser = clap::builder::ValueParser::new(parse_confidence))]
    pub min_confidence: Option<Confidence>,
}

impl ThresholdArgs {
    pub fn threshold(&self) -> Threshold {
        Threshold {
            min_severity: self.min_severity,
            min_confidence: self.min_confidence,
        }
    }
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    s.parse()
}

fn parse_confidence(s: &str) -> Result<Confidence, String> {
    s.parse()
}

/// `--timeout`: a bound on the whole run.
#[derive(Args, Debug, Clone, Default)]
pub struct TimeoutArg {
    /// Stop after DURATION (`30s`, `5m`, `1h`, or plain seconds) and write
    /// the partial report: everything found so far, every input still in
    /// progress listed as an error, and one error saying the run timed
    /// out. Exits 2. Default: no limit.
    #[arg(long, value_name = "DURATION", value_parser = parse_timeout)]
    pub timeout: Option<Timeout>,
}

/// A `--timeout` as given (kept for messages) and as a duration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeout {
    pub limit: Duration,
    pub spelled: String,
}

#[derive(Args, Debug)]
pub struct ScanArgs {
    /// Files and directories to scan; `-` reads standard input.
    #[arg(default_value = ".", value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Do not scan paths matching GLOB (relative to the scanned directory;
    /// a glob without `/` matches at any depth). Repeatable.
    #[arg(long, short = 'x', value_name = "GLOB")]
    pub exclude: Vec<String>,

    /// Skip files larger than SIZE (e.g. 512K, 64M, 1G); they are listed as skipped.
    #[arg(long, value_name = "SIZE", default_value = "256M", value_parser = parse_size)]
    pub max_file_size: u64,

    /// How many archives deep to look inside (zip, jar, tar, tar.gz, …); 0 scans archives as raw bytes.
    /// An archive past the limit is scanned raw and listed as skipped.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub max_archive_depth: usize,

    /// What the archives inside one file may expand to in all: SIZE, or 100
    /// times the file's size if that is more. Past it (a decompression
    /// bomb) the scan is incomplete and the rest of the file is scanned
    /// without opening archives.
    #[arg(long, value_name = "SIZE", default_value = "1G", value_parser = parse_size)]
    pub max_decompressed: u64,

    /// Scanning threads (default: one per core).
    #[arg(long, short = 'j', value_name = "N", default_value_t = 0)]
    pub threads: usize,

    #[command(flatten)]
    pub rules: RuleArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

/// Where images come from and how to reach registries.
#[derive(Args, Debug, Clone)]
pub struct ImageSourceArgs {
    /// The platform to pick from a multi-arch index (default: the host's).
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<String>,

    /// Registry user name (the password is read from standard input with
    /// --password-stdin). Without it, ~/.docker/config.json (`auths`,
    /// `credsStore`, `credHelpers`) is consulted, then anonymous access.
    #[arg(long, short = 'u', value_name = "USER")]
    pub username: Option<String>,

    /// Read the registry password (or token) from standard input.
    #[arg(long, requires = "username")]
    pub password_stdin: bool,

    /// Talk plain HTTP to HOST[:PORT]. Registries are reached over HTTPS
    /// except localhost and 127.0.0.1, and the hosts named here. Repeatable.
    #[arg(long, value_name = "HOST")]
    pub insecure_registry: Vec<String>,

    /// Docker client config to read registry credentials from
    /// (default: $DOCKER_CONFIG/config.json, else ~/.docker/config.json).
    #[arg(long, value_name = "FILE")]
    pub docker_config: Option<PathBuf>,

    /// How long a registry may take to answer, in seconds (fractions allowed).
    ///
    /// One attempt of a small request (authentication and tokens, a
    /// manifest, a catalog or tag-list page) must complete within it, and a
    /// blob must start within it. A blob's body must then bring at least
    /// 64 KiB in every half of it spent waiting, so a stalled or trickling
    /// transfer fails instead of hanging. All retries of one request stop
    /// after twice it; a credential helper is killed after half of it; a
    /// connection must be made within it (at most 15 s). Each such failure
    /// is an error naming the image (exit 2); the rest of the run goes on.
    #[arg(long, value_name = "SECONDS", default_value = "60", value_parser = parse_seconds)]
    pub registry_timeout: Duration,

    /// Skip files inside layers larger than SIZE after decompression.
    #[arg(long, value_name = "SIZE", default_value = "256M", value_parser = parse_size)]
    pub max_file_size: u64,

    /// How many archives deep to look inside layers (jar, zip, tar.gz, …).
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub max_archive_depth: usize,

    /// How far a layer may expand from its compressed blob, and what the
    /// archives inside a layer may expand to in all: SIZE, or 100 times the
    /// layer's compressed size if that is more. Past it (a decompression
    /// bomb) the layer is an error.
    #[arg(long, value_name = "SIZE", default_value = "1G", value_parser = parse_size)]
    pub max_decompressed: u64,

    /// Layers scanned in parallel (default: one per core).
    #[arg(long, short = 'j', value_name = "N", default_value_t = 0)]
    pub jobs: usize,
}

#[derive(Args, Debug)]
pub struct ImageArgs {
    /// Images: `docker://REF`, `REGISTRY/REPO:TAG`, `REPO@sha256:…`,
    /// `docker-archive:PATH`, `oci:DIR[:TAG]`, `oci-archive:PATH`, or a bare
    /// path (a tar → docker save or OCI archive; a directory → OCI layout).
    /// Layers shared by several images are scanned once.
    #[arg(value_name = "IMAGE")]
    pub images: Vec<String>,

    /// A `docker save` tarball (legacy or Docker 25+ layout) or an OCI archive. Repeatable.
    #[arg(long, value_name = "PATH")]
    pub archive: Vec<String>,

    /// An OCI image layout directory, optionally with :TAG. Repeatable.
    #[arg(long, value_name = "DIR[:TAG]")]
    pub oci: Vec<String>,

    #[command(flatten)]
    pub source: ImageSourceArgs,

    #[command(flatten)]
    pub rules: RuleArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// The image (any form `strata image` takes).
    #[arg(value_name = "IMAGE")]
    pub image: String,

    #[command(flatten)]
    pub source: ImageSourceArgs,

    #[command(flatten)]
    pub rules: RuleArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Args, Debug)]
pub struct RegistryArgs {
    /// The registry: `host[:port]` or `https://host[:port]`. `http://` asks
    /// for plain HTTP (as --insecure-registry does for the host).
    #[arg(value_name = "REGISTRY")]
    pub registry: String,

    /// Only repositories matching this glob (repeatable), e.g. 'team/*'.
    #[arg(long = "repo", value_name = "GLOB")]
    pub repos: Vec<String>,

    /// Only tags matching this glob (repeatable), e.g. 'v*'.
    #[arg(long = "tag", value_name = "GLOB")]
    pub tags: Vec<String>,

    /// Where scan results are cached, by layer digest. Default: the
    /// platform cache directory (~/.cache/strata on Linux).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Neither read nor write the result cache.
    #[arg(long, conflicts_with_all = ["cache_dir", "cached_only", "shard"])]
    pub no_cache: bool,

    /// Be shard K of N (K from 0, like Kubernetes' JOB_COMPLETION_INDEX):
    /// scan only this shard's share of the distinct layers (and of the image
    /// configs) into the cache. Reports no findings; a --cached-only run
    /// over the same cache does.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<strata_batch::Shard>,

    /// Take every result from the cache and pull no blob; anything missing
    /// from the cache is an error (exit 2).
    #[arg(long, conflicts_with = "shard")]
    pub cached_only: bool,

    /// Entries asked for per catalog or tag-list page (the registry may cap it).
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub page_size: usize,

    /// No progress bar (it is only ever shown when stderr is a terminal).
    #[arg(long)]
    pub no_progress: bool,

    #[command(flatten)]
    pub source: ImageSourceArgs,

    #[command(flatten)]
    pub rules: RuleArgs,

    /// Output format. `jsonl` streams one finding per line as images
    /// complete, then a summary line; the others are written at the end.
    #[arg(long, short = 'f', value_enum, default_value = "jsonl")]
    pub format: FormatArg,

    /// Write the report to FILE instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Leave out findings accepted in this baseline file.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,

    /// Print secrets in full. The cache never holds them, so this also
    /// turns the cache off.
    #[arg(long, conflicts_with_all = ["cached_only", "shard"])]
    pub show_secrets: bool,

    /// Report findings on lines marked `strata:allow` too.
    #[arg(long)]
    pub no_inline_allow: bool,

    #[command(flatten)]
    pub threshold: ThresholdArgs,

    #[command(flatten)]
    pub timeout: TimeoutArg,
}

#[derive(Subcommand, Debug)]
pub enum RulesCommand {
    /// List the rules in use.
    List {
        #[command(flatten)]
        rules: RuleArgs,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Check rules: every example must match its rule, no counterexample may.
    ///
    /// With DIR, checks the rules in DIR; without, the embedded set.
    /// Exits 1 if any rule fails its own examples, 2 if the rules do not load.
    Check {
        /// Rules directory to check.
        #[arg(value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// Parses a positive number of seconds (`60`, `0.5`), at most a day.
pub fn parse_seconds(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds like 60 or 2.5"))?;
    if !(seconds > 0.0 && seconds <= 86_400.0) {
        return Err(format!(
            "{text:?}: give more than 0 and at most 86400 seconds"
        ));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Parses `123`, `64K`, `256M`, `1G` (binary units) into bytes.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let number: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a size like 64M"))?;
    let shift = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        other => return Err(format!("unknown size unit {other:?} (use K, M or G)")),
    };
    number
        .checked_mul(1 << shift)
        .ok_or_else(|| format!("{text:?} is too large"))
}

/// Parses `30s`, `5m`, `1h` or plain seconds (`90`) into a [`Timeout`].
pub fn parse_timeout(text: &str) -> Result<Timeout, String> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (digits, unit) = trimmed.split_at(split);
    let number: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 30s, 5m or 1h"))?;
    let seconds = match unit.trim() {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        other => return Err(format!("unknown duration unit {other:?} (use s, m or h)")),
    };
    let total = number
        .checked_mul(seconds)
        .ok_or_else(|| format!("{text:?} is too long"))?;
    if total == 0 {
        return Err("a timeout must be at least 1s".into());
    }
    Ok(Timeout {
        limit: Duration::from_secs(total),
        spelled: trimmed.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_parse() {
        let secs = |t: &str| parse_timeout(t).map(|t| t.limit.as_secs());
        assert_eq!(secs("30s"), Ok(30));
        assert_eq!(secs("5m"), Ok(300));
        assert_eq!(secs("1h"), Ok(3600));
        assert_eq!(secs("90"), Ok(90));
        assert_eq!(parse_timeout("2s").unwrap().spelled, "2s");
        assert!(parse_timeout("0").is_err());
        assert!(parse_timeout("5d").is_err());
        assert!(parse_timeout("s").is_err());
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("10").unwrap(), 10);
        assert_eq!(parse_size("64K").unwrap(), 64 << 10);
        assert_eq!(parse_size("256M").unwrap(), 256 << 20);
        assert_eq!(parse_size("1g").unwrap(), 1 << 30);
        assert!(parse_size("12Q").is_err());
        assert!(parse_size("M").is_err());
    }

    #[test]
    fn seconds_parse() {
        assert_eq!(parse_seconds("60").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_seconds("0.5").unwrap(), Duration::from_millis(500));
        for bad in ["0", "-1", "NaN", "inf", "1e9", "soon"] {
            assert!(parse_seconds(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
