//! The OCI/Docker documents strata reads from an image, on arbitrary bytes
//! (seeds: OCI index, manifest and config, Docker manifest list, `docker
//! save` manifest.json). The same bytes go to every parser:
//! `ManifestOrIndex::parse`, `ImageConfig::parse` and
//! `DockerSaveEntry::parse_manifest`. Checks: no panic; `layer_steps` gives one step per
//! layer and each step names a history entry that made a layer; the
//! history shown next to findings (`masked_history`) repeats no secret
//! that `scan_config` found; and a parse error repeats no secret that the
//! rules find in the input.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use strata_sources::{
    image::{
        masked_history, scan_config,
        spec::{DockerSaveEntry, ImageConfig, ManifestOrIndex},
    },
    ImageContext,
};

/// Secrets the rules find in `data` (long enough not to occur by chance).
fn secrets_in(data: &[u8]) -> Vec<String> {
    let matcher = strata_fuzz::matcher();
    let mut scratch = matcher.new_scratch();
    let mut secrets = Vec::new();
    matcher.scan_bytes(data, &mut scratch, &mut |found| {
        if found.secret.len() >= 12 {
            secrets.push(String::from_utf8_lossy(&found.secret).into_owned());
        }
    });
    secrets
}

fn assert_no_secret(error: &str, data: &[u8]) {
    for secret in secrets_in(data) {
        assert!(!error.contains(&secret), "a parse error repeats a secret");
    }
}

fuzz_target!(|data: &[u8]| {
    if let Err(e) = ManifestOrIndex::parse(data) {
        assert_no_secret(&e, data);
    }
    if let Err(e) = DockerSaveEntry::parse_manifest(data) {
        assert_no_secret(&e, data);
    }
    let config = match ImageConfig::parse(data) {
        Ok(config) => config,
        Err(e) => return assert_no_secret(&e, data),
    };
    for layers in 0..config.history.len() + 2 {
        let steps = config.layer_steps(layers);
        assert_eq!(steps.len(), layers);
        for step in steps.into_iter().flatten() {
            assert!(!config.history[step].empty_layer);
        }
    }
    let context = Arc::new(ImageContext {
        reference: "fuzz".into(),
        manifest_digest: None,
    });
    let hits = scan_config(&config, &context, strata_fuzz::matcher());
    let history = masked_history(&config, hits.iter().map(|h| h.found.secret.as_slice()));
    for hit in &hits {
        let secret = String::from_utf8_lossy(&hit.found.secret);
        if secret.len() < 12 {
            continue;
        }
        for step in history.iter().filter_map(|h| h.created_by.as_deref()) {
            assert!(
                !step.contains(secret.as_ref()),
                "masked history repeats a secret"
            );
        }
    }
});
