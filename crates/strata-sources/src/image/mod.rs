//! Container images: OCI layout directories, `docker save` tarballs (legacy
//! and Docker 25+ OCI-in-tar), OCI archives and registries.
//!
//! An image is resolved to one manifest (by platform, from an index), its
//! config and its layers. Every distinct layer digest among all the images
//! of one run is scanned once, in parallel ([`layer`]); each image then gets
//! its findings from its own layer stack, with the fate of every file
//! decided by the layers above it ([`fate`]), plus findings in its config
//! (Env, Labels, Cmd, Entrypoint and every history step's `created_by`,
//! where build args show up).

pub mod credentials;
pub mod digest;
pub mod fate;
mod http;
pub mod layer;
pub mod listing;
pub mod platform;
pub mod priority;
pub mod reference;
pub mod registry;
pub mod resolve;
pub mod spec;
pub mod store;

use std::{collections::HashMap, sync::Arc};

use rayon::prelude::*;
use strata_engine::Matcher;

use self::{
    fate::fate_of,
    layer::{scan_layer, LayerScan},
    platform::Platform,
    priority::Priority,
    reference::ImageLocation,
    resolve::{resolve_archive, resolve_oci_dir, ResolvedImage},
    spec::{History, ImageConfig},
};
use crate::{
    origin::{ImageContext, LayerContext},
    Collector, Hit, Limits, Origin,
};

/// Resolves registry references; implemented by the registry client.
pub trait RegistryResolver: Sync {
    fn resolve(&self, reference: &str, platform: &Platform) -> Result<ResolvedImage, String>;
}

/// How to scan images.
pub struct ImageOptions<'a> {
    pub platform: Platform,
    pub limits: Limits,
    /// Resolves `docker://` and bare registry references; `None` refuses them.
    pub registry: Option<&'a dyn RegistryResolver>,
    /// Parallel layer scans (0: one per core).
    pub jobs: usize,
    /// Show build commands as recorded even when they carry a secret found
    /// in the config or a layer (`--show-secrets`); otherwise such secrets
    /// are masked.
    pub reveal_secrets: bool,
}

/// One layer as it sits in one image.
#[derive(Debug, Clone)]
pub struct ImageLayer {
    pub index: usize,
    pub digest: String,
    pub diff_id: Option<String>,
    /// Bytes of the stored blob (as read, or as the manifest says).
    pub size: u64,
    /// Index into the config's history of the step that made the layer.
    pub step: Option<usize>,
    pub created_by: Option<String>,
}

/// The result for one image.
pub struct ImageOutcome {
    pub reference: String,
    pub manifest_digest: Option<String>,
    pub layers: Vec<ImageLayer>,
    pub history: Vec<History>,
}

/// What a run over several images produced (hits and problems go to the collector).
pub struct ImagesScanned {
    pub images: Vec<ImageOutcome>,
    /// Layers over all images.
    pub layers: usize,
    /// Distinct layer digests scanned.
    pub layers_scanned: usize,
}

/// How reports name a place in a layer of an image: `REF layer DIGEST`,
/// then the path inside the layer when there is one.
pub fn layer_place(reference: &str, digest: &str, path: &str) -> String {
    if path.is_empty() {
        format!("{reference} layer {digest}")
    } else {
        format!("{reference} layer {digest} {path}")
    }
}

/// Resolves one image argument.
pub fn resolve(argument: &str, options: &ImageOptions<'_>) -> Result<ResolvedImage, String> {
    match ImageLocation::parse(argument) {
        ImageLocation::OciDir { dir, tag } => {
            resolve_oci_dir(argument, &dir, tag.as_deref(), &options.platform)
        }
        ImageLocation::Archive { path, tag } => {
            if !path.exists() {
                return Err(format!("{}: no such file", path.display()));
            }
            resolve_archive(argument, &path, tag.as_deref(), &options.platform)
        }
        ImageLocation::Registry(reference) => match options.registry {
            Some(registry) => registry
                .resolve(&reference, &options.platform)
                .map(|mut image| {
                    image.reference = argument.to_string();
                    image
                }),
            None => Err(format!(
                "{reference}: not a local image path, and registry access is off"
            )),
        },
    }
}

/// Scans every image named in `arguments`; distinct layers once each.
pub fn scan_images(
    arguments: &[String],
    matcher: &Matcher,
    options: &ImageOptions<'_>,
    collector: &Collector,
) -> ImagesScanned {
    // Each image is in progress until it is assembled.
    let _in_progress: Vec<_> = arguments.iter().map(|a| collector.begin(a)).collect();
    let resolved: Vec<ResolvedImage> = arguments
        .iter()
        .filter_map(|argument| match resolve(argument, options) {
            Ok(image) => Some(image),
            Err(message) => {
                collector.problem(argument.clone(), message);
                None
            }
        })
        .collect();
    scan_resolved(resolved, matcher, options, collector)
}

/// Scans already-resolved images.
pub fn scan_resolved(
    resolved: Vec<ResolvedImage>,
    matcher: &Matcher,
    options: &ImageOptions<'_>,
    collector: &Collector,
) -> ImagesScanned {
    // Distinct layers, each with the first image that has it (for error names).
    let mut distinct: Vec<(String, &ResolvedImage, usize)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for image in &resolved {
        for (index, layer) in image.layers.iter().enumerate() {
            if seen.insert(layer.digest.clone()) {
                distinct.push((layer.digest.clone(), image, index));
            }
        }
    }
    // The largest layers start first, and the others yield to them: see
    // `priority`.
    let size_of = |(_, image, index): &(String, &ResolvedImage, usize)| image.layers[*index].size;
    let largest = distinct.iter().map(size_of).max().unwrap_or(0);
    let mut by_size: Vec<_> = distinct.iter().collect();
    by_size.sort_by_key(|layer| std::cmp::Reverse(size_of(layer)));
    let run = || {
        by_size
            .par_iter()
            .map(|&(digest, image, index)| {
                let layer = &image.layers[*index];
                let _in_progress = collector.begin(layer_place(&image.reference, digest, ""));
                let scan = scan_layer(
                    image.source.as_ref(),
                    layer,
                    matcher,
                    &options.limits,
                    Priority::for_layer(layer.size, largest),
                );
                (digest.clone(), Arc::new(scan))
            })
            .collect::<HashMap<String, Arc<LayerScan>>>()
    };
    let scans = if options.jobs > 0 {
        match rayon::ThreadPoolBuilder::new()
            .num_threads(options.jobs)
            .build()
        {
            Ok(pool) => pool.install(run),
            Err(_) => run(),
        }
    } else {
        run()
    };
    // Counters and problems once per distinct layer.
    for (digest, image, _) in &distinct {
        let scan = &scans[digest];
        collector.scanned_many(scan.files, scan.bytes);
        for problem in &scan.problems {
            collector.problem(
                layer_place(&image.reference, digest, &problem.path),
                problem.message.clone(),
            );
        }
        for skipped in &scan.skipped {
            collector.skipped(
                layer_place(&image.reference, digest, &skipped.path),
                skipped.reason.clone(),
            );
        }
    }
    let layers = resolved.iter().map(|i| i.layers.len()).sum();
    let images = resolved
        .iter()
        .map(|image| assemble(image, &scans, matcher, options.reveal_secrets, collector))
        .collect();
    ImagesScanned {
        images,
        layers,
        layers_scanned: distinct.len(),
    }
}

/// Builds one image's hits from its layers' scans and its config.
fn assemble(
    image: &ResolvedImage,
    scans: &HashMap<String, Arc<LayerScan>>,
    matcher: &Matcher,
    reveal_secrets: bool,
    collector: &Collector,
) -> ImageOutcome {
    let context = Arc::new(ImageContext {
        reference: image.reference.clone(),
        manifest_digest: image.manifest_digest.clone(),
    });
    // Build commands echoed in reports must not show any secret of the
    // image: one found in the config (a build arg in `created_by`) or in a
    // layer (`RUN |1 K=<secret> sh -c 'printf … > /app/creds'`, where only
    // the file gives the rule its context).
    let config_hits = scan_config(&image.config, &context, matcher);
    let history = if reveal_secrets {
        image.config.history.clone()
    } else {
        let layer_hits = image
            .layers
            .iter()
            .filter_map(|layer| scans.get(&layer.digest))
            .flat_map(|scan| &scan.hits);
        let secrets = config_hits
            .iter()
            .chain(layer_hits)
            .map(|hit| hit.found.secret.as_slice());
        masked_history(&image.config, secrets)
    };
    let steps = image.config.layer_steps(image.layers.len());
    let layers: Vec<ImageLayer> = image
        .layers
        .iter()
        .enumerate()
        .map(|(index, layer)| {
            let step = steps[index];
            ImageLayer {
                index,
                digest: layer.digest.clone(),
                diff_id: layer.diff_id.clone(),
                size: scans
                    .get(&layer.digest)
                    .map_or(layer.size, |s| s.blob_bytes.max(layer.size)),
                step,
                created_by: step.and_then(|s| history[s].created_by.clone()),
            }
        })
        .collect();
    let empty = layer::LayerScan::default();
    let stack: Vec<(&fate::LayerEvents, &str)> = image
        .layers
        .iter()
        .map(|l| {
            (
                scans.get(&l.digest).map_or(&empty.events, |s| &s.events),
                l.digest.as_str(),
            )
        })
        .collect();
    let mut hits = Vec::new();
    for layer in &layers {
        let Some(scan) = scans.get(&layer.digest) else {
            continue;
        };
        let layer_context = Arc::new(LayerContext {
            index: layer.index,
            digest: layer.digest.clone(),
            diff_id: layer.diff_id.clone(),
            created_by: layer.created_by.clone(),
        });
        for hit in &scan.hits {
            // The file's own path decides its fate, not an archive member's.
            let file = hit.origin.path.split('!').next().unwrap_or("");
            hits.push(Hit {
                origin: Origin {
                    path: hit.origin.path.clone(),
                    image: Some(context.clone()),
                    layer: Some(layer_context.clone()),
                    config_field: None,
                },
                found: hit.found.clone(),
                fate: Some(fate_of(file, layer.index, &stack)),
            });
        }
    }
    hits.extend(config_hits);
    collector.hits_extend(hits);
    ImageOutcome {
        reference: image.reference.clone(),
        manifest_digest: image.manifest_digest.clone(),
        layers,
        history,
    }
}

/// The config's history with every one of `secrets` masked, so build
/// commands can be shown next to findings without repeating them. Pass
/// every secret of the image: those found in its config and in its layers.
pub fn masked_history<'s>(
    config: &ImageConfig,
    secrets: impl IntoIterator<Item = &'s [u8]>,
) -> Vec<History> {
    let mut secrets: Vec<Vec<u8>> = secrets.into_iter().map(<[u8]>::to_vec).collect();
    secrets.sort();
    secrets.dedup();
    // Longest first, so a secret containing another is masked whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    config
        .history
        .iter()
        .map(|h| History {
            created_by: h
                .created_by
                .as_ref()
                .map(|t| strata_engine::mask_secrets(t, &secrets)),
            empty_layer: h.empty_layer,
        })
        .collect()
}

/// Scans the config fields where build-time secrets end up.
pub fn scan_config(
    config: &ImageConfig,
    context: &Arc<ImageContext>,
    matcher: &Matcher,
) -> Vec<Hit> {
    let mut hits = Vec::new();
    let mut fields: Vec<(String, String)> = Vec::new();
    if let Some(config) = &config.config {
        for (i, env) in config.env.iter().flatten().enumerate() {
            fields.push((format!("Env[{i}]"), env.clone()));
        }
        for (key, value) in config.labels.iter().flatten() {
            fields.push((format!("Labels.{key}"), format!("{key}={value}")));
        }
        if let Some(cmd) = &config.cmd {
            fields.push(("Cmd".into(), cmd.join(" ")));
        }
        if let Some(entrypoint) = &config.entrypoint {
            fields.push(("Entrypoint".into(), entrypoint.join(" ")));
        }
    }
    for (i, step) in config.history.iter().enumerate() {
        if let Some(created_by) = &step.created_by {
            fields.push((format!("history[{i}].created_by"), created_by.clone()));
        }
    }
    let mut scratch = matcher.new_scratch();
    for (field, text) in fields {
        matcher.scan_bytes(text.as_bytes(), &mut scratch, &mut |found| {
            if !matcher.path_allowed(found.rule_index, "config") {
                hits.push(Hit {
                    origin: Origin {
                        path: "config".into(),
                        image: Some(context.clone()),
                        layer: None,
                        config_field: Some(field.clone()),
                    },
                    found,
                    fate: None,
                });
            }
        });
    }
    hits
}
