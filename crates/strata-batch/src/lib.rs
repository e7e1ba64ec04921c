//! Registry-wide batch scans: `strata registry`.
//!
//! A platform team sweeps a whole registry, where thousands of images
//! share a handful of base layers. The cost must follow the number of
//! *distinct* layers, a flaky registry must not end the run, and a run
//! must be resumable and shardable across machines:
//!
//! - [`plan`]: enumerate repositories and tags (paginated), resolve each tag
//!   to manifests by digest, and collect the distinct layers;
//! - [`run`]: scan each distinct layer once (pull, verify, stream-decode,
//!   match), assemble each image's findings from its own layer stack, with
//!   layer fate and its config, and stream them out as images complete;
//! - [`cache`]: results by layer digest under a profile of everything that
//!   changes what a scan reports, shared safely between processes;
//! - [`shard`]: a stable split of the distinct layers among N processes
//!   (a Kubernetes Indexed Job), whose shared cache a `--cached-only` run
//!   then turns into one report.

pub mod cache;
pub mod plan;
pub mod run;
pub mod shard;

pub use cache::{default_cache_root, Cache, Profile};
pub use plan::{make_plan, Plan, Selection};
pub use run::{run_plan, NoProgress, Progress, RunOptions, RunOutcome};
pub use shard::Shard;
