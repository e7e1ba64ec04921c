//! End-to-end tests of `strata image` and `strata history`: OCI layouts,
//! multi-arch indexes, `docker save` tarballs (legacy and Docker 25+) and OCI
//! archives are built by code (tests/util/image.rs) with real digests, then
//! scanned; assertions are on the JSON. Each test builds its own fixture.
//!
//! Layer numbering: layer 0 is the base. A finding in a file that a later
//! layer deleted or overwrote is still reported (the secret ships in the
//! lower layer's blob), with its `fate` naming the later layer.

mod util;

use std::collections::BTreeSet;

use serde_json::Value;
use util::{findings::*, image::*, *};

// ---- helpers ----------------------------------------------------------------

/// `strata image ARGS --format json` inside `tree`.
fn image_json(tree: &Tree, args: &[&str]) -> Run {
    let mut all = vec!["image"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json"]);
    strata_in(tree.path(), &all, None)
}

/// Every command and format that prints what `image` names: `image` in
/// json, jsonl, sarif and text, `history` in json and text.
fn every_output_of(image: &str) -> [Vec<&str>; 6] {
    [
        vec!["image", image, "--format", "json"],
        vec!["image", image, "--format", "jsonl"],
        vec!["image", image, "--format", "sarif"],
        vec!["image", image],
        vec!["history", image, "--format", "json"],
        vec!["history", image],
    ]
}

/// A config finding: no layer, no fate, `path` = `config`.
fn assert_config(f: &Value, field: &str) {
    assert_eq!(f["config_field"], field, "{f}");
    assert_eq!(f["path"], "config", "{f}");
    assert!(absent(f, "layer") && absent(f, "fate"), "{f}");
}

/// An image with secrets in every config field and a history whose
/// `empty_layer` steps make history indexes differ from layer indexes:
///
/// | step | created_by | layer |
/// |---|---|---|
/// | 0 | ADD rootfs | 0 |
/// | 1 | LABEL (empty) | – |
/// | 2 | ARG GITHUB_TOKEN (empty) | – |
/// | 3 | RUN \|1 GITHUB_TOKEN=t(13) … make | 1: /app/build.log holds t(14) on line 2 |
/// | 4 | ENV (empty) | – |
/// | 5 | COPY app/ /app/ | 2: /app/.env holds t(15) |
/// | 6 | CMD (empty) | – |
///
/// Env[1] holds t(10), the label `org.example.deploy-token` t(11), Cmd
/// t(12), Entrypoint t(16). `t` = `github_token(base + n)`.
fn config_spec(base: u64) -> ImageSpec {
    let t = |n: u64| github_token(base + n);
    ImageSpec {
        layers: vec![
            base_layer(),
            LayerSpec::gzip(vec![file(
                "app/build.log",
                format!("make: building\ncurl -H 'Authorization: token {}'\n", t(14)),
            )]),
            LayerSpec::gzip(vec![
                file("app/.env", format!("GITHUB_TOKEN={}\n", t(15))),
                file("app/run", "#!/bin/sh\nexec /app/server\n"),
            ]),
        ],
        env: vec![
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
            format!("GITHUB_TOKEN={}", t(10)),
            "APP_ENV=production".into(),
        ],
        labels: [
            ("maintainer".to_string(), "team@example.com".to_string()),
            ("org.example.deploy-token".to_string(), t(11)),
        ]
        .into_iter()
        .collect(),
        cmd: vec!["/app/run".into(), "--token".into(), t(12)],
        entrypoint: vec!["/usr/bin/env".into(), format!("GH_TOKEN={}", t(16))],
        history: vec![
            ("/bin/sh -c #(nop) ADD file:9a1b2c3d in / ".into(), false),
            ("LABEL maintainer=team@example.com".into(), true),
            ("ARG GITHUB_TOKEN".into(), true),
            (
                format!("RUN |1 GITHUB_TOKEN={} /bin/sh -c make", t(13)),
                false,
            ),
            ("ENV APP_ENV=production".into(), true),
            ("COPY app/ /app/ # buildkit".into(), false),
            ("CMD [\"/app/run\"]".into(), true),
        ],
        ..ImageSpec::default()
    }
}

// ---- layer fate -------------------------------------------------------------

#[test]
fn secret_deleted_by_a_whiteout_is_reported_with_the_layer_that_deleted_it() {
    let tree = Tree::new();
    let token = github_token(1);
    let spec = ImageSpec {
        layers: vec![
            base_layer(),
            LayerSpec::gzip(vec![file("app/.env", format!("GITHUB_TOKEN={token}\n"))]),
            LayerSpec::gzip(vec![whiteout("app/.env")]),
        ],
        history: vec![
            ("/bin/sh -c #(nop) ADD file:base in / ".into(), false),
            ("COPY .env /app/.env # buildkit".into(), false),
            ("RUN /bin/sh -c rm /app/.env # buildkit".into(), false),
        ],
        ..ImageSpec::default()
    };
    let built = write_oci_layout(&tree.path().join("layout"), &[("app", &spec)]);
    let image = &built[0];
    let run = image_json(&tree, &["oci:layout:app", "--show-secrets"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let findings = run.findings();
    assert_eq!(findings.len(), 1, "{findings:?}");
    let f = the_one(&findings, &token);
    assert_eq!(f["rule_id"], "github-pat-classic");
    assert_eq!(f["path"], "/app/.env");
    assert_eq!(f["line"], 1);
    assert_eq!(f["column"], 14);
    assert_eq!(f["image"]["reference"], "oci:layout:app");
    assert_eq!(
        f["image"]["manifest_digest"],
        image.manifest_digest.as_str()
    );
    assert_layer(f, image, 1);
    assert_eq!(
        f["layer"]["created_by"], "COPY .env /app/.env # buildkit",
        "created_by is layer 1's step"
    );
    assert_fate(f, "deleted", Some((image, 2)));
    assert!(absent(f, "config_field"), "{f}");
    let summary = &run.json()["summary"];
    assert_eq!(summary["images"], 1);
    assert_eq!(summary["layers"], 3);
    assert_eq!(summary["layers_scanned"], 3);
    assert_eq!(summary["errors"], 0);
}

#[test]
fn opaque_and_directory_whiteouts_hide_lower_layers_only() {
    let tree = Tree::new();
    let t = |n: u64| github_token(200 + n);
    let spec = ImageSpec::with_layers(vec![
        base_layer(),
        LayerSpec::gzip(vec![
            file("app/secrets/a.env", format!("T={}\n", t(1))),
            file("app/secrets/sub/b.env", format!("T={}\n", t(2))),
            file("app/cache/c.txt", format!("T={}\n", t(3))),
            file("app/keep.env", format!("T={}\n", t(4))),
        ]),
        // The opaque marker comes after a file of its own layer in the tar:
        // it hides lower layers only, wherever it sits in its layer.
        LayerSpec::gzip(vec![
            file("app/secrets/new.env", format!("T={}\n", t(5))),
            opaque("app/secrets"),
            whiteout("app/cache"),
        ]),
    ]);
    let built = write_oci_layout(&tree.path().join("layout"), &[("app", &spec)]);
    let image = &built[0];
    let run = image_json(&tree, &["oci:layout:app", "--show-secrets"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let findings = run.findings();
    assert_eq!(findings.len(), 5, "{findings:?}");
    for (n, path) in [
        (1, "/app/secrets/a.env"),
        (2, "/app/secrets/sub/b.env"),
        (3, "/app/cache/c.txt"),
    ] {
        let f = the_one(&findings, &t(n));
        assert_eq!(f["path"], path);
        assert_layer(f, image, 1);
        assert_fate(f, "deleted", Some((image, 2)));
    }
    let keep = the_one(&findings, &t(4));
    assert_fate(keep, "present", None);
    let new = the_one(&findings, &t(5));
    assert_eq!(new["path"], "/app/secrets/new.env");
    assert_layer(new, image, 2);
    assert_fate(new, "present", None);
}

#[test]
fn overwritten_file_names_the_first_later_layer_that_replaced_it() {
    let tree = Tree::new();
    let t = |n: u64| github_token(300 + n);
    let spec = ImageSpec::with_layers(vec![
        base_layer(),
        LayerSpec::gzip(vec![
            file("app/config.yml", format!("github:\n  token: {}\n", t(1))),
            file("app/settings.yml", format!("token: {}\n", t(2))),
            file("app/link-me.env", format!("T={}\n", t(3))),
        ]),
        LayerSpec::gzip(vec![
            file("app/config.yml", "github:\n  token: from-vault\n"),
            symlink("app/link-me.env", "/run/secrets/env"),
        ]),
        // Layer 3 deletes config.yml again: its layer-1 copy was already
        // overwritten in layer 2, and the first later change is what counts.
        LayerSpec::gzip(vec![
            whiteout("app/config.yml"),
            file("app/settings.yml", "token: from-vault\n"),
        ]),
    ]);
    let built = write_oci_layout(&tree.path().join("layout"), &[("app", &spec)]);
    let image = &built[0];
    let run = image_json(&tree, &["oci:layout:app", "--show-secrets"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let findings = run.findings();
    assert_eq!(findings.len(), 3, "{findings:?}");
    let config = the_one(&findings, &t(1));
    assert_eq!(config["path"], "/app/config.yml");
    assert_eq!(config["line"], 2);
    assert_layer(config, image, 1);
    assert_fate(config, "overwritten", Some((image, 2)));
    let settings = the_one(&findings, &t(2));
    assert_fate(settings, "overwritten", Some((image, 3)));
    let replaced_by_link = the_one(&findings, &t(3));
    assert_fate(replaced_by_link, "overwritten", Some((image, 2)));
}

#[test]
fn secret_present_in_the_final_image_and_the_json_contract() {
    let tree = Tree::new();
    let token = github_token(400);
    let spec = ImageSpec::with_layers(vec![
        base_layer(),
        LayerSpec::gzip(vec![file(
            "app/.env",
            format!("# config\nGITHUB_TOKEN={token}\n"),
        )]),
        LayerSpec::gzip(vec![file("usr/bin/tool", "#!/bin/sh\necho tool\n")]),
    ]);
    let built = write_oci_layout(&tree.path().join("layout"), &[("app", &spec)]);
    let image = &built[0];
    let run = image_json(&tree, &["oci:layout:app"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        !run.stdout.contains(&token),
        "secrets are redacted by default"
    );
    let report = run.json();
    assert_eq!(report["tool"]["name"], "strata");
    for key in ["summary", "findings", "errors", "skipped"] {
        assert!(report.get(key).is_some(), "missing {key}");
    }
    let findings = run.findings();
    assert_eq!(findings.len(), 1);
    let f = &findings[0];
    for field in [
        "rule_id",
        "rule_name",
        "path",
        "line",
        "column",
        "end_line",
        "secret",
        "fingerprint",
        "finding_id",
        "entropy",
        "validation",
        "image",
        "layer",
        "fate",
    ] {
        assert!(f.get(field).is_some(), "missing {field} in {f}");
    }
    assert_eq!(f["secret"], "ghp_*****");
    assert_eq!(f["validation"], "checksum-valid");
    assert_eq!(f["fingerprint"].as_str().unwrap().len(), 64);
    assert_eq!(f["finding_id"].as_str().unwrap().len(), 32);
    assert_eq!(f["path"], "/app/.env");
    assert_eq!(
        (f["line"].as_u64(), f["column"].as_u64()),
        (Some(2), Some(14))
    );
    assert_layer(f, image, 1);
    assert_fate(f, "present", None);
    let summary = &report["summary"];
    assert_eq!(summary["images"], 1);
    assert_eq!(summary["layers"], 3);
    assert_eq!(summary["layers_scanned"], 3);
    assert_eq!(summary["findings"], 1);
    assert_eq!(summary["complete"], true);

    // The same secret scanned as a file and in the image: same fingerprint.
    tree.write("plain/.env", format!("# config\nGITHUB_TOKEN={token}\n"));
    let plain = strata_in(tree.path(), &["scan", "plain", "--format", "json"], None);
    assert_eq!(plain.findings()[0]["fingerprint"], f["fingerprint"]);

    // An image without secrets: exit 0.
    let clean = ImageSpec::with_layers(vec![base_layer()]);
    write_oci_layout(&tree.path().join("clean"), &[("app", &clean)]);
    let run = image_json(&tree, &["oci:clean:app"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(run.findings().len(), 0);
}

// ---- config and history -----------------------------------------------------

#[test]
fn config_secrets_name_their_field_and_layers_their_history_step() {
    let tree = Tree::new();
    let t = |n: u64| github_token(500 + n);
    let spec = config_spec(500);
    let built = write_oci_layout(&tree.path().join("layout"), &[("app", &spec)]);
    let image = &built[0];
    // History index ≠ layer index: layer 1 is step 3, layer 2 is step 5.
    assert_eq!(image.layers[1].history_index, 3);
    assert_eq!(image.layers[2].history_index, 5);
    let run = image_json(&tree, &["oci:layout:app", "--show-secrets"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let findings = run.findings();
    let github: Vec<Value> = findings
        .iter()
        .filter(|f| f["rule_id"] == "github-pat-classic")
        .cloned()
        .collect();
    assert_eq!(github.len(), 7, "{}", run.stdout);

    assert_config(the_one(&findings, &t(10)), "Env[1]");
    assert_config(
        the_one(&findings, &t(11)),
        "Labels.org.example.deploy-token",
    );
    assert_config(the_one(&findings, &t(12)), "Cmd");
    assert_config(the_one(&findings, &t(16)), "Entrypoint");
    let build_arg = the_one(&findings, &t(13));
    assert_config(build_arg, "history[3].created_by");
    for n in [10, 11, 12, 13, 16] {
        let f = the_one(&findings, &t(n));
        assert_eq!(f["image"]["reference"], "oci:layout:app");
        assert_eq!(
            f["image"]["manifest_digest"],
            image.manifest_digest.as_str()
        );
    }

    let log = the_one(&findings, &t(14));
    assert_eq!(log["path"], "/app/build.log");
    assert_eq!(log["line"], 2);
    assert_layer(log, image, 1);
    assert_eq!(
        log["layer"]["created_by"],
        format!("RUN |1 GITHUB_TOKEN={} /bin/sh -c make", t(13)),
        "layer 1 was made by history step 3, not step 1"
    );
    let env_file = the_one(&findings, &t(15));
    assert_eq!(env_file["path"], "/app/.env");
    assert_layer(env_file, image, 2);
    assert_eq!(
        env_file["layer"]["created_by"],
        "COPY app/ /app/ # buildkit"
    );
    assert_fate(env_file, "present", None);
}

#[test]
fn secrets_in_config_and_created_by_stay_redacted_in_every_default_output() {
    // A build arg lands in `created_by`, which reports echo (a layer's
    // step, a history row): without --show-secrets no output may hold it.
    let tree = Tree::new();
    let spec = config_spec(600);
    write_oci_layout(&tree.path().join("layout"), &[("app", &spec)]);
    let planted: Vec<String> = (10..=16).map(|n| github_token(600 + n)).collect();
    let outputs = every_output_of("oci:layout:app");
    let mut leaks = Vec::new();
    for args in outputs {
        let run = strata_in(tree.path(), &args, None);
        assert_eq!(run.code, 1, "{args:?}: {}", run.stderr);
        for line in run.stdout.lines().chain(run.stderr.lines()) {
            // A redacted secret shows at most its 4-byte prefix (`ghp_`):
            // 12 bytes of it are a leak, even when a column cut the rest.
            if planted.iter().any(|secret| line.contains(&secret[..12])) {
                leaks.push(format!("{}: {}", args.join(" "), line.trim()));
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "secrets printed without --show-secrets:\n{}",
        leaks.join("\n")
    );
}

#[test]
fn history_json_lists_steps_newest_first_with_their_layers() {
    let tree = Tree::new();
    let spec = config_spec(700);
    let built = write_oci_layout(&tree.path().join("layout"), &[("app", &spec)]);
    let image = &built[0];
    let run = strata_in(
        tree.path(),
        &["history", "oci:layout:app", "--format", "json"],
        None,
    );
    assert_ne!(run.code, 2, "{}", run.stderr);
    let report = run.json();
    assert_eq!(report["order"], "newest-first");
    assert_eq!(report["image"]["reference"], "oci:layout:app");
    assert_eq!(
        report["image"]["manifest_digest"],
        image.manifest_digest.as_str()
    );
    assert_eq!(report["errors"].as_array().map(Vec::len), Some(0));
    assert!(report["summary"].is_object());
    let steps = report["steps"].as_array().expect("steps");
    assert_eq!(steps.len(), 7);
    let layer_of_step = |step: usize| image.layers.iter().position(|l| l.history_index == step);
    for (row, step) in steps.iter().enumerate() {
        let i = 6 - row;
        assert_eq!(step["step"], i, "row {row} of a newest-first list");
        let (created_by, empty) = &image.history[i];
        assert_eq!(step["empty_layer"], *empty, "{step}");
        if i != 3 {
            // Step 3 holds a secret: its created_by may be shown redacted.
            assert_eq!(step["created_by"], created_by.as_str(), "{step}");
        } else {
            let shown = step["created_by"].as_str().unwrap();
            assert!(shown.starts_with("RUN |1 GITHUB_TOKEN=ghp_"), "{shown}");
        }
        match layer_of_step(i) {
            None => assert!(step["layer"].is_null(), "{step}"),
            Some(index) => {
                let layer = &image.layers[index];
                assert_eq!(step["layer"]["index"], index, "{step}");
                assert_eq!(step["layer"]["digest"], layer.digest.as_str());
                assert_eq!(step["layer"]["diff_id"], layer.diff_id.as_str());
                assert!(step["layer"]["size"].is_u64(), "{step}");
            }
        }
        let findings = step["findings"].as_array().expect("findings of a step");
        match i {
            3 => {
                let fields: BTreeSet<&str> = findings
                    .iter()
                    .filter_map(|f| f["config_field"].as_str())
                    .collect();
                assert!(fields.contains("history[3].created_by"), "{step}");
                assert!(
                    findings
                        .iter()
                        .any(|f| f["path"] == "/app/build.log" && f["layer"]["index"] == 1),
                    "{step}"
                );
            }
            5 => {
                assert_eq!(findings.len(), 1, "{step}");
                assert_eq!(findings[0]["path"], "/app/.env");
                assert_eq!(findings[0]["fate"]["status"], "present");
            }
            _ => assert!(findings.is_empty(), "step {i}: {step}"),
        }
    }
    let config_fields: BTreeSet<&str> = report["config_findings"]
        .as_array()
        .expect("config_findings")
        .iter()
        .map(|f| f["config_field"].as_str().unwrap())
        .collect();
    let expected: BTreeSet<&str> = [
        "Env[1]",
        "Labels.org.example.deploy-token",
        "Cmd",
        "Entrypoint",
    ]
    .into_iter()
    .collect();
    assert_eq!(config_fields, expected);
}

#[test]
fn history_text_fits_80_columns_and_marks_deleted_and_overwritten() {
    let tree = Tree::new();
    let t = |n: u64| github_token(800 + n);
    let packages: Vec<String> = (0..60).map(|i| format!("libpackage{i}-dev")).collect();
    let long_step = format!(
        "RUN /bin/sh -c apt-get update && apt-get install -y --no-install-recommends {} && rm -rf /var/lib/apt/lists/*",
        packages.join(" ")
    );
    assert!(long_step.len() > 600);
    let spec = ImageSpec {
        layers: vec![
            base_layer(),
            LayerSpec::gzip(vec![
                file("app/.env", format!("T={}\n", t(1))),
                file("app/config.yml", format!("token: {}\n", t(2))),
            ]),
            LayerSpec::gzip(vec![whiteout("app/.env")]),
            LayerSpec::gzip(vec![
                file("app/config.yml", "token: from-vault\n"),
                file("usr/lib/libpackage0.so", "not really\n"),
            ]),
        ],
        history: vec![
            ("/bin/sh -c #(nop) ADD file:base in / ".into(), false),
            ("COPY . /app # buildkit".into(), false),
            (
                "/bin/sh -c #(nop)  ENV DEBIAN_FRONTEND=noninteractive".into(),
                true,
            ),
            ("RUN /bin/sh -c rm /app/.env # buildkit".into(), false),
            (long_step, false),
        ],
        ..ImageSpec::default()
    };
    let built = write_oci_layout(&tree.path().join("layout"), &[("app", &spec)]);
    let image = &built[0];
    let run = strata_in(tree.path(), &["history", "oci:layout:app"], None);
    assert_ne!(run.code, 2, "{}", run.stderr);
    let text = &run.stdout;
    for line in text.lines() {
        assert!(
            line.chars().count() <= 80,
            "line of {} columns:\n{line}\nin:\n{text}",
            line.chars().count()
        );
    }
    assert!(text.contains("deleted in layer 2"), "{text}");
    assert!(text.contains("overwritten in layer 3"), "{text}");
    assert!(text.contains("/app/.env"), "{text}");
    assert!(text.contains("apt-get update"), "{text}");
    assert!(
        text.contains(&hex_of(&image.layers[1].digest)[..12]),
        "layer digests are shown (at least 12 hex digits):\n{text}"
    );
    assert!(!text.contains(&t(1)) && !text.contains(&t(2)));
}

// ---- several images, layer formats, links, archives inside layers ----------

#[test]
fn two_images_sharing_a_layer_scan_it_once_and_report_it_for_each() {
    let tree = Tree::new();
    let t = |n: u64| github_token(900 + n);
    let shared = || {
        LayerSpec::gzip(vec![
            file("etc/os-release", "ID=fixture\n"),
            file("etc/app/.env", format!("T={}\n", t(0))),
        ])
    };
    let a = ImageSpec::with_layers(vec![
        shared(),
        LayerSpec::gzip(vec![file("app/a.env", format!("T={}\n", t(1)))]),
    ]);
    // b deletes the shared file: the same layer, a different fate.
    let b = ImageSpec::with_layers(vec![
        shared(),
        LayerSpec::gzip(vec![
            file("app/b.env", format!("T={}\n", t(2))),
            whiteout("etc/app/.env"),
        ]),
    ]);
    let built = write_oci_layout(&tree.path().join("layout"), &[("a", &a), ("b", &b)]);
    assert_eq!(built[0].layers[0].digest, built[1].layers[0].digest);
    let run = image_json(&tree, &["oci:layout:a", "oci:layout:b", "--show-secrets"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let findings = run.findings();
    let only_a = the_one(&findings, &t(1));
    assert_eq!(only_a["image"]["reference"], "oci:layout:a");
    assert_eq!(
        only_a["image"]["manifest_digest"],
        built[0].manifest_digest.as_str()
    );
    let only_b = the_one(&findings, &t(2));
    assert_eq!(only_b["image"]["reference"], "oci:layout:b");
    assert_eq!(
        only_b["image"]["manifest_digest"],
        built[1].manifest_digest.as_str()
    );
    let shared_findings = with_secret(&findings, &t(0));
    assert_eq!(shared_findings.len(), 2, "{findings:?}");
    let in_a = shared_findings
        .iter()
        .find(|f| f["image"]["reference"] == "oci:layout:a")
        .expect("shared-layer finding reported for image a");
    let in_b = shared_findings
        .iter()
        .find(|f| f["image"]["reference"] == "oci:layout:b")
        .expect("shared-layer finding reported for image b");
    assert_layer(in_a, &built[0], 0);
    assert_layer(in_b, &built[1], 0);
    assert_fate(in_a, "present", None);
    assert_fate(in_b, "deleted", Some((&built[1], 1)));
    let summary = &run.json()["summary"];
    assert_eq!(summary["images"], 2);
    assert_eq!(summary["layers"], 4);
    assert_eq!(
        summary["layers_scanned"], 3,
        "the shared layer is scanned once"
    );
}

#[test]
fn zstd_plain_multi_member_gzip_and_mislabelled_layers_are_read() {
    let tree = Tree::new();
    let t = |n: u64| github_token(1000 + n);
    let filler = "2026-01-01T00:00:00Z INFO request served in 3ms\n".repeat(2000);
    let spec = ImageSpec::with_layers(vec![
        base_layer(),
        LayerSpec::zstd(vec![file("app/z.env", format!("T={}\n", t(1)))]),
        LayerSpec::plain(vec![file("app/p.env", format!("T={}\n", t(2)))]),
        LayerSpec::new(
            Compression::GzipTwoMembers,
            vec![
                file("var/log/a.log", &filler),
                file("var/log/b.log", format!("{filler}T={}\n", t(3))),
            ],
        ),
        // A gzip blob whose manifest says plain tar: the magic bytes decide.
        LayerSpec::gzip(vec![file("app/m.env", format!("T={}\n", t(4)))])
            .media_type(MEDIA_LAYER_TAR),
    ]);
    let built = write_oci_layout(&tree.path().join("layout"), &[("app", &spec)]);
    let image = &built[0];
    assert_eq!(image.layers[1].media_type, MEDIA_LAYER_ZSTD);
    assert_eq!(image.layers[2].media_type, MEDIA_LAYER_TAR);
    assert_eq!(image.layers[2].digest, image.layers[2].diff_id);
    let run = image_json(&tree, &["oci:layout:app", "--show-secrets"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.json()["summary"]["errors"], 0, "{}", run.stdout);
    let findings = run.findings();
    for (n, path, layer) in [
        (1, "/app/z.env", 1),
        (2, "/app/p.env", 2),
        (3, "/var/log/b.log", 3),
        (4, "/app/m.env", 4),
    ] {
        let f = the_one(&findings, &t(n));
        assert_eq!(f["path"], path);
        assert_layer(f, image, layer);
    }
    assert_eq!(the_one(&findings, &t(3))["line"], 2001);
}

#[test]
fn links_to_a_secret_file_do_not_report_it_again() {
    let tree = Tree::new();
    let token = github_token(1100);
    let spec = ImageSpec::with_layers(vec![
        base_layer(),
        LayerSpec::gzip(vec![
            file("app/.env", format!("T={token}\n")),
            symlink("app/env-link", ".env"),
            symlink("app/env-abs", "/app/.env"),
            hardlink("app/env-hard", "app/.env"),
        ]),
        LayerSpec::gzip(vec![
            symlink("etc/app.env", "/app/.env"),
            symlink("etc/escape", "../../../../../../etc/passwd"),
        ]),
    ]);
    let built = write_oci_layout(&tree.path().join("layout"), &[("app", &spec)]);
    let run = image_json(&tree, &["oci:layout:app", "--show-secrets"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let findings = run.findings();
    assert_eq!(findings.len(), 1, "{findings:?}");
    let f = the_one(&findings, &token);
    assert_eq!(f["path"], "/app/.env");
    assert_layer(f, &built[0], 1);
    assert_fate(f, "present", None);
}

#[test]
fn archives_inside_a_layer_are_opened() {
    let tree = Tree::new();
    let t = |n: u64| github_token(1200 + n);
    let jar = zip_bytes(&[
        ("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\n"),
        (
            "application.properties",
            format!("server.port=8080\n\ngithub.token={}\n", t(1)).as_bytes(),
        ),
    ]);
    let bundle = gzip(&tar_bytes(&[(
        "conf/.env",
        format!("T={}\n", t(2)).as_bytes(),
    )]));
    // A log of two gzip members, the secret in the second: small gzip
    // files are decoded whole in memory, and this one must not stop at its
    // first member (of the same length, so the trailer's length fits it).
    let second = format!("token={}\n", t(3));
    let first = format!("{}\n", "-".repeat(second.len() - 1));
    let mut log = gzip(first.as_bytes());
    log.extend_from_slice(&gzip(second.as_bytes()));
    let spec = ImageSpec::with_layers(vec![
        base_layer(),
        LayerSpec::gzip(vec![
            file("app/lib/app.jar", &jar),
            file("app/vendor/bundle.tar.gz", &bundle),
            file("app/log/app.log.1.gz", &log),
            file(
                "app/log/app.log.2.gz",
                gzip(format!("token={}\n", t(4)).as_bytes()),
            ),
        ]),
    ]);
    let built = write_oci_layout(&tree.path().join("layout"), &[("app", &spec)]);
    let run = image_json(&tree, &["oci:layout:app", "--show-secrets"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let findings = run.findings();
    let f = the_one(&findings, &t(1));
    assert_eq!(f["path"], "/app/lib/app.jar!application.properties");
    assert_eq!(f["line"], 3);
    assert_layer(f, &built[0], 1);
    let g = the_one(&findings, &t(2));
    assert_eq!(g["path"], "/app/vendor/bundle.tar.gz!conf/.env");
    // A compressed file adds no path level.
    let h = the_one(&findings, &t(3));
    assert_eq!(h["path"], "/app/log/app.log.1.gz");
    assert_eq!(h["line"], 2);
    assert_eq!(the_one(&findings, &t(4))["path"], "/app/log/app.log.2.gz");
}

#[test]
fn a_file_that_only_looks_like_a_zip_is_an_error_and_still_scanned_raw() {
    let tree = Tree::new();
    let t = |n: u64| github_token(1300 + n);
    // Zip magic, then no zip at all: it cannot be opened, and its bytes
    // must not go unread because of that.
    let mut fake = b"PK\x03\x04".to_vec();
    fake.extend_from_slice(format!("\nnot really a zip\nT={}\n", t(1)).as_bytes());
    let spec = ImageSpec::with_layers(vec![
        base_layer(),
        LayerSpec::gzip(vec![
            file("app/fake.zip", &fake),
            file("app/ok.env", format!("T={}\n", t(2))),
        ]),
    ]);
    let built = write_oci_layout(&tree.path().join("layout"), &[("app", &spec)]);
    let run = image_json(&tree, &["oci:layout:app", "--show-secrets"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_error(&run, &["/app/fake.zip"], &["zip"]);
    let findings = run.findings();
    let f = the_one(&findings, &t(1));
    assert_eq!(f["path"], "/app/fake.zip");
    assert_eq!(f["line"], 3);
    assert_layer(f, &built[0], 1);
    assert_eq!(the_one(&findings, &t(2))["path"], "/app/ok.env");
}

#[test]
fn multi_arch_index_picks_the_requested_platform() {
    let tree = Tree::new();
    let t = |n: u64| github_token(1300 + n);
    let amd64 = ImageSpec::with_layers(vec![
        base_layer(),
        LayerSpec::gzip(vec![file("app/.env", format!("T={}\n", t(1)))]),
    ]);
    let arm64 = ImageSpec {
        layers: vec![
            LayerSpec::gzip(vec![file("etc/os-release", "ID=fixture\nARCH=arm64\n")]),
            LayerSpec::gzip(vec![file("app/.env", format!("T={}\n", t(2)))]),
        ],
        architecture: "arm64".into(),
        variant: Some("v8".into()),
        ..ImageSpec::default()
    };
    let built = write_oci_layout_multiarch(&tree.path().join("layout"), "app", &[&amd64, &arm64]);
    for (platform, which, secret) in [
        ("linux/arm64", 1, t(2)),
        ("linux/arm64/v8", 1, t(2)),
        ("linux/amd64", 0, t(1)),
    ] {
        let run = image_json(
            &tree,
            &["oci:layout:app", "--platform", platform, "--show-secrets"],
        );
        assert_eq!(run.code, 1, "{platform}: {}", run.stderr);
        let findings = run.findings();
        assert_eq!(
            secrets(&findings),
            BTreeSet::from([secret.clone()]),
            "{platform}"
        );
        let f = the_one(&findings, &secret);
        assert_eq!(
            f["image"]["manifest_digest"],
            built.images[which].manifest_digest.as_str(),
            "{platform}"
        );
        assert_layer(f, &built.images[which], 1);
    }
    // A platform the index does not have is an error, never an empty pass.
    let run = image_json(&tree, &["oci:layout:app", "--platform", "linux/s390x"]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.stdout.contains("s390x") || run.stderr.contains("s390x"),
        "{}{}",
        run.stdout,
        run.stderr
    );
}

// ---- image sources and reference spellings ----------------------------------

/// A three-layer image: /app/.env (t(1)) deleted in layer 2, /app/keep.env
/// (t(2)) still present. Layers are plain tars, as `docker save` writes them.
fn archive_spec(t: impl Fn(u64) -> String) -> ImageSpec {
    let mut base = base_layer();
    base.compression = Compression::None;
    ImageSpec::with_layers(vec![
        base,
        LayerSpec::plain(vec![
            file("app/.env", format!("T={}\n", t(1))),
            file("app/keep.env", format!("T={}\n", t(2))),
        ]),
        LayerSpec::plain(vec![whiteout("app/.env")]),
    ])
}

fn assert_archive_findings(run: &Run, image: &BuiltImage, t: &impl Fn(u64) -> String) {
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    assert_eq!(report["summary"]["errors"], 0, "{}", run.stdout);
    let findings = run.findings();
    assert_eq!(findings.len(), 2, "{findings:?}");
    let deleted = the_one(&findings, &t(1));
    assert_eq!(deleted["path"], "/app/.env");
    assert_layer(deleted, image, 1);
    assert_fate(deleted, "deleted", Some((image, 2)));
    assert_fate(the_one(&findings, &t(2)), "present", None);
}

#[test]
fn docker_save_legacy_and_oci_in_tar_with_every_spelling() {
    let tree = Tree::new();
    let t = |n: u64| github_token(1400 + n);
    let spec = archive_spec(t);
    let legacy = write_docker_save_legacy(&tree.path().join("legacy.tar"), "app:1", &spec);
    let docker25 = write_docker_save_oci(&tree.path().join("docker25.tar"), "app:1", &spec);
    // Legacy layers are stored uncompressed: blob digest = diff_id.
    assert_eq!(legacy.layers[1].digest, legacy.layers[1].diff_id);
    for (file, image, is_oci) in [
        ("legacy.tar", &legacy, false),
        ("docker25.tar", &docker25, true),
    ] {
        let prefixed = format!("docker-archive:{file}");
        for args in [vec![prefixed.as_str()], vec!["--archive", file], vec![file]] {
            let mut all = args.clone();
            all.push("--show-secrets");
            let run = image_json(&tree, &all);
            assert_archive_findings(&run, image, &t);
            let f = &run.findings()[0];
            if args.len() == 1 {
                assert_eq!(f["image"]["reference"], args[0], "{args:?}");
            }
            if is_oci {
                assert_eq!(
                    f["image"]["manifest_digest"],
                    image.manifest_digest.as_str(),
                    "{args:?}"
                );
            }
        }
    }
}

#[test]
fn oci_archives_and_oci_layout_spellings() {
    let tree = Tree::new();
    let t = |n: u64| github_token(1500 + n);
    let spec = archive_spec(t);
    let layout = write_oci_layout(&tree.path().join("layout"), &[("app", &spec)]);
    let archive = write_oci_archive(&tree.path().join("app-oci.tar"), &[("app", &spec)]);
    assert_eq!(layout[0].manifest_digest, archive[0].manifest_digest);
    let absolute = format!("oci:{}:app", tree.path().join("layout").display());
    let spellings: Vec<Vec<&str>> = vec![
        vec!["oci:layout:app"],
        vec!["oci:layout"],
        vec!["layout"],
        vec![absolute.as_str()],
        vec!["--oci", "layout:app"],
        vec!["oci-archive:app-oci.tar"],
        vec!["app-oci.tar"],
    ];
    for args in spellings {
        let mut all = args.clone();
        all.push("--show-secrets");
        let run = image_json(&tree, &all);
        assert_archive_findings(&run, &layout[0], &t);
        let f = &run.findings()[0];
        assert_eq!(
            f["image"]["manifest_digest"],
            layout[0].manifest_digest.as_str(),
            "{args:?}"
        );
        if args.len() == 1 {
            assert_eq!(f["image"]["reference"], args[0], "{args:?}");
        }
    }
    // A tag the layout does not have: an error naming it.
    let run = image_json(&tree, &["oci:layout:nope"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stdout.contains("nope") || run.stderr.contains("nope"),
        "{}{}",
        run.stdout,
        run.stderr
    );
}

// ---- broken inputs fail closed ------------------------------------------------

/// Base (t(0), /etc/base.env), a middle layer to break (t(1)), a top layer
/// (t(2), /app/.env): whatever happens to the middle one, the other two
/// are still read and reported.
fn three_layers(t: impl Fn(u64) -> String, middle: LayerSpec) -> ImageSpec {
    ImageSpec::with_layers(vec![
        LayerSpec::gzip(vec![
            file("etc/os-release", "ID=fixture\n"),
            file("etc/base.env", format!("T={}\n", t(0))),
        ]),
        middle,
        LayerSpec::gzip(vec![file("app/.env", format!("T={}\n", t(2)))]),
    ])
}

fn middle_layer(t: impl Fn(u64) -> String) -> LayerSpec {
    let filler = "2026-01-01T00:00:00Z INFO request 42 served in 3ms\n".repeat(4000);
    LayerSpec::gzip(vec![
        file("app/mid.env", format!("T={}\n", t(1))),
        file("var/log/app.log", filler),
    ])
}

fn assert_intact_layers_reported(run: &Run, t: impl Fn(u64) -> String) {
    let found = secrets(&run.findings());
    assert!(
        found.contains(&t(0)) && found.contains(&t(2)),
        "findings of the intact layers must still be reported:\n{}",
        run.stdout
    );
}

#[test]
fn truncated_gzip_layer_fails_closed_and_the_other_layers_still_report() {
    let tree = Tree::new();
    let t = |n: u64| github_token(1600 + n);
    // The manifest describes the cut blob exactly: only the gzip stream is broken.
    let spec = three_layers(t, middle_layer(t).damaged(Damage::TruncatedBlob));
    let built = write_oci_layout(&tree.path().join("cut"), &[("app", &spec)]);
    let run = image_json(&tree, &["oci:cut:app", "--show-secrets"]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert_error(
        &run,
        &["oci:cut:app", short(&built[0].layers[1].digest)],
        &[
            "gzip",
            "deflate",
            "unexpected end",
            "incomplete",
            "truncated",
            "eof",
        ],
    );
    assert_intact_layers_reported(&run, t);

    // Cut after writing: the digest no longer matches either.
    let spec = three_layers(t, middle_layer(t));
    let built = write_oci_layout(&tree.path().join("cut2"), &[("app", &spec)]);
    truncate_blob(&tree.path().join("cut2"), &built[0].layers[1].digest);
    let run = image_json(&tree, &["oci:cut2:app", "--show-secrets"]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert_error(
        &run,
        &["oci:cut2:app", short(&built[0].layers[1].digest)],
        &[
            "digest mismatch",
            "gzip",
            "deflate",
            "unexpected end",
            "incomplete",
            "truncated",
            "eof",
        ],
    );
    assert_intact_layers_reported(&run, t);
}

#[test]
fn tampered_layer_blob_is_a_digest_mismatch() {
    let tree = Tree::new();
    let t = |n: u64| github_token(1700 + n);
    let spec = three_layers(t, middle_layer(t));
    let built = write_oci_layout(&tree.path().join("layout"), &[("app", &spec)]);
    // Still valid gzip of the very same tar: only the digest check can tell.
    tamper_gzip_blob(&tree.path().join("layout"), &built[0].layers[1].digest);
    let run = image_json(&tree, &["oci:layout:app", "--show-secrets"]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert_error(
        &run,
        &["oci:layout:app", short(&built[0].layers[1].digest)],
        &["digest mismatch"],
    );
    assert_intact_layers_reported(&run, t);

    // A flipped byte inside a plain layer's file data: the tar still parses.
    let mut middle = middle_layer(t);
    middle.compression = Compression::None;
    let spec = three_layers(t, middle);
    let built = write_oci_layout(&tree.path().join("plain"), &[("app", &spec)]);
    let digest = &built[0].layers[1].digest;
    let blob = std::fs::read(blob_path(&tree.path().join("plain"), digest)).unwrap();
    let at = blob
        .windows(9)
        .position(|w| w == b"INFO requ")
        .expect("log text in the plain tar");
    flip_byte(&tree.path().join("plain"), digest, at);
    let run = image_json(&tree, &["oci:plain:app", "--show-secrets"]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert_error(
        &run,
        &["oci:plain:app", short(digest)],
        &["digest mismatch"],
    );
    assert_intact_layers_reported(&run, t);
}

#[test]
fn manifest_pointing_to_a_missing_blob_fails_closed() {
    let tree = Tree::new();
    let t = |n: u64| github_token(1800 + n);
    let spec = three_layers(t, middle_layer(t));
    let built = write_oci_layout(&tree.path().join("layout"), &[("app", &spec)]);
    remove_blob(&tree.path().join("layout"), &built[0].layers[1].digest);
    let run = image_json(&tree, &["oci:layout:app", "--show-secrets"]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert_error(
        &run,
        &["oci:layout:app", short(&built[0].layers[1].digest)],
        &["missing blob", "not found", "no such file"],
    );
    assert_intact_layers_reported(&run, t);

    // Without its config the image cannot be trusted at all: still exit 2.
    let built = write_oci_layout(&tree.path().join("noconfig"), &[("app", &spec)]);
    remove_blob(&tree.path().join("noconfig"), &built[0].config_digest);
    let run = image_json(&tree, &["oci:noconfig:app"]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert_error(
        &run,
        &["oci:noconfig:app"],
        &["missing blob", "not found", "no such file"],
    );
}

#[test]
fn corrupt_tar_header_fails_closed() {
    let tree = Tree::new();
    let t = |n: u64| github_token(1900 + n);
    let spec = three_layers(t, middle_layer(t).damaged(Damage::CorruptTarHeader));
    let built = write_oci_layout(&tree.path().join("layout"), &[("app", &spec)]);
    let run = image_json(&tree, &["oci:layout:app", "--show-secrets"]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert_error(
        &run,
        &["oci:layout:app", short(&built[0].layers[1].digest)],
        &["corrupt tar", "tar header", "checksum"],
    );
    assert_intact_layers_reported(&run, t);
}

// ---- gate features: baseline, inline allow, formats -------------------------

#[test]
fn baseline_round_trip_on_a_rebuilt_image() {
    let tree = Tree::new();
    let t = |n: u64| github_token(2000 + n);
    let v1 = ImageSpec::with_layers(vec![
        base_layer(),
        LayerSpec::gzip(vec![file("app/.env", format!("T={}\n", t(1)))]),
    ]);
    let layout = tree.path().join("layout");
    write_oci_layout(&layout, &[("app", &v1)]);
    let run = image_json(
        &tree,
        &["oci:layout:app", "--write-baseline", "baseline.json"],
    );
    assert_eq!(
        run.code, 0,
        "writing a baseline accepts what it found: {}",
        run.stderr
    );
    let text = std::fs::read_to_string(tree.path().join("baseline.json")).unwrap();
    assert!(
        !text.contains(&t(1)),
        "the baseline must not hold the secret"
    );
    let run = image_json(&tree, &["oci:layout:app", "--baseline", "baseline.json"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.json()["summary"]["baselined"], 1);

    // Rebuilt: new base, an extra layer, the accepted secret moved down a
    // line and one layer up, and a new secret. Only the new one fails.
    std::fs::remove_dir_all(&layout).unwrap();
    let v2 = ImageSpec::with_layers(vec![
        LayerSpec::gzip(vec![file("etc/os-release", "ID=fixture\nVERSION_ID=2\n")]),
        LayerSpec::gzip(vec![file("usr/bin/tool", "#!/bin/sh\n")]),
        LayerSpec::gzip(vec![
            file("app/.env", format!("# moved\nT={}\n", t(1))),
            file("app/new.env", format!("T={}\n", t(2))),
        ]),
    ]);
    write_oci_layout(&layout, &[("app", &v2)]);
    let run = image_json(
        &tree,
        &[
            "oci:layout:app",
            "--baseline",
            "baseline.json",
            "--show-secrets",
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let findings = run.findings();
    assert_eq!(secrets(&findings), BTreeSet::from([t(2)]));
    assert_eq!(run.json()["summary"]["baselined"], 1);
}

#[test]
fn inline_allow_in_an_image_file_suppresses_unless_strict() {
    let tree = Tree::new();
    let spec = ImageSpec::with_layers(vec![
        base_layer(),
        LayerSpec::gzip(vec![file(
            "app/settings.py",
            format!(
                "TOKEN = \"{}\"  # strata:allow test fixture\n",
                github_token(2100)
            ),
        )]),
    ]);
    write_oci_layout(&tree.path().join("layout"), &[("app", &spec)]);
    let run = image_json(&tree, &["oci:layout:app"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.json()["summary"]["suppressed"], 1);
    let run = image_json(&tree, &["oci:layout:app", "--no-inline-allow"]);
    assert_eq!(run.code, 1);
    assert_eq!(run.findings().len(), 1);
}

#[test]
fn jsonl_and_sarif_reports_of_an_image() {
    let tree = Tree::new();
    let t = |n: u64| github_token(2200 + n);
    let spec = ImageSpec {
        env: vec![format!("GITHUB_TOKEN={}", t(3))],
        ..archive_spec(t)
    };
    write_oci_layout(&tree.path().join("layout"), &[("app", &spec)]);
    let run = strata_in(
        tree.path(),
        &["image", "oci:layout:app", "--format", "jsonl"],
        None,
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let lines: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "{}", run.stdout);
    assert!(lines[..3].iter().all(|l| l["kind"] == "finding"));
    assert!(lines[..3]
        .iter()
        .all(|l| l["image"]["reference"] == "oci:layout:app"));
    assert!(lines[..3]
        .iter()
        .any(|l| l["fate"]["status"] == "deleted" && l["layer"]["index"] == 1));
    assert!(lines[..3].iter().any(|l| l["config_field"] == "Env[0]"));
    assert_eq!(lines[3]["kind"], "summary");
    assert_eq!(lines[3]["summary"]["images"], 1);
    assert_eq!(lines[3]["summary"]["findings"], 3);

    let run = strata_in(
        tree.path(),
        &[
            "image",
            "oci:layout:app",
            "--format",
            "sarif",
            "--output",
            "report.sarif",
        ],
        None,
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let sarif: Value =
        serde_json::from_str(&std::fs::read_to_string(tree.path().join("report.sarif")).unwrap())
            .unwrap();
    let schema_path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/sarif-schema-2.1.0.json"
    );
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path).expect("vendored SARIF schema"))
            .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(errors.is_empty(), "SARIF invalid:\n{}", errors.join("\n"));
    assert_eq!(sarif["runs"][0]["results"].as_array().unwrap().len(), 3);
}

// ---- the fixture builder itself ------------------------------------------------

/// Checks an OCI layout (read through `get`) against itself: every blob's
/// name is its digest, every descriptor's digest and size match its blob,
/// every config's diff_ids are the digests of the uncompressed layers and
/// its non-empty history steps match the layers. Returns the manifests
/// found, each with its tag (or platform) annotation.
fn verify_layout(get: &dyn Fn(&str) -> Option<Vec<u8>>, blob_names: &[String]) -> Vec<Value> {
    for name in blob_names {
        let hex = name.strip_prefix("blobs/sha256/").unwrap();
        assert_eq!(
            hex_of(&sha256(&get(name).unwrap())),
            hex,
            "blob {name} is not named by its digest"
        );
    }
    let layout: Value = serde_json::from_slice(&get("oci-layout").unwrap()).unwrap();
    assert_eq!(layout["imageLayoutVersion"], "1.0.0");
    let index: Value = serde_json::from_slice(&get("index.json").unwrap()).unwrap();
    let blob = |descriptor: &Value| -> Vec<u8> {
        let digest = descriptor["digest"].as_str().unwrap();
        let bytes = get(&format!("blobs/sha256/{}", hex_of(digest)))
            .unwrap_or_else(|| panic!("missing blob {digest}"));
        assert_eq!(sha256(&bytes), digest);
        assert_eq!(descriptor["size"], bytes.len());
        bytes
    };
    let mut manifests = Vec::new();
    let mut pending: Vec<Value> = index["manifests"].as_array().unwrap().clone();
    while let Some(descriptor) = pending.pop() {
        let bytes = blob(&descriptor);
        let doc: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(doc["mediaType"], descriptor["mediaType"]);
        if descriptor["mediaType"] == MEDIA_INDEX {
            for m in doc["manifests"].as_array().unwrap() {
                assert!(m["platform"]["os"].is_string(), "{m}");
                pending.push(m.clone());
            }
            continue;
        }
        assert_eq!(descriptor["mediaType"], MEDIA_MANIFEST);
        assert_eq!(doc["config"]["mediaType"], MEDIA_CONFIG);
        let config: Value = serde_json::from_slice(&blob(&doc["config"])).unwrap();
        let layers = doc["layers"].as_array().unwrap();
        let diff_ids = config["rootfs"]["diff_ids"].as_array().unwrap();
        assert_eq!(config["rootfs"]["type"], "layers");
        assert_eq!(layers.len(), diff_ids.len());
        for (layer, diff_id) in layers.iter().zip(diff_ids) {
            let tar = decompress(&blob(layer)).unwrap();
            assert_eq!(sha256(&tar), diff_id.as_str().unwrap());
            tar_members(&tar).expect("layer is a readable tar");
        }
        let non_empty = config["history"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h["empty_layer"] != true)
            .count();
        assert_eq!(non_empty, layers.len());
        if let Some(platform) = descriptor.get("platform") {
            assert_eq!(platform["architecture"], config["architecture"]);
        }
        manifests.push(descriptor);
    }
    manifests
}

fn dir_getter(root: std::path::PathBuf) -> (impl Fn(&str) -> Option<Vec<u8>>, Vec<String>) {
    let names: Vec<String> = std::fs::read_dir(root.join("blobs/sha256"))
        .unwrap()
        .map(|e| format!("blobs/sha256/{}", e.unwrap().file_name().to_string_lossy()))
        .collect();
    (move |name: &str| std::fs::read(root.join(name)).ok(), names)
}

#[test]
fn fixture_oci_layout_is_self_consistent_and_dedupes_shared_layers() {
    let tree = Tree::new();
    let a = config_spec(0);
    let mut b = config_spec(0);
    b.layers[2] = LayerSpec::zstd(vec![file("app/other", "x"), whiteout("app/.env")]);
    let built = write_oci_layout(&tree.path().join("layout"), &[("a", &a), ("b", &b)]);
    let (get, names) = dir_getter(tree.path().join("layout"));
    let manifests = verify_layout(&get, &names);
    let tags: BTreeSet<&str> = manifests
        .iter()
        .map(|m| m["annotations"][REF_NAME].as_str().unwrap())
        .collect();
    assert_eq!(tags, BTreeSet::from(["a", "b"]));
    // a: 3 layers + config + manifest; b adds 1 layer, config, manifest.
    assert_eq!(names.len(), 5 + 3);
    assert_eq!(built[0].layers[1].digest, built[1].layers[1].digest);
    assert_eq!(built[1].layers[2].media_type, MEDIA_LAYER_ZSTD);
    let members = tar_members(&decompress(&built[1].layers[2].blob).unwrap()).unwrap();
    assert!(members.contains_key("app/.wh..env"), "{:?}", members.keys());
    assert!(!members.keys().any(|k| k.starts_with('/')));
    let config: Value = serde_json::from_slice(&built[0].config).unwrap();
    assert_eq!(
        config["config"]["Env"][1],
        format!("GITHUB_TOKEN={}", github_token(10))
    );
    assert_eq!(config["history"][1]["empty_layer"], true);
    assert_eq!(built[0].layers[1].created_by, a.history[3].0);
}

#[test]
fn fixture_multiarch_archives_and_docker_saves_are_self_consistent() {
    let tree = Tree::new();
    let amd64 = config_spec(0);
    let arm64 = ImageSpec {
        architecture: "arm64".into(),
        variant: Some("v8".into()),
        ..config_spec(1)
    };
    let multi = write_oci_layout_multiarch(&tree.path().join("multi"), "app", &[&amd64, &arm64]);
    let (get, names) = dir_getter(tree.path().join("multi"));
    let manifests = verify_layout(&get, &names);
    assert_eq!(manifests.len(), 2);
    assert!(manifests.iter().any(|m| m["platform"]["variant"] == "v8"
        && m["digest"] == multi.images[1].manifest_digest.as_str()));
    let index: Value = serde_json::from_slice(&get("index.json").unwrap()).unwrap();
    assert_eq!(index["manifests"][0]["digest"], multi.index_digest.as_str());
    assert_eq!(index["manifests"][0]["annotations"][REF_NAME], "app");

    // OCI archive and Docker 25 save: the tar holds a valid layout.
    let spec = archive_spec(github_token);
    for (name, built) in [
        (
            "oci.tar",
            write_oci_archive(&tree.path().join("oci.tar"), &[("app", &spec)]).remove(0),
        ),
        (
            "d25.tar",
            write_docker_save_oci(&tree.path().join("d25.tar"), "app:1", &spec),
        ),
    ] {
        let members = tar_members(&std::fs::read(tree.path().join(name)).unwrap()).unwrap();
        let blob_names: Vec<String> = members
            .keys()
            .filter(|k| k.starts_with("blobs/sha256/") && k.len() > "blobs/sha256/".len())
            .cloned()
            .collect();
        let manifests = verify_layout(&|n: &str| members.get(n).cloned(), &blob_names);
        assert_eq!(manifests.len(), 1);
        assert_eq!(manifests[0]["digest"], built.manifest_digest.as_str());
        if name == "d25.tar" {
            let legacy: Value = serde_json::from_slice(&members["manifest.json"]).unwrap();
            assert_eq!(
                legacy[0]["Config"],
                format!("blobs/sha256/{}", hex_of(&built.config_digest))
            );
            for (path, layer) in legacy[0]["Layers"]
                .as_array()
                .unwrap()
                .iter()
                .zip(&built.layers)
            {
                assert_eq!(sha256(&members[path.as_str().unwrap()]), layer.digest);
            }
        }
    }

    // Legacy save: manifest.json names a config named by its digest and
    // plain layer tars whose digests are the config's diff_ids.
    let legacy = write_docker_save_legacy(&tree.path().join("legacy.tar"), "app:1", &spec);
    let members = tar_members(&std::fs::read(tree.path().join("legacy.tar")).unwrap()).unwrap();
    let manifest: Value = serde_json::from_slice(&members["manifest.json"]).unwrap();
    assert_eq!(manifest[0]["RepoTags"][0], "app:1");
    let config_name = manifest[0]["Config"].as_str().unwrap();
    let config_bytes = &members[config_name];
    assert_eq!(
        format!("{}.json", hex_of(&sha256(config_bytes))),
        config_name
    );
    let config: Value = serde_json::from_slice(config_bytes).unwrap();
    let layers = manifest[0]["Layers"].as_array().unwrap();
    assert_eq!(layers.len(), 3);
    for ((path, diff_id), layer) in layers
        .iter()
        .zip(config["rootfs"]["diff_ids"].as_array().unwrap())
        .zip(&legacy.layers)
    {
        let tar = &members[path.as_str().unwrap()];
        assert!(path.as_str().unwrap().ends_with("/layer.tar"));
        assert_eq!(sha256(tar), diff_id.as_str().unwrap());
        assert_eq!(layer.digest, layer.diff_id);
        tar_members(tar).unwrap();
    }
}

#[test]
fn fixture_damage_breaks_what_it_says() {
    let t = |n: u64| github_token(n);
    // Corrupt header: the entries before it read, then an error.
    let corrupt = middle_layer(t).damaged(Damage::CorruptTarHeader).tar();
    let err = tar_members(&corrupt).expect_err("a corrupt header is an error");
    assert!(err.to_string().contains("checksum"), "{err}");
    // Truncated blob: the gzip stream ends early.
    let tree = Tree::new();
    let spec = three_layers(t, middle_layer(t).damaged(Damage::TruncatedBlob));
    let built = write_oci_layout(&tree.path().join("cut"), &[("app", &spec)]);
    let cut = &built[0].layers[1];
    assert_eq!(
        sha256(&cut.blob),
        cut.digest,
        "the digest is of the cut blob"
    );
    assert!(decompress(&cut.blob).is_err());
    // Tampered gzip: same tar, different digest.
    let spec = three_layers(t, middle_layer(t));
    let layout = tree.path().join("tampered");
    let built = write_oci_layout(&layout, &[("app", &spec)]);
    let digest = &built[0].layers[1].digest;
    tamper_gzip_blob(&layout, digest);
    let blob = std::fs::read(blob_path(&layout, digest)).unwrap();
    assert_ne!(&sha256(&blob), digest);
    assert_eq!(
        sha256(&decompress(&blob).unwrap()),
        built[0].layers[1].diff_id
    );
    // Removed blob.
    remove_blob(&layout, &built[0].layers[2].digest);
    assert!(!blob_path(&layout, &built[0].layers[2].digest).exists());
}

#[test]
fn fixture_artifacts_are_accepted_by_skopeo_when_installed() {
    // An independent reader of every artifact the builder writes (CI
    // installs skopeo): it checks each blob's digest while copying, and
    // refuses a tampered one — so the check has teeth.
    if std::process::Command::new("skopeo")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skopeo not installed: skipped");
        return;
    }
    let tree = Tree::new();
    let spec = config_spec(0);
    let built = write_oci_layout(&tree.path().join("layout"), &[("app", &spec)]);
    let arm64 = ImageSpec {
        architecture: "arm64".into(),
        variant: Some("v8".into()),
        ..config_spec(1)
    };
    write_oci_layout_multiarch(&tree.path().join("multi"), "app", &[&spec, &arm64]);
    let archive = archive_spec(github_token);
    write_oci_archive(&tree.path().join("oci.tar"), &[("app", &archive)]);
    write_docker_save_legacy(&tree.path().join("legacy.tar"), "app:1", &archive);
    write_docker_save_oci(&tree.path().join("d25.tar"), "app:1", &archive);
    let copy = |source: &str, dest: &str, all: bool| {
        let mut cmd = std::process::Command::new("skopeo");
        cmd.current_dir(tree.path())
            .args(["--insecure-policy", "copy", "--quiet"]);
        if all {
            cmd.arg("--all");
        }
        cmd.args([source, dest]).output().unwrap()
    };
    for (i, (source, all)) in [
        ("oci:layout:app", false),
        ("oci:multi:app", true),
        ("oci-archive:oci.tar:app", false),
        ("docker-archive:legacy.tar", false),
        ("docker-archive:d25.tar", false),
    ]
    .into_iter()
    .enumerate()
    {
        let out = copy(source, &format!("oci:copy-{i}:app"), all);
        assert!(
            out.status.success(),
            "skopeo copy {source}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    tamper_gzip_blob(&tree.path().join("layout"), &built[0].layers[1].digest);
    let out = copy("oci:layout:app", "oci:tampered-copy:app", false);
    assert!(!out.status.success(), "skopeo copied a tampered layer");
}

// ---- issue 13: no secret echoed through build steps -------------------------

#[test]
fn a_layer_secret_repeated_in_a_build_step_is_masked_in_every_output() {
    // Issue 13: `created_by` was masked only with the config's own findings,
    // so a build arg that only a layer's file made a finding was echoed.
    let tree = Tree::new();
    let (spec, secret) = build_arg_secret_spec(1300);
    write_oci_layout(&tree.path().join("layout"), &[("app", &spec)]);

    let run = image_json(&tree, &["oci:layout:app"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let findings = run.findings();
    let creds = findings
        .iter()
        .find(|f| f["path"] == "/app/creds")
        .expect("the layer finding");
    let step = creds["layer"]["created_by"].as_str().unwrap();
    assert!(step.starts_with("RUN |1 K="), "{step}");
    assert!(step.contains("*****"), "the build arg is masked: {step}");

    let outputs = every_output_of("oci:layout:app");
    for args in outputs {
        let run = strata_in(tree.path(), &args, None);
        assert_eq!(run.code, 1, "{args:?}: {}", run.stderr);
        for text in [&run.stdout, &run.stderr] {
            assert!(
                !text.contains(&secret[..12]),
                "{args:?} echoed the secret:\n{text}"
            );
        }
    }
    // --show-secrets shows build steps as recorded.
    let shown = image_json(&tree, &["oci:layout:app", "--show-secrets"]);
    assert!(
        shown.stdout.contains(&format!("K={secret}")),
        "{}",
        shown.stdout
    );
}
