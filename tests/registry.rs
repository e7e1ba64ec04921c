//! End-to-end tests of `strata image` and `strata history` against a real
//! registry: Debian's `docker-registry` (distribution 2.8) runs on 127.0.0.1
//! from a config file in a temp dir (tests/util/registry.rs), images built by
//! tests/util/image.rs are pushed to it with `skopeo copy`, and assertions
//! are on strata's JSON. One test uses a fake registry that answers 500.
//!
//! Requirements: `/usr/bin/docker-registry` and `skopeo` (Debian packages
//! `docker-registry` and `skopeo`; `.ci/run` installs them). When they are
//! missing these tests FAIL with a message saying what to install, so a
//! broken CI cannot pass by skipping them. Set `STRATA_SKIP_REGISTRY_TESTS=1`
//! to skip them on purpose (every test then returns early, passing).
//!
//! No test talks to any address but 127.0.0.1, and strata runs with
//! `DOCKER_CONFIG` pointed at an empty directory, so the machine's own
//! registry credentials never take part.

mod util;

use std::{
    collections::BTreeSet,
    path::Path,
    time::{Duration, Instant},
};

use base64::Engine as _;
use serde_json::Value;
use util::{findings::*, image::*, registry::*, *};

// ---- helpers ----------------------------------------------------------------

/// `strata image ARGS --format json` in `tree`, without the machine's
/// docker config.
fn image_json(tree: &Tree, args: &[&str]) -> Run {
    image_json_stdin(tree, args, None)
}

fn image_json_stdin(tree: &Tree, args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut all = vec!["image"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json"]);
    strata_isolated(tree.path(), &all, stdin, &no_docker_config(tree))
}

/// Findings with `image.reference` removed, as sorted JSON strings: the
/// same image read from two places must give the same set. `finding_id`
/// goes too: it hashes the fingerprint with the location, and the location
/// starts with the reference (README: "fingerprint + location").
fn without_reference(findings: &[Value]) -> Vec<String> {
    let mut out: Vec<String> = findings
        .iter()
        .map(|f| {
            let mut f = f.clone();
            f["image"]
                .as_object_mut()
                .expect("image object")
                .remove("reference");
            let id = f
                .as_object_mut()
                .unwrap()
                .remove("finding_id")
                .expect("finding_id");
            assert_eq!(id.as_str().map(str::len), Some(32), "{id}");
            serde_json::to_string(&f).unwrap()
        })
        .collect();
    out.sort();
    out
}

/// Writes a one-tag OCI layout of `spec` under `tree` and pushes it to
/// `repo_and_tag`.
fn push_spec(
    registry: &Registry,
    tree: &Tree,
    name: &str,
    spec: &ImageSpec,
    repo_and_tag: &str,
) -> BuiltImage {
    let layout = tree.path().join(name);
    let built = write_oci_layout(&layout, &[("app", spec)]);
    registry.push_layout(&layout, "app", repo_and_tag);
    built.into_iter().next().unwrap()
}

/// Base layer, then /app/.env (t(1)) and /app/keep.env (t(2)), then a
/// layer deleting /app/.env; Env[1] holds t(3).
fn fate_spec(t: impl Fn(u64) -> String) -> ImageSpec {
    ImageSpec {
        layers: vec![
            base_layer(),
            LayerSpec::gzip(vec![
                file("app/.env", format!("GITHUB_TOKEN={}\n", t(1))),
                file("app/keep.env", format!("GITHUB_TOKEN={}\n", t(2))),
            ]),
            LayerSpec::gzip(vec![whiteout("app/.env")]),
        ],
        env: vec![
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
            format!("GITHUB_TOKEN={}", t(3)),
        ],
        history: vec![
            ("/bin/sh -c #(nop) ADD file:base in / ".into(), false),
            ("COPY app/ /app/ # buildkit".into(), false),
            ("RUN /bin/sh -c rm /app/.env # buildkit".into(), false),
        ],
        ..ImageSpec::default()
    }
}

// ---- pulls ------------------------------------------------------------------

#[test]

fn anonymous_pull_by_tag_gives_the_same_findings_as_the_oci_layout() {
    let Some(registry) = Registry::start(None) else {
        return;
    };
    let tree = Tree::new();
    let t = |n: u64| github_token(5000 + n);
    let spec = fate_spec(t);
    let image = push_spec(&registry, &tree, "layout", &spec, "strata/app:v1");
    // What the registry serves is what the fixture built (skopeo ran with
    // --preserve-digests; this checks it independently).
    assert_eq!(
        registry.served_manifest_digest("strata/app", "v1"),
        image.manifest_digest
    );

    for reference in [
        registry.reference("strata/app:v1"),
        format!("docker://{}", registry.reference("strata/app:v1")),
    ] {
        let run = image_json(&tree, &[&reference, "--show-secrets"]);
        assert_eq!(run.code, 1, "{reference}: {}{}", run.stdout, run.stderr);
        let findings = run.findings();
        assert_eq!(
            secrets(&findings),
            BTreeSet::from([t(1), t(2), t(3)]),
            "{reference}"
        );
        for f in &findings {
            assert_eq!(f["image"]["reference"], reference.as_str(), "{f}");
            assert_eq!(
                f["image"]["manifest_digest"],
                image.manifest_digest.as_str(),
                "{f}"
            );
        }
        let deleted = the_one(&findings, &t(1));
        assert_eq!(deleted["path"], "/app/.env");
        assert_eq!(deleted["line"], 1);
        assert_eq!(deleted["column"], 14);
        assert_layer(deleted, &image, 1);
        assert_fate(deleted, "deleted", Some((&image, 2)));
        let kept = the_one(&findings, &t(2));
        assert_eq!(kept["path"], "/app/keep.env");
        assert_layer(kept, &image, 1);
        assert_fate(kept, "present", None);
        let env = the_one(&findings, &t(3));
        assert_eq!(env["config_field"], "Env[1]", "{env}");
        assert_eq!(env["path"], "config", "{env}");
        assert!(absent(env, "layer") && absent(env, "fate"), "{env}");
        let report = run.json();
        let summary = &report["summary"];
        assert_eq!(summary["images"], 1);
        assert_eq!(summary["layers"], 3);
        assert_eq!(summary["layers_scanned"], 3);
        assert_eq!(summary["errors"], 0);
        assert_eq!(summary["complete"], true);

        // The registry path and the layout it was pushed from agree on
        // everything but the reference.
        let local = image_json(&tree, &["oci:layout:app", "--show-secrets"]);
        assert_eq!(local.code, 1, "{}", local.stderr);
        assert_eq!(
            without_reference(&findings),
            without_reference(&local.findings())
        );
    }

    // Without --show-secrets nothing of a secret reaches the output.
    let run = image_json(&tree, &[&registry.reference("strata/app:v1")]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    for n in 1..=3 {
        assert!(!run.stdout.contains(&t(n)), "secret {n} revealed");
    }
}

#[test]

fn pull_by_digest() {
    let Some(registry) = Registry::start(None) else {
        return;
    };
    let tree = Tree::new();
    let t = |n: u64| github_token(5100 + n);
    let spec = fate_spec(t);
    let image = push_spec(&registry, &tree, "layout", &spec, "strata/app:v1");
    let reference = registry.reference(&format!("strata/app@{}", image.manifest_digest));
    let run = image_json(&tree, &[&reference, "--show-secrets"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let findings = run.findings();
    assert_eq!(secrets(&findings), BTreeSet::from([t(1), t(2), t(3)]));
    let f = the_one(&findings, &t(1));
    assert_eq!(f["image"]["reference"], reference.as_str());
    assert_eq!(
        f["image"]["manifest_digest"],
        image.manifest_digest.as_str()
    );
    assert_layer(f, &image, 1);
    assert_fate(f, "deleted", Some((&image, 2)));
}

#[test]

fn multi_arch_index_pushed_with_all_picks_the_requested_platform() {
    let Some(registry) = Registry::start(None) else {
        return;
    };
    let tree = Tree::new();
    let t = |n: u64| github_token(5200 + n);
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
    let layout = tree.path().join("multi");
    let built = write_oci_layout_multiarch(&layout, "app", &[&amd64, &arm64]);
    registry.push_index(&layout, "app", "strata/multi:v1");
    assert_eq!(
        registry.served_manifest_digest("strata/multi", "v1"),
        built.index_digest
    );
    let reference = registry.reference("strata/multi:v1");
    for (platform, which, secret) in [
        ("linux/arm64", 1, t(2)),
        ("linux/arm64/v8", 1, t(2)),
        ("linux/amd64", 0, t(1)),
    ] {
        let run = image_json(
            &tree,
            &[&reference, "--platform", platform, "--show-secrets"],
        );
        assert_eq!(run.code, 1, "{platform}: {}{}", run.stdout, run.stderr);
        let findings = run.findings();
        assert_eq!(
            secrets(&findings),
            BTreeSet::from([secret.clone()]),
            "{platform}"
        );
        let f = the_one(&findings, &secret);
        assert_eq!(f["image"]["reference"], reference.as_str());
        assert_eq!(
            f["image"]["manifest_digest"],
            built.images[which].manifest_digest.as_str(),
            "{platform}"
        );
        assert_layer(f, &built.images[which], 1);
    }
    // A platform the index does not have is an error, never an empty pass.
    let run = image_json(&tree, &[&reference, "--platform", "linux/s390x"]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.stdout.contains("s390x") || run.stderr.contains("s390x"),
        "{}{}",
        run.stdout,
        run.stderr
    );
}

// ---- layers shared between images ------------------------------------------

#[test]

fn two_images_sharing_a_base_layer_scan_it_once() {
    let Some(registry) = Registry::start(None) else {
        return;
    };
    let tree = Tree::new();
    let t = |n: u64| github_token(5300 + n);
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
    let b = ImageSpec::with_layers(vec![
        shared(),
        LayerSpec::gzip(vec![
            file("app/b.env", format!("T={}\n", t(2))),
            whiteout("etc/app/.env"),
        ]),
    ]);
    let a = push_spec(&registry, &tree, "a", &a, "strata/a:1");
    let b = push_spec(&registry, &tree, "b", &b, "team/b:1");
    assert_eq!(a.layers[0].digest, b.layers[0].digest);
    let (ref_a, ref_b) = (
        registry.reference("strata/a:1"),
        registry.reference("team/b:1"),
    );
    let run = image_json(&tree, &[&ref_a, &ref_b, "--show-secrets"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let findings = run.findings();
    assert_eq!(
        the_one(&findings, &t(1))["image"]["reference"],
        ref_a.as_str()
    );
    assert_eq!(
        the_one(&findings, &t(2))["image"]["reference"],
        ref_b.as_str()
    );
    let shared_findings = with_secret(&findings, &t(0));
    assert_eq!(shared_findings.len(), 2, "{findings:?}");
    let in_a = shared_findings
        .iter()
        .find(|f| f["image"]["reference"] == ref_a.as_str())
        .expect("shared-layer finding reported for image a");
    let in_b = shared_findings
        .iter()
        .find(|f| f["image"]["reference"] == ref_b.as_str())
        .expect("shared-layer finding reported for image b");
    assert_eq!(in_a["image"]["manifest_digest"], a.manifest_digest.as_str());
    assert_eq!(in_b["image"]["manifest_digest"], b.manifest_digest.as_str());
    assert_layer(in_a, &a, 0);
    assert_layer(in_b, &b, 0);
    assert_fate(in_a, "present", None);
    assert_fate(in_b, "deleted", Some((&b, 1)));
    let summary = &run.json()["summary"];
    assert_eq!(summary["images"], 2);
    assert_eq!(summary["layers"], 4);
    assert_eq!(
        summary["layers_scanned"], 3,
        "the shared layer is scanned once"
    );
    assert!(summary["layers_scanned"].as_u64() < summary["layers"].as_u64());
}

#[test]

fn the_same_image_under_two_tags_scans_its_layers_once() {
    let Some(registry) = Registry::start(None) else {
        return;
    };
    let tree = Tree::new();
    let t = |n: u64| github_token(5400 + n);
    let spec = fate_spec(t);
    let image = push_spec(&registry, &tree, "layout", &spec, "strata/app:v1");
    registry.push_layout(&tree.path().join("layout"), "app", "strata/app:latest");
    let refs = [
        registry.reference("strata/app:v1"),
        registry.reference("strata/app:latest"),
    ];
    let run = image_json(&tree, &[&refs[0], &refs[1], "--show-secrets"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let findings = run.findings();
    for reference in &refs {
        let mine: Vec<Value> = findings
            .iter()
            .filter(|f| f["image"]["reference"] == reference.as_str())
            .cloned()
            .collect();
        assert_eq!(
            secrets(&mine),
            BTreeSet::from([t(1), t(2), t(3)]),
            "{reference}"
        );
        for f in &mine {
            assert_eq!(
                f["image"]["manifest_digest"],
                image.manifest_digest.as_str()
            );
        }
        assert_fate(the_one(&mine, &t(1)), "deleted", Some((&image, 2)));
    }
    assert_eq!(findings.len(), 6, "three findings for each reference");
    let summary = &run.json()["summary"];
    assert_eq!(summary["images"], 2);
    assert_eq!(summary["layers"], 6);
    assert_eq!(
        summary["layers_scanned"],
        image.layers.len(),
        "each distinct layer is scanned once"
    );
}

// ---- authentication ---------------------------------------------------------

const USER: &str = "strata-ci";
const PASSWORD: &str = "Pw-9f3c1a77e2-never-printed";

/// `"{USER}:{PASSWORD}"` base64-encoded, as docker's config.json has it.
fn auth_b64() -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"))
}

/// Neither the password nor its base64 form is in strata's output.
fn assert_password_never_shown(run: &Run, what: &str) {
    for (stream, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        assert!(!text.contains(PASSWORD), "{what}: password in {stream}");
        assert!(
            !text.contains(&auth_b64()),
            "{what}: base64 auth in {stream}"
        );
    }
}

#[test]
fn htpasswd_auth_refuses_missing_and_wrong_credentials_naming_the_image() {
    let Some(registry) = Registry::start(Some((USER, PASSWORD))) else {
        return;
    };
    let tree = Tree::new();
    let spec = fate_spec(|n| github_token(5550 + n));
    push_spec(&registry, &tree, "layout", &spec, "private/app:v1");
    let reference = registry.reference("private/app:v1");

    // No credentials: the registry says 401.
    let run = image_json(&tree, &[&reference]);
    assert_password_never_shown(&run, "anonymous");
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert_error(
        &run,
        &[&reference],
        &["401", "unauthorized", "not authorized"],
    );
    assert!(run.findings().is_empty());

    // A wrong password is refused, and named as such.
    let run = image_json_stdin(
        &tree,
        &[&reference, "--username", USER, "--password-stdin"],
        Some(b"wrong-password\n"),
    );
    assert_password_never_shown(&run, "wrong password");
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert_error(
        &run,
        &[&reference],
        &["401", "unauthorized", "not authorized"],
    );

    // The text report of a refusal names the image too.
    let run = strata_isolated(
        tree.path(),
        &["image", &reference, "--username", USER, "--password-stdin"],
        Some(b"wrong-password\n"),
        &no_docker_config(&tree),
    );
    assert_password_never_shown(&run, "text output");
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        format!("{}{}", run.stdout, run.stderr).contains(&reference),
        "{}{}",
        run.stdout,
        run.stderr
    );
}

#[test]

fn htpasswd_auth_with_password_stdin_and_docker_config() {
    let Some(registry) = Registry::start(Some((USER, PASSWORD))) else {
        return;
    };
    let tree = Tree::new();
    let t = |n: u64| github_token(5500 + n);
    let spec = fate_spec(t);
    let image = push_spec(&registry, &tree, "layout", &spec, "private/app:v1");
    let reference = registry.reference("private/app:v1");

    // --username with the password on standard input (as `echo pw |` gives it).
    let run = image_json_stdin(
        &tree,
        &[
            &reference,
            "--username",
            USER,
            "--password-stdin",
            "--show-secrets",
        ],
        Some(format!("{PASSWORD}\n").as_bytes()),
    );
    assert_password_never_shown(&run, "--password-stdin");
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let findings = run.findings();
    assert_eq!(secrets(&findings), BTreeSet::from([t(1), t(2), t(3)]));
    let f = the_one(&findings, &t(1));
    assert_eq!(f["image"]["reference"], reference.as_str());
    assert_eq!(
        f["image"]["manifest_digest"],
        image.manifest_digest.as_str()
    );
    assert_fate(f, "deleted", Some((&image, 2)));

    // A docker config file with an `auths` entry for the registry.
    let config = registry.scratch().join("docker-config.json");
    std::fs::write(
        &config,
        serde_json::json!({"auths": {registry.host(): {"auth": auth_b64()}}}).to_string(),
    )
    .unwrap();
    let run = image_json(
        &tree,
        &[
            &reference,
            "--docker-config",
            config.to_str().unwrap(),
            "--show-secrets",
        ],
    );
    assert_password_never_shown(&run, "--docker-config");
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert_eq!(secrets(&run.findings()), BTreeSet::from([t(1), t(2), t(3)]));

    // The same config found through $DOCKER_CONFIG, as the docker CLI does.
    let dir = tree.path().join("docker-config-dir");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(&config, dir.join("config.json")).unwrap();
    let run = strata_isolated(
        tree.path(),
        &["image", &reference, "--format", "json"],
        None,
        &dir,
    );
    assert_password_never_shown(&run, "$DOCKER_CONFIG");
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert_eq!(run.findings().len(), 3);
}

// ---- failures ---------------------------------------------------------------

#[test]
fn missing_tag_repo_or_digest_is_an_error_naming_the_image() {
    let Some(registry) = Registry::start(None) else {
        return;
    };
    let tree = Tree::new();
    let spec = fate_spec(|n| github_token(5600 + n));
    push_spec(&registry, &tree, "layout", &spec, "strata/app:v1");
    for reference in [
        registry.reference("strata/app:no-such-tag"),
        registry.reference("strata/no-such-repo:v1"),
        // A digest the registry does not have.
        registry.reference(&format!("strata/app@{}", sha256(b"no such manifest"))),
    ] {
        let run = image_json(&tree, &[&reference]);
        assert_eq!(run.code, 2, "{reference}: {}{}", run.stdout, run.stderr);
        assert_error(
            &run,
            &[&reference],
            &["404", "not found", "manifest unknown", "name unknown"],
        );
        assert!(run.findings().is_empty());
    }
}

/// Three layers, each with its own secret: t(0) in the base, t(1) in
/// the middle, t(2) on top. Pushed, then the middle layer's bytes are
/// deleted from the registry's storage: the manifest still names it.
fn push_and_delete_middle_layer(
    registry: &Registry,
    tree: &Tree,
    t: impl Fn(u64) -> String,
) -> BuiltImage {
    let spec = ImageSpec::with_layers(vec![
        LayerSpec::gzip(vec![
            file("etc/os-release", "ID=fixture\n"),
            file("etc/base.env", format!("T={}\n", t(0))),
        ]),
        LayerSpec::gzip(vec![file("app/mid.env", format!("T={}\n", t(1)))]),
        LayerSpec::gzip(vec![file("app/.env", format!("T={}\n", t(2)))]),
    ]);
    let image = push_spec(registry, tree, "layout", &spec, "strata/app:v1");
    let data = registry.blob_data_path(&image.layers[1].digest);
    assert!(data.is_file(), "no blob at {}", data.display());
    std::fs::remove_file(&data).unwrap();
    image
}

#[test]
fn layer_blob_deleted_from_the_registry_is_an_error_naming_the_layer() {
    let Some(registry) = Registry::start(None) else {
        return;
    };
    let tree = Tree::new();
    let image = push_and_delete_middle_layer(&registry, &tree, |n| github_token(5700 + n));
    let gone = &image.layers[1].digest;
    let reference = registry.reference("strata/app:v1");
    let run = image_json(&tree, &[&reference, "--show-secrets"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert_error(
        &run,
        &[&reference, short(gone)],
        &["missing blob", "not found", "404", "blob unknown"],
    );
}

#[test]

fn layer_blob_deleted_from_the_registry_leaves_the_other_layers_reported() {
    let Some(registry) = Registry::start(None) else {
        return;
    };
    let tree = Tree::new();
    let t = |n: u64| github_token(5750 + n);
    let image = push_and_delete_middle_layer(&registry, &tree, t);
    let reference = registry.reference("strata/app:v1");
    let run = image_json(&tree, &[&reference, "--show-secrets"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    let errors = run.json()["errors"].as_array().unwrap().clone();
    assert_eq!(
        errors.len(),
        1,
        "only the deleted layer fails:\n{}",
        serde_json::to_string_pretty(&errors).unwrap()
    );
    assert!(
        errors[0]["path"]
            .as_str()
            .unwrap()
            .contains(&image.layers[1].digest),
        "{errors:?}"
    );
    let findings = run.findings();
    assert_eq!(
        secrets(&findings),
        BTreeSet::from([t(0), t(2)]),
        "findings of the intact layers are still reported:\n{}",
        run.stdout
    );
    assert_layer(the_one(&findings, &t(0)), &image, 0);
    assert_layer(the_one(&findings, &t(2)), &image, 2);
}

#[test]
fn registry_answering_500_is_retried_then_an_error_within_bounds() {
    // A fake registry: no docker-registry or skopeo needed.
    let server = FakeServer::failing();
    let tree = Tree::new();
    let reference = format!("{}/strata/app:v1", server.host());
    let started = Instant::now();
    let run = image_json(&tree, &[&reference]);
    let took = started.elapsed();
    eprintln!(
        "500 registry: {} requests in {took:?}: {:?}",
        server.count(),
        server.request_lines()
    );
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert_error(
        &run,
        &[&reference],
        &["500", "internal server error", "server error"],
    );
    assert!(
        server.count() > 1,
        "strata gave up without retrying: {:?}",
        server.request_lines()
    );
    // `GET /v2/` then the manifest is one attempt: the manifest itself
    // must have been asked for more than once.
    let manifest_requests = server
        .request_lines()
        .iter()
        .filter(|l| l.contains("/manifests/"))
        .count();
    assert!(
        manifest_requests > 1,
        "the manifest was requested {manifest_requests} time(s): {:?}",
        server.request_lines()
    );
    assert!(
        took < Duration::from_secs(20),
        "a failing registry kept strata busy for {took:?} ({} requests)",
        server.count()
    );
}

// ---- hostile registries (issue 13) -------------------------------------------
//
// Fake registries on 127.0.0.1 that misbehave on purpose. strata runs under
// `strata_watched`, which kills it past a generous limit, so a regression
// fails the test instead of hanging CI; `--registry-timeout` shrinks the
// bounds so each case takes seconds.

/// Longest any hostile-registry run may take before the test calls it a hang.
const HANG: Duration = Duration::from_secs(60);

/// A one-layer-plus-base image with `secret` in /app/.env.
fn small_image(tree: &Tree, name: &str, secret: &str) -> BuiltImage {
    let spec = ImageSpec::with_layers(vec![
        base_layer(),
        LayerSpec::gzip(vec![file("app/.env", format!("T={secret}\n"))]),
    ]);
    write_oci_layout(&tree.path().join(name), &[("app", &spec)])
        .into_iter()
        .next()
        .unwrap()
}

/// `strata image REFS… --format json --registry-timeout SECONDS`, watched.
fn watched_image(tree: &Tree, refs: &[&str], timeout: &str, envs: &[(&str, String)]) -> Watched {
    let mut args = vec!["image"];
    args.extend_from_slice(refs);
    args.extend_from_slice(&["--format", "json", "--registry-timeout", timeout]);
    strata_watched(tree.path(), &args, &no_docker_config(tree), envs, HANG)
}

/// Every error message of a JSON report.
fn error_messages(run: &Run) -> Vec<String> {
    run.json()["errors"]
        .as_array()
        .expect("errors array")
        .iter()
        .map(|e| e["message"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn a_trickling_layer_blob_fails_within_its_window_and_the_other_image_keeps_its_findings() {
    let tree = Tree::new();
    let good_image = small_image(&tree, "good", &github_token(13_001));
    let slow_image = small_image(&tree, "slow", &github_token(13_002));
    let trickled = slow_image.layers[1].digest.clone();
    let server = FakeServer::start(move |line, _| {
        let path = line.split(' ').nth(1).unwrap_or("");
        if path == format!("/v2/slow/app/blobs/{trickled}") {
            // One byte every 50 ms: 20 B/s, far below 64 KiB per window.
            let layer = slow_image
                .layers
                .iter()
                .find(|l| l.digest == trickled)
                .unwrap();
            return Reply::bytes("application/octet-stream", &layer.blob).delivered(
                Delivery::Trickle {
                    bytes: 1,
                    every: Duration::from_millis(50),
                },
            );
        }
        image_replies("good/app", "v1", &good_image, path)
            .or_else(|| image_replies("slow/app", "v1", &slow_image, path))
            .unwrap_or_else(|| Reply::status("404 Not Found"))
    });
    let good_ref = format!("{}/good/app:v1", server.host());
    let slow_ref = format!("{}/slow/app:v1", server.host());
    let watched = watched_image(&tree, &[&good_ref, &slow_ref], "2", &[]);
    let run = &watched.run;
    eprintln!("trickle: {:?}\n{}", watched.took, run.stdout);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert_error(run, &["slow/app"], &["stalled or too slow"]);
    let findings = run.findings();
    assert!(
        findings.len() == 1
            && findings[0]["image"]["reference"] == good_ref.as_str()
            && findings[0]["path"] == "/app/.env",
        "the intact image's finding is kept:\n{}",
        run.stdout
    );
    // The window is 1 s; the trickle would take over 10 s to finish.
    assert!(
        watched.took < Duration::from_secs(8),
        "the trickle held strata for {:?}",
        watched.took
    );
}

#[test]
fn a_registry_that_never_answers_costs_the_retry_budget_not_minutes() {
    let tree = Tree::new();
    // Answers `/v2/`, then never a manifest: every attempt runs into the
    // 1 s deadline and the 2 s retry budget stops the retries.
    let server = FakeServer::start(|line, _| {
        if line.starts_with("GET /v2/ ") {
            Reply::json("{}")
        } else {
            Reply::silent()
        }
    });
    let reference = format!("{}/strata/app:v1", server.host());
    let watched = watched_image(&tree, &[&reference], "1", &[]);
    eprintln!(
        "silent manifests: {:?} {:?}",
        watched.took,
        server.request_lines()
    );
    assert_eq!(
        watched.run.code, 2,
        "{}{}",
        watched.run.stdout, watched.run.stderr
    );
    assert_error(&watched.run, &[&reference], &["no response within 1s"]);
    let manifest_attempts = server
        .request_lines()
        .iter()
        .filter(|l| l.contains("/manifests/"))
        .count();
    assert!(manifest_attempts >= 2, "{:?}", server.request_lines());
    assert!(
        watched.took < Duration::from_secs(10),
        "a silent registry held strata for {:?}",
        watched.took
    );

    // Silent from the first request (`GET /v2/`, authentication) on.
    let server = FakeServer::start(|_, _| Reply::silent());
    let reference = format!("{}/strata/app:v1", server.host());
    let watched = watched_image(&tree, &[&reference], "1", &[]);
    assert_eq!(
        watched.run.code, 2,
        "{}{}",
        watched.run.stdout, watched.run.stderr
    );
    assert_error(&watched.run, &[&reference], &["authenticating"]);
    assert!(watched.took < Duration::from_secs(10), "{:?}", watched.took);
}

#[test]
fn an_endless_or_oversized_manifest_is_refused_without_being_held_in_memory() {
    let tree = Tree::new();
    let server = FakeServer::start(|line, _| {
        let path = line.split(' ').nth(1).unwrap_or("");
        match path {
            "/v2/" => Reply::json("{}"),
            // No Content-Length, and no end.
            "/v2/endless/app/manifests/v1" => {
                Reply::bytes(OCI_MANIFEST_TYPE, b"{\"a\":\"").delivered(Delivery::Endless)
            }
            // 2 GiB announced (and as much sent as strata will read).
            "/v2/huge/app/manifests/v1" => Reply::bytes(OCI_MANIFEST_TYPE, b"{\"a\":\"")
                .delivered(Delivery::Endless)
                .declaring(2 << 30),
            _ => Reply::status("404 Not Found"),
        }
    });
    let endless = format!("{}/endless/app:v1", server.host());
    let huge = format!("{}/huge/app:v1", server.host());
    let watched = watched_image(&tree, &[&endless, &huge], "30", &[]);
    let run = &watched.run;
    eprintln!(
        "endless/huge manifests: {:?}, peak RSS {} KiB\n{}",
        watched.took, watched.peak_rss_kib, run.stdout
    );
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert_error(
        run,
        &[&endless],
        &["larger than the 16777216 bytes allowed"],
    );
    assert_error(run, &[&huge], &["announces 2147483648 bytes"]);
    assert!(
        watched.peak_rss_kib > 0 && watched.peak_rss_kib < 200 << 10,
        "peak RSS {} KiB",
        watched.peak_rss_kib
    );
    assert!(watched.took < Duration::from_secs(30), "{:?}", watched.took);
}

const OCI_MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

#[test]
fn a_huge_error_body_is_quoted_short_and_escaped() {
    let tree = Tree::new();
    let mut body = b"\x1b[2J\x1b[31mno such manifest\r\n".to_vec();
    body.extend(std::iter::repeat_n(b'A', 20 << 20));
    let server = FakeServer::start(move |line, _| {
        if line.starts_with("GET /v2/ ") {
            Reply::json("{}")
        } else {
            Reply::bytes("text/plain", &body).status_line("404 Not Found")
        }
    });
    let reference = format!("{}/strata/app:v1", server.host());
    let watched = watched_image(&tree, &[&reference], "10", &[]);
    let run = &watched.run;
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert_error(run, &[&reference], &["404"]);
    for message in error_messages(run) {
        assert!(
            message.len() < 1500,
            "{} bytes of error message",
            message.len()
        );
        assert!(
            !message.contains('\u{1b}') && !message.contains('\r'),
            "{message:?}"
        );
    }
    let message = error_messages(run).join("\n");
    eprintln!("huge error body: {message:.300}…");
    assert!(
        message.contains("no such manifest") && message.contains("[truncated]"),
        "{message}"
    );
    assert!(
        run.stderr.len() < 8 << 10,
        "{} bytes on stderr",
        run.stderr.len()
    );
    assert!(
        watched.peak_rss_kib < 200 << 10,
        "{} KiB",
        watched.peak_rss_kib
    );
}

#[test]
fn a_blob_redirect_to_plain_http_elsewhere_is_refused_and_a_loopback_one_followed() {
    let tree = Tree::new();
    let secret = github_token(13_005);
    let image = small_image(&tree, "img", &secret);
    // The config lives on a second loopback server (allowed plain HTTP).
    let config = image.config.clone();
    let mirror = FakeServer::start(move |_, _| Reply::bytes("application/octet-stream", &config));
    let mirror_url = format!("http://{}/config?X-Amz-Signature=c0nfigsig", mirror.host());
    let layer = image.layers[1].digest.clone();
    let served = image.clone();
    let server = FakeServer::start(move |line, _| {
        let path = line.split(' ').nth(1).unwrap_or("");
        if path == format!("/v2/r/app/blobs/{}", served.config_digest) {
            Reply::status("307 Temporary Redirect").header("Location", &mirror_url)
        } else if path == format!("/v2/r/app/blobs/{layer}") {
            // Not loopback, not --insecure-registry: refused before any
            // connection is made (nothing leaves 127.0.0.1).
            Reply::status("307 Temporary Redirect").header(
                "Location",
                "http://blobs.example.invalid/layer?X-Amz-Signature=s3cr3tsig",
            )
        } else {
            image_replies("r/app", "v1", &served, path)
                .unwrap_or_else(|| Reply::status("404 Not Found"))
        }
    });
    let reference = format!("{}/r/app:v1", server.host());
    let watched = watched_image(&tree, &[&reference], "10", &[]);
    let run = &watched.run;
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    // The config came through the loopback redirect: the image resolved
    // and its layers were asked for.
    assert_eq!(mirror.count(), 1, "{:?}", mirror.request_lines());
    assert_error(run, &[&reference], &["blobs.example.invalid"]);
    let message = error_messages(run).join("\n");
    eprintln!("redirect refused: {message}");
    assert!(
        message.contains("plain HTTP") && message.contains("refused"),
        "{message}"
    );
    for text in [&run.stdout, &run.stderr] {
        assert!(
            !text.contains("s3cr3tsig") && !text.contains("c0nfigsig"),
            "{text}"
        );
    }
}

#[test]
fn a_bearer_token_from_the_realm_authorizes_pulls_and_an_endless_token_is_refused() {
    let tree = Tree::new();
    let image = small_image(&tree, "img", &github_token(13_007));
    let tokens = FakeServer::start(|line, _| {
        if line.starts_with("GET /endless") {
            Reply::json("{\"token\":\"").delivered(Delivery::Endless)
        } else {
            Reply::json(r#"{"token":"tok-13","expires_in":300}"#)
        }
    });
    let registry = |realm: String, image: BuiltImage| {
        FakeServer::start(move |line, _| {
            let path = line.split(' ').nth(1).unwrap_or("");
            if path == "/v2/" {
                let challenge = format!(r#"Bearer realm="{realm}",service="fake-registry""#);
                Reply::status("401 Unauthorized").header("WWW-Authenticate", &challenge)
            } else {
                image_replies("r/app", "v1", &image, path)
                    .unwrap_or_else(|| Reply::status("404 Not Found"))
            }
        })
    };
    let server = registry(format!("http://{}/token", tokens.host()), image.clone());
    let reference = format!("{}/r/app:v1", server.host());
    let watched = watched_image(&tree, &[&reference], "10", &[]);
    let run = &watched.run;
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert_eq!(run.findings().len(), 1, "{}", run.stdout);
    let asked = tokens.request_lines();
    assert!(
        asked.len() == 1
            && asked[0].contains("scope=repository%3Ar%2Fapp%3Apull")
            && asked[0].contains("service=fake-registry"),
        "{asked:?}"
    );
    for head in server
        .heads()
        .iter()
        .filter(|h| !h.starts_with("GET /v2/ "))
    {
        assert!(
            head.to_ascii_lowercase()
                .contains("authorization: bearer tok-13"),
            "sent without the token: {head}"
        );
    }

    let server = registry(format!("http://{}/endless", tokens.host()), image);
    let reference = format!("{}/r/app:v1", server.host());
    let watched = watched_image(&tree, &[&reference], "10", &[]);
    assert_eq!(
        watched.run.code, 2,
        "{}{}",
        watched.run.stdout, watched.run.stderr
    );
    assert_error(
        &watched.run,
        &[&reference],
        &["larger than the 1048576 bytes allowed"],
    );
    assert!(
        watched.peak_rss_kib < 200 << 10,
        "{} KiB",
        watched.peak_rss_kib
    );
}

#[test]
fn a_silent_catalog_or_an_endless_tag_list_ends_a_registry_scan_in_bounded_time() {
    let tree = Tree::new();
    let server = FakeServer::start(|line, _| {
        let path = line.split(' ').nth(1).unwrap_or("");
        if path == "/v2/" {
            Reply::json("{}")
        } else if path.starts_with("/v2/_catalog") {
            Reply::json(r#"{"repositories":["quiet/app","long/app"]}"#)
        } else if path.starts_with("/v2/quiet/app/tags/list") {
            Reply::silent()
        } else if path.starts_with("/v2/long/app/tags/list") {
            Reply::json("{\"tags\":[\"").delivered(Delivery::Endless)
        } else {
            Reply::status("404 Not Found")
        }
    });
    let watched = strata_watched(
        tree.path(),
        &[
            "registry",
            server.host(),
            "--no-cache",
            "--registry-timeout",
            "1",
        ],
        &no_docker_config(&tree),
        &[],
        HANG,
    );
    let run = &watched.run;
    let output = format!("{}{}", run.stdout, run.stderr);
    eprintln!("{output}");
    assert_eq!(run.code, 2, "{output}");
    assert!(
        output.contains("quiet/app") && output.contains("no complete answer within 1s"),
        "{output}"
    );
    assert!(
        output.contains("long/app") && output.contains("larger than the 8388608 bytes allowed"),
        "{output}"
    );
    assert!(watched.took < Duration::from_secs(15), "{:?}", watched.took);
    assert!(
        watched.peak_rss_kib < 200 << 10,
        "{} KiB",
        watched.peak_rss_kib
    );
}

#[test]
fn a_credential_helper_that_hangs_is_killed_and_named() {
    let tree = Tree::new();
    let server = FakeServer::start(|_, _| Reply::json("{}"));
    let helpers = tree.path().join("helpers");
    std::fs::create_dir_all(&helpers).unwrap();
    let helper = helpers.join("docker-credential-stuck");
    std::fs::write(&helper, "#!/bin/sh\nexec sleep 300\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config_dir = tree.path().join("docker");
    std::fs::create_dir_all(&config_dir).unwrap();
    std::fs::write(
        config_dir.join("config.json"),
        serde_json::json!({"credHelpers": {server.host(): "stuck"}}).to_string(),
    )
    .unwrap();
    let reference = format!("{}/strata/app:v1", server.host());
    let path = format!(
        "{}:{}",
        helpers.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let watched = strata_watched(
        tree.path(),
        &[
            "image",
            &reference,
            "--format",
            "json",
            "--registry-timeout",
            "2",
        ],
        &config_dir,
        &[("PATH", path)],
        HANG,
    );
    let run = &watched.run;
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert_error(
        run,
        &[&reference],
        &["docker-credential-stuck did not answer within 1s"],
    );
    let message = error_messages(run).join("\n");
    eprintln!("stuck helper: {message}");
    assert!(message.contains(server.host()), "{message}");
    assert!(watched.took < Duration::from_secs(10), "{:?}", watched.took);
}

// ---- history ----------------------------------------------------------------

#[test]

fn history_of_a_registry_image_lists_steps_newest_first() {
    let Some(registry) = Registry::start(None) else {
        return;
    };
    let tree = Tree::new();
    let t = |n: u64| github_token(5800 + n);
    let spec = ImageSpec {
        layers: vec![
            base_layer(),
            LayerSpec::gzip(vec![file("app/.env", format!("T={}\n", t(1)))]),
            LayerSpec::gzip(vec![whiteout("app/.env")]),
        ],
        history: vec![
            ("/bin/sh -c #(nop) ADD file:base in / ".into(), false),
            ("ENV APP_ENV=production".into(), true),
            ("COPY .env /app/.env # buildkit".into(), false),
            ("RUN /bin/sh -c rm /app/.env # buildkit".into(), false),
            ("CMD [\"/bin/sh\"]".into(), true),
        ],
        ..ImageSpec::default()
    };
    let image = push_spec(&registry, &tree, "layout", &spec, "strata/hist:v1");
    let reference = registry.reference("strata/hist:v1");
    let run = strata_isolated(
        tree.path(),
        &["history", &reference, "--format", "json"],
        None,
        &no_docker_config(&tree),
    );
    assert_ne!(run.code, 2, "{}{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(report["order"], "newest-first");
    assert_eq!(report["image"]["reference"], reference.as_str());
    assert_eq!(
        report["image"]["manifest_digest"],
        image.manifest_digest.as_str()
    );
    assert_eq!(report["errors"].as_array().map(Vec::len), Some(0));
    let steps = report["steps"].as_array().expect("steps");
    assert_eq!(steps.len(), 5);
    let layer_of_step = |step: usize| image.layers.iter().position(|l| l.history_index == step);
    for (row, step) in steps.iter().enumerate() {
        let i = 4 - row;
        assert_eq!(step["step"], i, "row {row} of a newest-first list");
        let (created_by, empty) = &image.history[i];
        assert_eq!(step["empty_layer"], *empty, "{step}");
        assert_eq!(step["created_by"], created_by.as_str(), "{step}");
        match layer_of_step(i) {
            None => assert!(step["layer"].is_null(), "{step}"),
            Some(index) => {
                let layer = &image.layers[index];
                assert_eq!(step["layer"]["index"], index, "{step}");
                assert_eq!(step["layer"]["digest"], layer.digest.as_str());
                assert_eq!(step["layer"]["diff_id"], layer.diff_id.as_str());
            }
        }
        let findings = step["findings"].as_array().expect("findings of a step");
        if i == 2 {
            assert_eq!(findings.len(), 1, "{step}");
            assert_eq!(findings[0]["path"], "/app/.env");
            assert_eq!(findings[0]["fate"]["status"], "deleted");
        } else {
            assert!(findings.is_empty(), "step {i}: {step}");
        }
    }
}

/// The harness itself: the registry listens on loopback only, answers
/// `/v2/`, and keeps its blobs where `blob_data_path` says.
#[test]
fn harness_registry_listens_on_loopback_and_stores_blobs_where_expected() {
    let Some(registry) = Registry::start(None) else {
        return;
    };
    let log = registry.log();
    assert!(
        log.contains(&format!("listening on {}", registry.host())),
        "{log}"
    );
    let tree = Tree::new();
    let image = push_spec(
        &registry,
        &tree,
        "layout",
        &ImageSpec::with_layers(vec![base_layer()]),
        "strata/base:v1",
    );
    let data = registry.blob_data_path(&image.layers[0].digest);
    assert_eq!(std::fs::read(&data).unwrap(), image.layers[0].blob);
    assert!(Path::new(REGISTRY_BIN).is_file());
}
