//! The plan of a registry run: every repository and tag the globs select,
//! each tag resolved to its manifest(s) by digest, and the distinct layers
//! over all of them. Nothing is pulled but listings and manifests; the
//! plan decides what is scanned, by whom (shards) and how often (once).

use std::collections::{HashMap, HashSet};

use globset::{Glob, GlobSet, GlobSetBuilder};
use rayon::prelude::*;
use strata_sources::{
    image::{
        platform::Platform,
        registry::{RegistryClient, TaggedManifest},
    },
    Problem,
};

/// One image of the plan: a tag (and platform, for multi-platform tags).
#[derive(Debug, Clone)]
pub struct PlannedImage {
    pub repository: String,
    /// `host/repository:tag`.
    pub reference: String,
    pub tagged: TaggedManifest,
}

impl PlannedImage {
    pub fn manifest_digest(&self) -> &str {
        &self.tagged.digest
    }

    /// Layer digests, bottom first.
    pub fn layer_digests(&self) -> impl Iterator<Item = &str> {
        self.tagged
            .manifest
            .layers
            .iter()
            .map(|d| d.digest.as_str())
    }
}

/// One distinct layer and where to pull it from.
#[derive(Debug, Clone)]
pub struct PlannedLayer {
    pub digest: String,
    /// Compressed size, as the manifest says.
    pub size: u64,
    /// The first image of the plan holding it (its repository serves it).
    pub first_image: usize,
    /// Its position in that image.
    pub index_in_first: usize,
}

/// Everything a run will cover.
#[derive(Debug, Default)]
pub struct Plan {
    pub repositories: usize,
    pub tags: usize,
    pub images: Vec<PlannedImage>,
    /// In first-seen order.
    pub layers: Vec<PlannedLayer>,
    /// Listing or manifest failures; the rest of the plan stands.
    pub problems: Vec<Problem>,
}

impl Plan {
    /// Distinct manifest digests, each with the first image that has it.
    pub fn distinct_images(&self) -> Vec<usize> {
        let mut seen = HashSet::new();
        (0..self.images.len())
            .filter(|&i| seen.insert(self.images[i].manifest_digest().to_string()))
            .collect()
    }
}

/// Which repositories and tags, and how to enumerate.
#[derive(Debug, Clone)]
pub struct Selection {
    /// `host[:port]`.
    pub registry: String,
    /// Globs over repository names; empty selects all.
    pub repositories: Vec<String>,
    /// Globs over tags; empty selects all.
    pub tags: Vec<String>,
    /// Only this platform of multi-platform tags; None: every platform.
    pub platform: Option<Platform>,
    /// Entries asked for per listing page (`n=`).
    pub page_size: usize,
}

/// A glob list that did not compile.
#[derive(Debug, thiserror::Error)]
#[error("{what} {glob:?}: {message}")]
pub struct GlobError {
    what: &'static str,
    glob: String,
    message: String,
}

fn glob_set(what: &'static str, globs: &[String]) -> Result<Option<GlobSet>, GlobError> {
    if globs.is_empty() {
        return Ok(None);
    }
    let mut builder = GlobSetBuilder::new();
    for glob in globs {
        builder.add(Glob::new(glob).map_err(|e| GlobError {
            what,
            glob: glob.clone(),
            message: e.to_string(),
        })?);
    }
    builder.build().map(Some).map_err(|e| GlobError {
        what,
        glob: globs.join(", "),
        message: e.to_string(),
    })
}

/// Checks the selection's globs before any network traffic.
pub fn check_globs(selection: &Selection) -> Result<(), GlobError> {
    glob_set("--repo", &selection.repositories)?;
    glob_set("--tag", &selection.tags)?;
    Ok(())
}

/// Enumerates the registry into a plan. Failures of one repository or tag
/// are problems of the plan; a registry that cannot be listed at all is an
/// error.
pub fn make_plan(
    client: &RegistryClient,
    selection: &Selection,
    pool: &rayon::ThreadPool,
) -> Result<Plan, String> {
    let repo_globs = glob_set("--repo", &selection.repositories).map_err(|e| e.to_string())?;
    let tag_globs = glob_set("--tag", &selection.tags).map_err(|e| e.to_string())?;
    let lister = client.lister(&selection.registry, selection.page_size)?;
    let repositories: Vec<String> = client
        .repositories(&lister)
        .map_err(|e| format!("listing the repositories of {}: {e}", selection.registry))?
        .into_iter()
        .filter(|r| repo_globs.as_ref().is_none_or(|g| g.is_match(r)))
        .collect();

    // Per repository: its tags, then each tag's manifests; in parallel,
    // since this is all round trips.
    type RepoResult = (usize, Vec<PlannedImage>, Vec<Problem>);
    let per_repo: Vec<RepoResult> = pool.install(|| {
        repositories
            .par_iter()
            .map(|repository| {
                let mut problems = Vec::new();
                let tags: Vec<String> = match client.tags(&lister, repository) {
                    Ok(tags) => tags
                        .into_iter()
                        .filter(|t| tag_globs.as_ref().is_none_or(|g| g.is_match(t)))
                        .collect(),
                    Err(e) => {
                        problems.push(Problem {
                            path: format!("{}/{repository}", selection.registry),
                            message: format!("listing tags: {e}"),
                        });
                        return (0, Vec::new(), problems);
                    }
                };
                let resolved: Vec<_> = tags
                    .par_iter()
                    .map(|tag| {
                        let reference = format!("{}/{repository}:{tag}", selection.registry);
                        let found =
                            client.tagged_manifests(&reference, selection.platform.as_ref());
                        (reference, found)
                    })
                    .collect();
                let mut images = Vec::new();
                for (reference, found) in resolved {
                    match found {
                        Ok(manifests) => {
                            images.extend(manifests.into_iter().map(|tagged| PlannedImage {
                                repository: repository.clone(),
                                reference: reference.clone(),
                                tagged,
                            }))
                        }
                        Err(message) => problems.push(Problem {
                            path: reference,
                            message,
                        }),
                    }
                }
                (tags.len(), images, problems)
            })
            .collect()
    });

    let mut plan = Plan {
        repositories: repositories.len(),
        ..Plan::default()
    };
    for (tags, images, problems) in per_repo {
        plan.tags += tags;
        plan.images.extend(images);
        plan.problems.extend(problems);
    }
    let mut seen: HashMap<String, ()> = HashMap::new();
    for (image_index, image) in plan.images.iter().enumerate() {
        for (index, layer) in image.tagged.manifest.layers.iter().enumerate() {
            if seen.insert(layer.digest.clone(), ()).is_none() {
                plan.layers.push(PlannedLayer {
                    digest: layer.digest.clone(),
                    size: layer.size,
                    first_image: image_index,
                    index_in_first: index,
                });
            }
        }
    }
    Ok(plan)
}
