//! Assertions on strata's JSON findings shared by the image and registry
//! tests: finding lookup by secret, layer and fate checks, error checks.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{image::*, Run};

/// A base layer without secrets, like an OS image's.
pub fn base_layer() -> LayerSpec {
    LayerSpec::gzip(vec![
        file("etc/os-release", "ID=fixture\nVERSION_ID=1.0\n"),
        file("bin/busybox", b"\x7fELF\x02\x01\x01\0fake busybox\n"),
        symlink("bin/sh", "busybox"),
        dir("tmp"),
    ])
}

/// The findings whose (revealed) secret is `secret`.
pub fn with_secret<'a>(findings: &'a [Value], secret: &str) -> Vec<&'a Value> {
    findings.iter().filter(|f| f["secret"] == secret).collect()
}

/// The one finding of `secret` (panics listing all findings otherwise).
pub fn the_one<'a>(findings: &'a [Value], secret: &str) -> &'a Value {
    let found = with_secret(findings, secret);
    assert_eq!(
        found.len(),
        1,
        "expected one finding of {secret}, got {}:\n{}",
        found.len(),
        serde_json::to_string_pretty(findings).unwrap()
    );
    found[0]
}

/// Secrets (revealed) of every finding.
pub fn secrets(findings: &[Value]) -> BTreeSet<String> {
    findings
        .iter()
        .map(|f| f["secret"].as_str().unwrap().to_string())
        .collect()
}

pub fn absent(f: &Value, field: &str) -> bool {
    f.get(field).is_none_or(Value::is_null)
}

/// The finding was found in layer `index` of `image`.
pub fn assert_layer(f: &Value, image: &BuiltImage, index: usize) {
    let layer = &image.layers[index];
    assert_eq!(f["layer"]["index"], index, "{f}");
    assert_eq!(f["layer"]["digest"], layer.digest.as_str(), "{f}");
    assert_eq!(f["layer"]["diff_id"], layer.diff_id.as_str(), "{f}");
    assert_eq!(f["layer"]["created_by"], layer.created_by.as_str(), "{f}");
}

/// The finding's fate: `present`, or deleted/overwritten by layer `by` of `image`.
pub fn assert_fate(f: &Value, status: &str, by: Option<(&BuiltImage, usize)>) {
    assert_eq!(f["fate"]["status"], status, "{f}");
    match by {
        Some((image, index)) => {
            assert_eq!(f["fate"]["layer_index"], index, "{f}");
            assert_eq!(
                f["fate"]["layer_digest"],
                image.layers[index].digest.as_str(),
                "{f}"
            );
        }
        None => {
            assert!(f["fate"]["layer_index"].is_null(), "{f}");
            assert!(f["fate"]["layer_digest"].is_null(), "{f}");
        }
    }
}

/// The report has an error whose path contains every one of `path_has` and
/// whose message contains (case-insensitively) one of `message_any`.
pub fn assert_error(run: &Run, path_has: &[&str], message_any: &[&str]) {
    let report = run.json();
    let errors = report["errors"].as_array().expect("errors array");
    let hit = errors.iter().any(|e| {
        let path = e["path"].as_str().unwrap_or_default();
        let message = e["message"].as_str().unwrap_or_default().to_lowercase();
        path_has.iter().all(|p| path.contains(p))
            && message_any
                .iter()
                .any(|m| message.contains(&m.to_lowercase()))
    });
    assert!(
        hit,
        "no error with path containing {path_has:?} and message containing one of {message_any:?}:\n{}",
        serde_json::to_string_pretty(&report["errors"]).unwrap()
    );
    assert_eq!(report["summary"]["complete"], false);
}
