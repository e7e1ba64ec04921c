//! Carrying out a plan: image configs first (small, and they carry the
//! diff ids the layer checks need), then every distinct layer this run is
//! responsible for, scanned once on a bounded pool, each result cached as
//! it lands. Images are assembled as soon as every layer they stack is
//! known — from this run or from the cache — so findings stream out while
//! the rest of the registry is still being pulled, and a layer's result is
//! dropped from memory when the last image using it is done.

use std::{
    collections::{HashMap, HashSet},
    sync::{mpsc, Arc},
};

use rayon::prelude::*;
use strata_engine::Matcher;
use strata_report::{
    finding::{FateField, ImageField, LayerField},
    Finding, FindingBuilder, RegistrySummary, SealedMatch,
};
use strata_sources::{
    image::{
        fate::{fate_of, LayerEvents},
        layer::scan_layer,
        layer_place, masked_history,
        priority::Priority,
        registry::RegistryClient,
        resolve::LayerRef,
        scan_config,
        spec::History,
    },
    origin::ImageContext,
    Collector, Limits, Problem, Skipped,
};

use crate::{
    cache::{Cache, ConfigRecord, LayerRecord, SkippedFile},
    plan::{Plan, PlannedImage},
    shard::Shard,
};

/// How to carry out a plan.
pub struct RunOptions<'a> {
    pub limits: Limits,
    /// Layers scanned at once (each holds a few MB of decoded data in flight).
    pub jobs: usize,
    /// Image configs pulled at once: round trips, not CPU.
    pub network_jobs: usize,
    pub shard: Option<Shard>,
    pub cache: Option<&'a Cache>,
    /// Take every result from the cache; pull no blob.
    pub cached_only: bool,
    /// Where the configs and layers in progress are tracked (for a report
    /// cut short by `--timeout`), if anywhere.
    pub in_progress: Option<&'a Collector>,
}

/// Progress callbacks (a progress bar in the CLI).
pub trait Progress: Sync {
    /// The plan is made: images to assemble, layers and bytes to pull.
    fn planned(&self, _images: usize, _layers: usize, _bytes: u64) {}
    fn layer_done(&self, _blob_bytes: u64) {}
    fn image_done(&self) {}
}

/// No progress display.
pub struct NoProgress;
impl Progress for NoProgress {}

/// What a run produced besides the findings it emitted.
#[derive(Debug, Default)]
pub struct RunOutcome {
    pub summary: RegistrySummary,
    pub problems: Vec<Problem>,
    pub skipped: Vec<Skipped>,
    /// Files and uncompressed bytes scanned in this run.
    pub files: u64,
    pub bytes: u64,
    /// Findings suppressed by an inline `strata:allow`.
    pub suppressed: usize,
}

/// A layer's result for this run.
enum LayerState {
    /// Cached before this run started (loaded when an image needs it).
    Cached,
    /// Scanned in this run.
    Scanned(Arc<LayerRecord>),
    /// Not this shard's to scan.
    NotMine,
    /// Could not be scanned (or is missing from the cache with
    /// `--cached-only`); what was read before the failure, if anything.
    Failed(Option<Arc<LayerRecord>>),
    /// Still being scanned.
    Pending,
    /// Every image that needed it is assembled; the record is dropped.
    Released,
}

/// Carries out `plan`. `emit` gets each finding as its image completes and
/// answers whether it was reported (not in the baseline).
pub fn run_plan(
    client: &RegistryClient,
    matcher: &Matcher,
    builder: &FindingBuilder<'_>,
    plan: &Plan,
    options: &RunOptions<'_>,
    progress: &dyn Progress,
    emit: &mut dyn FnMut(Finding) -> bool,
) -> RunOutcome {
    let mut outcome = RunOutcome {
        summary: RegistrySummary {
            repositories: plan.repositories,
            tags: plan.tags,
            images: plan.images.len(),
            distinct_layers: plan.layers.len(),
            shard: options.shard.map(|s| s.to_string()),
            cache_dir: options.cache.map(|c| c.dir().display().to_string()),
            ..RegistrySummary::default()
        },
        ..RunOutcome::default()
    };
    outcome.problems.extend(plan.problems.iter().cloned());
    let mine = |digest: &str| options.shard.is_none_or(|s| s.owns(digest));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.jobs.max(1))
        .build()
        .expect("building the scan thread pool");

    // 1. Configs, once per distinct manifest.
    let distinct = plan.distinct_images();
    outcome.summary.distinct_images = distinct.len();
    let layer_owner: HashSet<usize> = plan
        .layers
        .iter()
        .filter(|l| mine(&l.digest) && !options.cache.is_some_and(|c| c.has_layer(&l.digest)))
        .map(|l| l.first_image)
        .collect();
    let network_pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.network_jobs.max(1))
        .build()
        .expect("building the config thread pool");
    let config_results: Vec<(usize, ConfigOutcome)> = network_pool.install(|| {
        distinct
            .par_iter()
            .map(|&i| {
                let image = &plan.images[i];
                let needed_for_layers = layer_owner.contains(&i);
                let _in_progress = options
                    .in_progress
                    .map(|c| c.begin(format!("{} ({})", image.reference, image.manifest_digest())));
                (
                    i,
                    config_for(client, matcher, builder, image, options, needed_for_layers),
                )
            })
            .collect()
    });
    let mut configs: HashMap<String, Arc<ConfigRecord>> = HashMap::new();
    let mut configs_to_cache: HashSet<String> = HashSet::new();
    for (i, result) in config_results {
        let image = &plan.images[i];
        match result {
            ConfigOutcome::Cached(record) => {
                outcome.summary.config_cache_hits += 1;
                configs.insert(image.manifest_digest().to_string(), Arc::new(record));
            }
            ConfigOutcome::Scanned(record) => {
                outcome.summary.configs_scanned += 1;
                // Cached once the image's layer results are known: its
                // build commands are masked with their secrets first.
                if options.cache.is_some() {
                    configs_to_cache.insert(image.manifest_digest().to_string());
                }
                configs.insert(image.manifest_digest().to_string(), Arc::new(record));
            }
            ConfigOutcome::Pulled(record) => {
                configs.insert(image.manifest_digest().to_string(), Arc::new(record));
            }
            ConfigOutcome::NotMine => {}
            ConfigOutcome::Failed(message) => outcome.problems.push(Problem {
                path: format!("{} ({})", image.reference, image.manifest_digest()),
                message,
            }),
        }
    }
    let gets_before_layers = client.blob_gets();

    // 2. Layers: what this run scans, what it takes from the cache.
    let mut states: HashMap<String, LayerState> = HashMap::new();
    let mut to_scan = Vec::new();
    for layer in &plan.layers {
        let state = if options.cache.is_some_and(|c| c.has_layer(&layer.digest)) {
            outcome.summary.cache_hits += 1;
            LayerState::Cached
        } else if options.cached_only {
            outcome.problems.push(Problem {
                path: layer_place(&plan.images[layer.first_image].reference, &layer.digest, ""),
                message: "not in the cache (--cached-only pulls nothing: run every shard first)"
                    .into(),
            });
            LayerState::Failed(None)
        } else if !mine(&layer.digest) {
            LayerState::NotMine
        } else {
            to_scan.push(layer);
            LayerState::Pending
        };
        states.insert(layer.digest.clone(), state);
    }
    outcome.summary.shard_layers = plan.layers.iter().filter(|l| mine(&l.digest)).count();
    let assembling = options.shard.is_none();
    let mut waiting_on: Vec<usize> = vec![0; plan.images.len()];
    let mut images_of: HashMap<&str, Vec<usize>> = HashMap::new();
    if assembling {
        for (i, image) in plan.images.iter().enumerate() {
            let unique: HashSet<&str> = image.layer_digests().collect();
            for digest in unique {
                images_of.entry(digest).or_default().push(i);
                if matches!(states[digest], LayerState::Pending) {
                    waiting_on[i] += 1;
                }
            }
        }
    }
    // Images still to assemble, per layer: a loaded record is dropped at 0.
    let users: HashMap<&str, usize> = images_of.iter().map(|(d, i)| (*d, i.len())).collect();
    progress.planned(
        if assembling { plan.images.len() } else { 0 },
        to_scan.len(),
        to_scan.iter().map(|l| l.size).sum(),
    );

    let mut assembler = Assembler {
        plan,
        builder,
        cache: options.cache,
        configs: &configs,
        users,
        loaded: HashMap::new(),
        skipped_reported: HashSet::new(),
        configs_to_cache,
        outcome: &mut outcome,
        emit,
    };
    if assembling {
        for (i, waiting) in waiting_on.iter().enumerate() {
            if *waiting == 0 {
                assembler.assemble(i, &states);
                progress.image_done();
            }
        }
    }

    let first_image: HashMap<&str, usize> = plan
        .layers
        .iter()
        .map(|l| (l.digest.as_str(), l.first_image))
        .collect();
    // 3. Scan, on the pool; results come back here in completion order.
    let (tx, rx) = mpsc::channel::<(String, ScannedLayer)>();
    std::thread::scope(|scope| {
        let to_scan = &to_scan;
        let configs = &configs;
        let pool = &pool;
        scope.spawn(move || {
            pool.install(|| {
                to_scan.par_iter().for_each_with(tx, |tx, layer| {
                    let image = &plan.images[layer.first_image];
                    let _in_progress = options
                        .in_progress
                        .map(|c| c.begin(layer_place(&image.reference, &layer.digest, "")));
                    let diff_id = configs
                        .get(image.manifest_digest())
                        .and_then(|c| c.diff_ids.get(layer.index_in_first).cloned());
                    let scanned = scan_one(
                        client,
                        matcher,
                        builder,
                        image,
                        &layer.digest,
                        diff_id,
                        layer.size,
                        &options.limits,
                    );
                    let _ = tx.send((layer.digest.clone(), scanned));
                })
            })
        });
        for (digest, scanned) in rx {
            let record = Arc::new(scanned.record);
            let outcome = &mut *assembler.outcome;
            outcome.files += record.files;
            outcome.bytes += record.bytes;
            outcome.summary.bytes_pulled += record.blob_bytes;
            outcome.summary.bytes_scanned += record.bytes;
            outcome.summary.layers_scanned += 1;
            progress.layer_done(record.blob_bytes);
            let reference = &plan.images[first_image[digest.as_str()]].reference;
            let failed = !scanned.problems.is_empty();
            for problem in scanned.problems {
                outcome.problems.push(Problem {
                    path: layer_place(reference, &digest, &problem.path),
                    message: problem.message,
                });
            }
            if !failed {
                if let Some(Err(e)) = options.cache.map(|c| c.put_layer(&record)) {
                    outcome.problems.push(Problem {
                        path: layer_place(reference, &digest, ""),
                        message: e.to_string(),
                    });
                }
            }
            if !assembling {
                // A shard only fills the cache; report its skipped files.
                assembler.report_skipped(reference, &record);
                continue;
            }
            let state = if failed {
                LayerState::Failed(Some(record))
            } else {
                LayerState::Scanned(record)
            };
            states.insert(digest.clone(), state);
            for &i in images_of.get(digest.as_str()).into_iter().flatten() {
                waiting_on[i] -= 1;
                if waiting_on[i] == 0 {
                    assembler.assemble(i, &states);
                    progress.image_done();
                }
            }
            // Everything that needed this result has it now.
            if images_of
                .get(digest.as_str())
                .is_none_or(|v| v.iter().all(|&i| waiting_on[i] == 0))
            {
                states.insert(digest, LayerState::Released);
            }
        }
    });
    // A shard assembles no image: it caches the configs it scanned now,
    // masked with every layer result it can see (its own, and the cache's).
    if !assembling {
        let mut to_cache: Vec<String> = assembler.configs_to_cache.iter().cloned().collect();
        to_cache.sort();
        for manifest_digest in to_cache {
            if let Some(i) = plan
                .images
                .iter()
                .position(|image| image.manifest_digest() == manifest_digest)
            {
                let records: Vec<Option<Arc<LayerRecord>>> = plan.images[i]
                    .layer_digests()
                    .map(|digest| {
                        options
                            .cache
                            .and_then(|c| c.get_layer(digest).ok().flatten())
                            .map(Arc::new)
                    })
                    .collect();
                assembler.cache_config(i, &records);
            }
        }
    }
    drop(assembler);
    outcome.summary.layer_blob_requests = client.blob_gets() - gets_before_layers;
    outcome
}

/// A scanned layer: its record, and any problems (then it is not cached).
struct ScannedLayer {
    record: LayerRecord,
    problems: Vec<Problem>,
}

#[allow(clippy::too_many_arguments)]
fn scan_one(
    client: &RegistryClient,
    matcher: &Matcher,
    builder: &FindingBuilder<'_>,
    image: &PlannedImage,
    digest: &str,
    diff_id: Option<String>,
    size: u64,
    limits: &Limits,
) -> ScannedLayer {
    let source = match client.blob_source(&image.reference) {
        Ok(source) => source,
        Err(message) => {
            return ScannedLayer {
                record: empty_record(digest),
                problems: vec![Problem {
                    path: String::new(),
                    message,
                }],
            }
        }
    };
    let layer = LayerRef {
        digest: digest.to_string(),
        diff_id,
        size,
    };
    // A registry-wide run is about throughput across many layers, not one
    // image's critical path: every layer at the same priority.
    let scan = scan_layer(source.as_ref(), &layer, matcher, limits, Priority::Normal);
    ScannedLayer {
        record: LayerRecord {
            digest: digest.to_string(),
            blob_bytes: scan.blob_bytes,
            files: scan.files,
            bytes: scan.bytes,
            events: scan.events,
            matches: scan.hits.iter().map(|hit| builder.seal(hit)).collect(),
            skipped: scan
                .skipped
                .into_iter()
                .map(|s| SkippedFile {
                    path: s.path,
                    reason: s.reason,
                })
                .collect(),
        },
        problems: scan.problems,
    }
}

fn empty_record(digest: &str) -> LayerRecord {
    LayerRecord {
        digest: digest.to_string(),
        blob_bytes: 0,
        files: 0,
        bytes: 0,
        events: LayerEvents::default(),
        matches: Vec::new(),
        skipped: Vec::new(),
    }
}

enum ConfigOutcome {
    Cached(ConfigRecord),
    /// Scanned in this run (cached once its layers' results are known).
    Scanned(ConfigRecord),
    /// Pulled only for its diff ids (another shard owns it).
    Pulled(ConfigRecord),
    NotMine,
    Failed(String),
}

fn config_for(
    client: &RegistryClient,
    matcher: &Matcher,
    builder: &FindingBuilder<'_>,
    image: &PlannedImage,
    options: &RunOptions<'_>,
    needed_for_layers: bool,
) -> ConfigOutcome {
    let digest = image.manifest_digest();
    if let Some(cache) = options.cache {
        match cache.get_config(digest) {
            Ok(Some(record)) => return ConfigOutcome::Cached(record),
            Ok(None) => {}
            Err(e) if options.cached_only => return ConfigOutcome::Failed(e.to_string()),
            Err(_) => {} // rescanned below and overwritten
        }
    }
    if options.cached_only {
        return ConfigOutcome::Failed(
            "image config results are not in the cache (--cached-only pulls nothing: run every shard first)".into(),
        );
    }
    let owner = options.shard.is_none_or(|s| s.owns(digest));
    if !owner && !needed_for_layers {
        return ConfigOutcome::NotMine;
    }
    let resolved = match client.image_from_tagged(&image.tagged) {
        Ok(resolved) => resolved,
        Err(message) => return ConfigOutcome::Failed(message),
    };
    let diff_ids = resolved
        .config
        .rootfs
        .as_ref()
        .map(|r| r.diff_ids.clone())
        .unwrap_or_default();
    let context = Arc::new(ImageContext {
        reference: image.reference.clone(),
        manifest_digest: Some(digest.to_string()),
    });
    let hits = scan_config(&resolved.config, &context, matcher);
    // Masked with the config's own secrets now; the layers' secrets are
    // masked in when the image is assembled, before the record is cached.
    let history = if builder.show_secrets {
        resolved.config.history.clone()
    } else {
        masked_history(
            &resolved.config,
            hits.iter().map(|h| h.found.secret.as_slice()),
        )
    };
    let record = ConfigRecord {
        manifest_digest: digest.to_string(),
        config_digest: image.tagged.manifest.config.digest.clone(),
        diff_ids,
        history,
        matches: hits.iter().map(|h| builder.seal(h)).collect(),
    };
    if !owner {
        return ConfigOutcome::Pulled(record);
    }
    ConfigOutcome::Scanned(record)
}

/// `history` with every secret behind the layers' sealed matches masked
/// (unless secrets are shown): build commands may repeat a value that only
/// a file's context made a finding (`RUN |1 K=<secret> sh -c 'printf …'`).
fn masked_with_layers(
    builder: &FindingBuilder<'_>,
    history: &[History],
    records: &[Option<Arc<LayerRecord>>],
) -> Vec<History> {
    if builder.show_secrets {
        return history.to_vec();
    }
    let sealed: Vec<&SealedMatch> = records
        .iter()
        .flatten()
        .flat_map(|record| &record.matches)
        .collect();
    history
        .iter()
        .map(|step| History {
            created_by: step
                .created_by
                .as_ref()
                .map(|text| builder.fingerprinter.mask_sealed(text, &sealed)),
            empty_layer: step.empty_layer,
        })
        .collect()
}

/// Builds each image's findings from its layers' records and its config.
struct Assembler<'a, 'e> {
    plan: &'a Plan,
    builder: &'a FindingBuilder<'a>,
    cache: Option<&'a Cache>,
    configs: &'a HashMap<String, Arc<ConfigRecord>>,
    /// Images still to assemble, per layer digest.
    users: HashMap<&'a str, usize>,
    /// Records loaded from the cache, dropped when their last user is done.
    loaded: HashMap<String, Arc<LayerRecord>>,
    skipped_reported: HashSet<String>,
    /// Configs scanned in this run, not yet cached (by manifest digest).
    configs_to_cache: HashSet<String>,
    outcome: &'e mut RunOutcome,
    emit: &'e mut dyn FnMut(Finding) -> bool,
}

impl Assembler<'_, '_> {
    /// Caches image `i`'s config if this run scanned it, with its build
    /// commands masked with every secret of `records` (the image's layers).
    fn cache_config(&mut self, i: usize, records: &[Option<Arc<LayerRecord>>]) {
        let image = &self.plan.images[i];
        let digest = image.manifest_digest();
        let (Some(cache), Some(config)) = (self.cache, self.configs.get(digest)) else {
            return;
        };
        if !self.configs_to_cache.remove(digest) {
            return;
        }
        let record = ConfigRecord {
            history: masked_with_layers(self.builder, &config.history, records),
            ..ConfigRecord::clone(config)
        };
        if let Err(e) = cache.put_config(&record) {
            self.outcome.problems.push(Problem {
                path: image.reference.clone(),
                message: e.to_string(),
            });
        }
    }

    fn report_skipped(&mut self, reference: &str, record: &LayerRecord) {
        if !self.skipped_reported.insert(record.digest.clone()) {
            return;
        }
        for skipped in &record.skipped {
            self.outcome.skipped.push(Skipped {
                path: layer_place(reference, &record.digest, &skipped.path),
                reason: skipped.reason.clone(),
            });
        }
    }

    /// The record of `digest` for this image, if there is one.
    fn record(
        &mut self,
        digest: &str,
        states: &HashMap<String, LayerState>,
        reference: &str,
    ) -> Option<Arc<LayerRecord>> {
        match states.get(digest)? {
            LayerState::Scanned(record) => Some(record.clone()),
            LayerState::Failed(record) => record.clone(),
            LayerState::NotMine | LayerState::Pending | LayerState::Released => None,
            LayerState::Cached => {
                if let Some(record) = self.loaded.get(digest) {
                    return Some(record.clone());
                }
                let cache = self.cache?;
                match cache.get_layer(digest) {
                    Ok(Some(record)) => {
                        let record = Arc::new(record);
                        self.loaded.insert(digest.to_string(), record.clone());
                        Some(record)
                    }
                    Ok(None) => {
                        self.outcome.problems.push(Problem {
                            path: layer_place(reference, digest, ""),
                            message: "the cache record disappeared during the run".into(),
                        });
                        None
                    }
                    Err(e) => {
                        // Records are renamed into place whole, so this is
                        // damage from outside; drop it so the next run rescans.
                        let removed = match cache.remove_layer(digest) {
                            Ok(()) => "removed it; the next run rescans the layer".to_string(),
                            Err(e) => format!("could not remove it: {e}"),
                        };
                        self.outcome.problems.push(Problem {
                            path: layer_place(reference, digest, ""),
                            message: format!("{e}; {removed}"),
                        });
                        None
                    }
                }
            }
        }
    }

    fn assemble(&mut self, i: usize, states: &HashMap<String, LayerState>) {
        let plan = self.plan;
        let image = &plan.images[i];
        let config = self.configs.get(image.manifest_digest()).cloned();
        let digests: Vec<&str> = image.layer_digests().collect();
        let records: Vec<Option<Arc<LayerRecord>>> = digests
            .iter()
            .map(|d| self.record(d, states, &image.reference))
            .collect();
        for record in records.iter().flatten() {
            self.report_skipped(&image.reference, record);
        }
        let empty = LayerEvents::default();
        let stack: Vec<(&LayerEvents, &str)> = records
            .iter()
            .zip(&digests)
            .map(|(r, d)| (r.as_ref().map_or(&empty, |r| &r.events), *d))
            .collect();
        let (history, diff_ids): (&[_], &[String]) = match &config {
            Some(c) => (&c.history, &c.diff_ids),
            None => (&[], &[]),
        };
        let history = masked_with_layers(self.builder, history, &records);
        // A layer that failed (or whose record is missing) may hold a
        // secret no one knows: its config is not cached, and is rescanned
        // by the next run.
        let every_layer_known = digests.iter().all(|d| {
            matches!(
                states.get(*d),
                Some(LayerState::Scanned(_) | LayerState::Cached)
            )
        }) && records.iter().all(Option::is_some);
        if every_layer_known {
            self.cache_config(i, &records);
        }
        let steps = {
            let config = strata_sources::image::spec::ImageConfig {
                history: history.clone(),
                ..Default::default()
            };
            config.layer_steps(digests.len())
        };
        let image_field = ImageField {
            reference: image.reference.clone(),
            manifest_digest: Some(image.manifest_digest().to_string()),
        };
        let mut findings = Vec::new();
        for (index, (record, digest)) in records.iter().zip(&digests).enumerate() {
            let Some(record) = record else { continue };
            let layer_field = LayerField {
                index,
                digest: digest.to_string(),
                diff_id: diff_ids.get(index).cloned(),
                created_by: steps[index].and_then(|s| history[s].created_by.clone()),
            };
            let mut matches: Vec<&SealedMatch> = record.matches.iter().collect();
            matches.sort_by(|a, b| {
                (&a.path, a.offset, &a.rule_id).cmp(&(&b.path, b.offset, &b.rule_id))
            });
            for sealed in matches {
                let file = sealed.path.split('!').next().unwrap_or("");
                let fate = fate_of(file, index, &stack);
                let fate = FateField {
                    status: fate.status.as_str().to_string(),
                    layer_index: fate.layer_index,
                    layer_digest: fate.layer_digest,
                };
                findings.push(self.builder.place(
                    sealed,
                    Some(image_field.clone()),
                    Some(layer_field.clone()),
                    Some(fate),
                ));
            }
        }
        if let Some(config) = &config {
            for sealed in &config.matches {
                findings.push(
                    self.builder
                        .place(sealed, Some(image_field.clone()), None, None),
                );
            }
        }
        for finding in findings {
            match finding {
                None => self.outcome.suppressed += 1,
                Some(finding) => {
                    let rule = finding.rule_id.clone();
                    if (self.emit)(finding) {
                        *self
                            .outcome
                            .summary
                            .findings_by_rule
                            .entry(rule)
                            .or_default() += 1;
                        *self
                            .outcome
                            .summary
                            .findings_by_repository
                            .entry(image.repository.clone())
                            .or_default() += 1;
                    }
                }
            }
        }
        // Release what no later image needs.
        let unique: HashSet<&str> = digests.iter().copied().collect();
        for digest in unique {
            if let Some(count) = self.users.get_mut(digest) {
                *count -= 1;
                if *count == 0 {
                    self.loaded.remove(digest);
                }
            }
        }
    }
}
