//! `strata image`: scan images from archives, layouts and registries.

use std::time::Instant;

use anyhow::{bail, Result};
use strata_report::Summary;
use strata_sources::{
    image::{platform::Platform, scan_images, ImageOptions, ImagesScanned},
    Collector, Limits,
};

use crate::{
    args::{ImageArgs, ImageSourceArgs},
    deadline, output,
};

/// Image options from the command line (the registry client lives on while they are used).
pub fn image_options<'a>(
    source: &ImageSourceArgs,
    reveal_secrets: bool,
    registry: Option<&'a dyn strata_sources::image::RegistryResolver>,
) -> Result<ImageOptions<'a>> {
    let platform = match &source.platform {
        Some(text) => text.parse::<Platform>().map_err(anyhow::Error::msg)?,
        None => Platform::host(),
    };
    Ok(ImageOptions {
        platform,
        limits: Limits {
            max_file_size: source.max_file_size,
            max_entry_size: source.max_file_size,
            max_archive_depth: source.max_archive_depth,
            max_decompressed: source.max_decompressed,
            ..Limits::default()
        },
        registry,
        jobs: source.jobs,
        reveal_secrets,
    })
}

/// The summary fields an image scan adds.
pub fn image_summary(scanned: &ImagesScanned) -> Summary {
    Summary {
        images: Some(scanned.images.len()),
        layers: Some(scanned.layers),
        layers_scanned: Some(scanned.layers_scanned),
        ..Summary::default()
    }
}

pub fn run(args: ImageArgs) -> Result<i32> {
    let started = Instant::now();
    let mut images = args.images.clone();
    images.extend(args.archive.iter().map(|a| format!("docker-archive:{a}")));
    images.extend(args.oci.iter().map(|o| format!("oci:{o}")));
    if images.is_empty() {
        bail!("name at least one image (see strata image --help)");
    }
    let matcher = output::load_matcher(&args.rules)?;
    let registry = crate::registry::client(&args.source)?;
    let options = image_options(
        &args.source,
        args.output.show_secrets,
        registry.as_ref().map(|r| r as _),
    )?;
    let collector = Collector::new();
    let timeout = args.output.timeout.timeout.as_ref();
    let scanned = deadline::run_until(
        timeout,
        || scan_images(&images, &matcher, &options, &collector),
        || {
            let report = deadline::partial_report(&matcher, &collector, started, &args.output)?;
            output::emit(&matcher, &report, &args.output)
        },
    );
    let report = output::build_report(
        &matcher,
        &collector,
        started,
        &args.output,
        image_summary(&scanned),
    )?;
    output::emit(&matcher, &report, &args.output)
}
