//! End-to-end tests of `strata registry` (the registry-wide batch scan)
//! against a real Debian `docker-registry` on 127.0.0.1, filled by the tests
//! with images that share base layers (tests/util/registry.rs has the
//! harness and its requirements; `STRATA_SKIP_REGISTRY_TESTS=1` skips).
//!
//! Pulls are counted from the registry's own access log, so "each distinct
//! layer is pulled once" is checked against what the server saw, and
//! strata's own counters are checked to agree with it.

mod util;

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
};

use serde_json::Value;
use util::{findings::*, image::*, registry::*, *};

// ---- fixture ----------------------------------------------------------------

/// A small fleet: two base layers shared by several repositories, a tag
/// pushed twice under one repository, a multi-platform tag, one image
/// whose top layer deletes the base's secret file.
struct Fleet {
    /// `repo:tag` → the image pushed there (both platforms for the index).
    images: BTreeMap<String, Vec<BuiltImage>>,
    /// Every distinct layer digest of the fleet.
    layers: BTreeSet<String>,
    /// Every secret planted, in clear.
    secrets: Vec<String>,
    repositories: usize,
    tags: usize,
}

impl Fleet {
    fn image(&self, repo_and_tag: &str) -> &BuiltImage {
        &self.images[repo_and_tag][0]
    }

    fn image_count(&self) -> usize {
        self.images.values().map(Vec::len).sum()
    }
}

fn push_fleet(registry: &Registry, tree: &Tree, seed: u64) -> Fleet {
    let t = |n: u64| github_token(seed + n);
    let base_a = || {
        LayerSpec::gzip(vec![
            file("etc/os-release", "ID=fixture-a\n"),
            file("etc/base.env", format!("BASE_TOKEN={}\n", t(0))),
        ])
    };
    let base_b = || LayerSpec::gzip(vec![file("etc/os-release", "ID=fixture-b\n")]);
    let app = |name: &str, n: u64| {
        LayerSpec::gzip(vec![file(
            &format!("app/{name}.env"),
            format!("TOKEN={}\n", t(n)),
        )])
    };
    let specs: Vec<(&str, ImageSpec)> = vec![
        (
            "team/api:v1",
            ImageSpec::with_layers(vec![base_a(), app("api1", 1)]),
        ),
        (
            "team/api:v2",
            ImageSpec::with_layers(vec![base_a(), app("api2", 2)]),
        ),
        (
            "team/api:dev",
            ImageSpec::with_layers(vec![base_a(), app("apidev", 3)]),
        ),
        (
            "team/web:v1",
            ImageSpec::with_layers(vec![base_b(), app("web", 4)]),
        ),
        (
            "ops/cleaner:v1",
            ImageSpec::with_layers(vec![
                base_a(),
                LayerSpec::gzip(vec![whiteout("etc/base.env")]),
            ]),
        ),
        (
            "ops/tool:v1",
            ImageSpec::with_layers(vec![base_b(), app("tool", 5)]),
        ),
    ];
    let mut images = BTreeMap::new();
    for (i, (target, spec)) in specs.iter().enumerate() {
        let layout = tree.path().join(format!("layout-{i}"));
        let built = write_oci_layout(&layout, &[("app", spec)]);
        registry.push_layout(&layout, "app", target);
        images.insert(target.to_string(), built);
    }
    // The same image under a second tag: its layers are not new.
    let layout = tree.path().join("layout-0");
    registry.push_layout(&layout, "app", "team/api:latest");
    images.insert("team/api:latest".into(), images["team/api:v1"].clone());
    // Two platforms under one tag.
    let amd64 = ImageSpec::with_layers(vec![base_b(), app("multi-amd64", 6)]);
    let arm64 = ImageSpec {
        layers: vec![base_b(), app("multi-arm64", 7)],
        architecture: "arm64".into(),
        ..ImageSpec::default()
    };
    let layout = tree.path().join("layout-multi");
    let index = write_oci_layout_multiarch(&layout, "app", &[&amd64, &arm64]);
    registry.push_index(&layout, "app", "multi/app:v1");
    images.insert("multi/app:v1".into(), index.images.clone());
    let layers = images
        .values()
        .flatten()
        .flat_map(|i| i.layer_digests())
        .collect();
    Fleet {
        images,
        layers,
        secrets: (0..8).map(t).collect(),
        repositories: 5,
        tags: 8,
    }
}

/// A registry holding a fleet (None when registry tests are skipped).
fn fleet_in_a_registry(seed: u64) -> Option<(Registry, Tree, Fleet)> {
    let registry = Registry::start(None)?;
    let tree = Tree::new();
    let fleet = push_fleet(&registry, &tree, seed);
    Some((registry, tree, fleet))
}

/// `strata registry HOST ARGS` with no docker config of the machine's.
fn registry_run(registry: &Registry, tree: &Tree, args: &[&str]) -> Run {
    registry_run_stdin(registry.host(), tree, args, None)
}

/// The same against any host (a scripted server), with `stdin`.
fn registry_run_stdin(host: &str, tree: &Tree, args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut all = vec!["registry", host, "--no-progress"];
    all.extend_from_slice(args);
    strata_isolated(tree.path(), &all, stdin, &no_docker_config(tree))
}

/// The JSON lines of a JSONL report: findings, then one summary.
fn lines(run: &Run) -> (Vec<Value>, Value) {
    let mut values: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {l}\nstderr:\n{}", run.stderr))
        })
        .collect();
    let summary = values
        .pop()
        .unwrap_or_else(|| panic!("no output; stderr:\n{}", run.stderr));
    assert_eq!(summary["kind"], "summary", "the last line is the summary");
    for v in &values {
        assert_eq!(v["kind"], "finding", "{v}");
    }
    (values, summary)
}

/// Findings as sorted JSON strings (order of completion varies).
fn canonical(findings: &[Value]) -> Vec<String> {
    let mut out: Vec<String> = findings.iter().map(|f| f.to_string()).collect();
    out.sort();
    out
}

/// Completed blob GETs for the fleet's layers, per digest.
fn layer_gets(registry: &Registry, fleet: &Fleet) -> BTreeMap<String, usize> {
    fleet
        .layers
        .iter()
        .map(|d| (d.clone(), registry.blob_gets(d)))
        .collect()
}

fn all_blob_gets(registry: &Registry) -> usize {
    registry
        .get_requests()
        .iter()
        .filter(|u| u.contains("/blobs/"))
        .count()
}

/// The finding at `path` in image `reference`.
fn at<'a>(findings: &'a [Value], reference: &str, path: &str) -> Vec<&'a Value> {
    findings
        .iter()
        .filter(|f| f["image"]["reference"] == reference && f["path"] == path)
        .collect()
}

/// Every cache record, decompressed.
fn cache_records(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.to_string_lossy().ends_with(".json.zst") {
                let bytes = zstd::decode_all(std::fs::File::open(&path).unwrap()).unwrap();
                out.push(String::from_utf8(bytes).unwrap());
            }
        }
    }
    out
}

// ---- tests ------------------------------------------------------------------

#[test]
fn pages_through_the_registry_pulls_each_distinct_layer_once_and_reports_every_image() {
    let Some((registry, tree, fleet)) = fleet_in_a_registry(9100) else {
        return;
    };
    let cache = tree.path().join("cache");
    let cache_arg = cache.to_str().unwrap();
    let run = registry_run(
        &registry,
        &tree,
        &["--page-size", "2", "--cache-dir", cache_arg, "-j", "2"],
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let (findings, summary) = lines(&run);

    // Enumeration went past the first page of the catalog and of a tag list.
    let gets = registry.get_requests();
    assert!(
        gets.iter()
            .any(|u| u.starts_with("/v2/_catalog?") && u.contains("last=")),
        "no second catalog page requested: {gets:?}"
    );
    // (distribution 2.8 answers every tag at once, ignoring `n`; tag pages
    // are checked against a scripted server below.)
    assert!(
        gets.iter().any(|u| u == "/v2/team/api/tags/list?n=2"),
        "{gets:?}"
    );
    let reg = &summary["summary"]["registry"];
    assert_eq!(reg["repositories"], fleet.repositories, "{reg}");
    assert_eq!(reg["tags"], fleet.tags, "{reg}");
    assert_eq!(reg["images"], fleet.image_count(), "{reg}");
    assert_eq!(reg["distinct_layers"], fleet.layers.len(), "{reg}");
    assert!(
        fleet.layers.len() < fleet.image_count() * 2,
        "the fleet shares layers"
    );

    // Each distinct layer pulled exactly once, and strata's counters agree.
    let pulled = layer_gets(&registry, &fleet);
    assert!(pulled.values().all(|&n| n == 1), "{pulled:?}");
    assert_eq!(reg["layers_scanned"], fleet.layers.len());
    assert_eq!(reg["layer_blob_requests"], fleet.layers.len());
    assert_eq!(reg["cache_hits"], 0);
    assert_eq!(summary["summary"]["complete"], true);

    // Every image gets its own findings, with layer provenance and fate.
    let host = registry.host();
    for tag in [
        "team/api:v1",
        "team/api:v2",
        "team/api:dev",
        "team/api:latest",
    ] {
        let reference = format!("{host}/{tag}");
        let base = at(&findings, &reference, "/etc/base.env");
        assert_eq!(base.len(), 1, "{tag}: {findings:?}");
        assert_layer(base[0], fleet.image(tag), 0);
        assert_fate(base[0], "present", None);
        assert_eq!(
            base[0]["image"]["manifest_digest"],
            fleet.image(tag).manifest_digest.as_str()
        );
    }
    let cleaner = format!("{host}/ops/cleaner:v1");
    let deleted = at(&findings, &cleaner, "/etc/base.env");
    assert_eq!(deleted.len(), 1, "{findings:?}");
    assert_fate(
        deleted[0],
        "deleted",
        Some((fleet.image("ops/cleaner:v1"), 1)),
    );
    let app = at(&findings, &format!("{host}/team/api:v2"), "/app/api2.env");
    assert_eq!(app.len(), 1);
    assert_layer(app[0], fleet.image("team/api:v2"), 1);
    // Both platforms of the multi-platform tag.
    let multi = format!("{host}/multi/app:v1");
    for (i, path) in ["/app/multi-amd64.env", "/app/multi-arm64.env"]
        .iter()
        .enumerate()
    {
        let found = at(&findings, &multi, path);
        assert_eq!(found.len(), 1, "{path}: {findings:?}");
        assert_eq!(
            found[0]["image"]["manifest_digest"],
            fleet.images["multi/app:v1"][i].manifest_digest.as_str()
        );
    }
    // 4 api tags + cleaner carry the base secret; 7 app secrets, one of
    // them under two tags.
    assert_eq!(findings.len(), 5 + 8, "{findings:#?}");
    assert_eq!(summary["summary"]["findings"], findings.len());
    assert_eq!(reg["findings_by_repository"]["team/api"], 4 + 4);
    // Redacted by default, in the report and in the cache.
    for f in &findings {
        let shown = f["secret"].as_str().unwrap();
        assert!(!fleet.secrets.iter().any(|s| shown == s), "{f}");
    }
    let records = cache_records(&cache);
    assert!(records.len() >= fleet.layers.len(), "{}", records.len());
    for record in &records {
        for secret in &fleet.secrets {
            assert!(
                !record.contains(secret.as_str()),
                "a cache record holds a secret"
            );
        }
    }

    // Warm: the same findings, from the cache, and not one blob pulled.
    let blobs_before = all_blob_gets(&registry);
    let warm = registry_run(&registry, &tree, &["--cache-dir", cache_arg]);
    assert_eq!(warm.code, 1, "{}{}", warm.stdout, warm.stderr);
    let (warm_findings, warm_summary) = lines(&warm);
    assert_eq!(
        all_blob_gets(&registry),
        blobs_before,
        "the warm run pulled blobs"
    );
    let warm_reg = &warm_summary["summary"]["registry"];
    assert_eq!(warm_reg["layers_scanned"], 0);
    assert_eq!(warm_reg["layer_blob_requests"], 0);
    assert_eq!(warm_reg["cache_hits"], fleet.layers.len());
    assert_eq!(canonical(&warm_findings), canonical(&findings));

    // Selection by repository and tag globs.
    let picked = registry_run(
        &registry,
        &tree,
        &["--cache-dir", cache_arg, "--repo", "team/*", "--tag", "v*"],
    );
    let (picked_findings, picked_summary) = lines(&picked);
    let refs: BTreeSet<&str> = picked_findings
        .iter()
        .map(|f| f["image"]["reference"].as_str().unwrap())
        .collect();
    let expected: BTreeSet<String> = ["team/api:v1", "team/api:v2", "team/web:v1"]
        .iter()
        .map(|t| format!("{host}/{t}"))
        .collect();
    assert_eq!(refs, expected.iter().map(String::as_str).collect());
    assert_eq!(picked_summary["summary"]["registry"]["repositories"], 2);
}

#[test]
fn three_shards_scan_every_layer_once_and_the_cached_only_report_equals_one_run() {
    let Some((registry, tree, fleet)) = fleet_in_a_registry(9200) else {
        return;
    };
    let cache = tree.path().join("shared-cache");
    let cache_arg = cache.to_str().unwrap();

    // --cached-only before any shard ran: errors, not pulls.
    let blobs_before = all_blob_gets(&registry);
    let early = registry_run(
        &registry,
        &tree,
        &["--cache-dir", cache_arg, "--cached-only"],
    );
    assert_eq!(early.code, 2, "{}{}", early.stdout, early.stderr);
    let (_, early_summary) = lines(&early);
    let errors = early_summary["errors"].as_array().unwrap();
    assert!(
        errors
            .iter()
            .any(|e| e["message"].as_str().unwrap().contains("not in the cache")),
        "{errors:?}"
    );
    assert_eq!(
        all_blob_gets(&registry),
        blobs_before,
        "--cached-only pulled"
    );

    let mut scanned = 0;
    for k in 0..3 {
        let shard = format!("{k}/3");
        let run = registry_run(
            &registry,
            &tree,
            &["--cache-dir", cache_arg, "--shard", &shard],
        );
        assert_eq!(run.code, 0, "shard {shard}: {}{}", run.stdout, run.stderr);
        let (findings, summary) = lines(&run);
        assert!(findings.is_empty(), "a shard only fills the cache");
        assert_eq!(summary["summary"]["registry"]["shard"], shard.as_str());
        scanned += summary["summary"]["registry"]["layers_scanned"]
            .as_u64()
            .unwrap();
    }
    assert_eq!(
        scanned as usize,
        fleet.layers.len(),
        "shards overlap or miss layers"
    );
    let pulled = layer_gets(&registry, &fleet);
    assert!(pulled.values().all(|&n| n == 1), "{pulled:?}");

    let blobs_before = all_blob_gets(&registry);
    let report = registry_run(
        &registry,
        &tree,
        &["--cache-dir", cache_arg, "--cached-only"],
    );
    assert_eq!(report.code, 1, "{}{}", report.stdout, report.stderr);
    assert_eq!(
        all_blob_gets(&registry),
        blobs_before,
        "--cached-only pulled"
    );
    let (cached_findings, cached_summary) = lines(&report);
    assert_eq!(
        cached_summary["summary"]["complete"], true,
        "{cached_summary}"
    );

    let single = registry_run(&registry, &tree, &["--no-cache"]);
    assert_eq!(single.code, 1, "{}{}", single.stdout, single.stderr);
    let (single_findings, _) = lines(&single);
    assert_eq!(single_findings.len(), 13);
    assert_eq!(canonical(&cached_findings), canonical(&single_findings));
}

#[test]
fn a_partial_cache_is_resumed_and_a_damaged_record_is_rescanned_on_the_next_run() {
    let Some((registry, tree, fleet)) = fleet_in_a_registry(9500) else {
        return;
    };
    let cache = tree.path().join("cache");
    let cache_arg = cache.to_str().unwrap();
    // A run cut short leaves some layers cached (and maybe a temp file).
    let first = registry_run(
        &registry,
        &tree,
        &["--cache-dir", cache_arg, "--repo", "team/*"],
    );
    assert_eq!(first.code, 1, "{}{}", first.stdout, first.stderr);
    let (_, first_summary) = lines(&first);
    let done = first_summary["summary"]["registry"]["layers_scanned"]
        .as_u64()
        .unwrap() as usize;
    assert!(done > 0 && done < fleet.layers.len());
    let resumed = registry_run(&registry, &tree, &["--cache-dir", cache_arg]);
    assert_eq!(resumed.code, 1, "{}{}", resumed.stdout, resumed.stderr);
    let (findings, summary) = lines(&resumed);
    let reg = &summary["summary"]["registry"];
    assert_eq!(reg["cache_hits"], done);
    assert_eq!(reg["layers_scanned"], fleet.layers.len() - done);
    let pulled = layer_gets(&registry, &fleet);
    assert!(pulled.values().all(|&n| n == 1), "{pulled:?}");
    assert_eq!(findings.len(), 13);

    // Damage one record from outside: that run reports it (exit 2) and
    // drops it, and the run after rescans the layer and is whole again.
    let base = fleet.image("team/api:v1").layers[0].digest.clone();
    let record = std::fs::read_dir(cache.join("v1"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
        .join("layers/sha256")
        .join(format!("{}.json.zst", hex_of(&base)));
    std::fs::write(&record, b"damaged").unwrap();
    let damaged = registry_run(&registry, &tree, &["--cache-dir", cache_arg]);
    assert_eq!(damaged.code, 2, "{}{}", damaged.stdout, damaged.stderr);
    let (_, damaged_summary) = lines(&damaged);
    let errors = damaged_summary["errors"].as_array().unwrap();
    assert!(
        errors
            .iter()
            .any(|e| e["path"].as_str().unwrap().contains(&base)
                && e["message"].as_str().unwrap().contains("unreadable record")),
        "{errors:?}"
    );
    let healed = registry_run(&registry, &tree, &["--cache-dir", cache_arg]);
    assert_eq!(healed.code, 1, "{}{}", healed.stdout, healed.stderr);
    let (healed_findings, healed_summary) = lines(&healed);
    assert_eq!(healed_summary["summary"]["registry"]["layers_scanned"], 1);
    assert_eq!(canonical(&healed_findings), canonical(&findings));
    assert_eq!(registry.blob_gets(&base), 2, "rescanned exactly once more");
}

#[test]
fn a_missing_layer_blob_fails_its_images_while_the_rest_finish() {
    let Some((registry, tree, fleet)) = fleet_in_a_registry(9300) else {
        return;
    };
    let gone = fleet.image("team/web:v1").layers[1].digest.clone();
    std::fs::remove_file(registry.blob_data_path(&gone)).unwrap();
    let cache = tree.path().join("cache");
    let cache_arg = cache.to_str().unwrap();
    for attempt in 0..2 {
        let run = registry_run(&registry, &tree, &["--cache-dir", cache_arg]);
        assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
        let (findings, summary) = lines(&run);
        let errors = summary["errors"].as_array().unwrap();
        assert!(
            errors.iter().any(|e| {
                let path = e["path"].as_str().unwrap();
                path.contains("team/web:v1") && path.contains(&gone)
            }),
            "attempt {attempt}: {errors:?}"
        );
        // Everything else is still reported: 13 findings less the lost one.
        assert_eq!(findings.len(), 12, "attempt {attempt}: {findings:#?}");
        assert_eq!(summary["summary"]["complete"], false);
    }
    // The failure was not cached: the second run asked for the blob again.
    assert!(registry.log().matches(&format!("/blobs/{gone}")).count() >= 2);
}

#[test]
fn a_registry_behind_basic_auth_needs_the_credentials() {
    let Some(registry) = Registry::start(Some(("batch", "hunter2-batch"))) else {
        return;
    };
    let tree = Tree::new();
    let spec = ImageSpec::with_layers(vec![
        base_layer(),
        LayerSpec::gzip(vec![file(
            "app/.env",
            format!("T={}\n", github_token(9401)),
        )]),
    ]);
    let layout = tree.path().join("layout");
    write_oci_layout(&layout, &[("app", &spec)]);
    registry.push_layout(&layout, "app", "private/app:v1");

    let refused = registry_run(&registry, &tree, &["--no-cache"]);
    assert_eq!(refused.code, 2, "{}{}", refused.stdout, refused.stderr);
    assert!(refused.stderr.contains("401"), "{}", refused.stderr);
    assert!(!refused.stderr.contains("hunter2"));

    let run = registry_run_stdin(
        registry.host(),
        &tree,
        &["--no-cache", "--username", "batch", "--password-stdin"],
        Some(b"hunter2-batch\n"),
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let (findings, summary) = lines(&run);
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0]["path"], "/app/.env");
    assert_eq!(summary["summary"]["registry"]["repositories"], 1);
    assert!(!run.stdout.contains("hunter2") && !run.stderr.contains("hunter2"));
}

// ---- listing behaviour a real registry will not show on demand ---------------

/// distribution 2.8 ignores `n` on tag lists, so tag pagination is checked
/// against a scripted server that pages with `Link` headers.
#[test]
fn catalog_and_tag_pages_are_followed_through_link_headers() {
    if !registry_tests_enabled() {
        return;
    }
    let server = FakeServer::start(|line, _| {
        let path = line.split(' ').nth(1).unwrap_or("");
        match path {
            "/v2/" => Reply::json("{}"),
            "/v2/_catalog?n=2" => Reply::json(r#"{"repositories":["a/one","a/two"]}"#)
                .header("Link", r#"</v2/_catalog?last=a%2Ftwo&n=2>; rel="next""#),
            "/v2/_catalog?last=a%2Ftwo&n=2" => Reply::json(r#"{"repositories":["b/three"]}"#),
            "/v2/a/one/tags/list?n=2" => Reply::json(r#"{"name":"a/one","tags":["1","2"]}"#)
                .header("Link", r#"</v2/a/one/tags/list?last=2&n=2>; rel="next""#),
            "/v2/a/one/tags/list?last=2&n=2" => Reply::json(r#"{"name":"a/one","tags":["3"]}"#),
            p if p.contains("/tags/list") => Reply::json(r#"{"tags":[]}"#),
            _ => Reply::status("404 Not Found"),
        }
    });
    let tree = Tree::new();
    let run = registry_run_stdin(
        server.host(),
        &tree,
        &["--no-cache", "--page-size", "2"],
        None,
    );
    // Every tag's manifest is missing on this server: errors, one per tag.
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    let (findings, summary) = lines(&run);
    assert!(findings.is_empty());
    let reg = &summary["summary"]["registry"];
    assert_eq!(reg["repositories"], 3, "{reg}");
    assert_eq!(reg["tags"], 3, "{reg}");
    let errors: Vec<&str> = summary["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    for tag in ["1", "2", "3"] {
        let reference = format!("{}/a/one:{tag}", server.host());
        assert!(
            errors.contains(&reference.as_str()),
            "{reference} not in {errors:?}"
        );
    }
}

#[test]
fn a_429_with_retry_after_is_waited_out_then_the_run_goes_on() {
    if !registry_tests_enabled() {
        return;
    }
    let server = FakeServer::start(|line, _| {
        let path = line.split(' ').nth(1).unwrap_or("");
        match path {
            "/v2/" => Reply::json("{}"),
            p if p.starts_with("/v2/_catalog") => {
                // Only the first catalog request is throttled.
                static THROTTLED: std::sync::atomic::AtomicBool =
                    std::sync::atomic::AtomicBool::new(false);
                if !THROTTLED.swap(true, std::sync::atomic::Ordering::SeqCst) {
                    Reply::status("429 Too Many Requests").header("Retry-After", "2")
                } else {
                    Reply::json(r#"{"repositories":[]}"#)
                }
            }
            _ => Reply::status("404 Not Found"),
        }
    });
    let tree = Tree::new();
    let run = registry_run_stdin(server.host(), &tree, &["--no-cache"], None);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let catalog: Vec<_> = server
        .timed_requests()
        .into_iter()
        .filter(|(_, l)| l.contains("/v2/_catalog"))
        .collect();
    assert_eq!(catalog.len(), 2, "{catalog:?}");
    let waited = catalog[1].0 - catalog[0].0;
    assert!(
        waited >= std::time::Duration::from_secs(2),
        "retried after {waited:?}, before the 2 s Retry-After"
    );
}

/// Manifests and blobs honour `Retry-After` too (they are where registries
/// rate-limit): a scripted server serves one image and throttles the first
/// GET of its app layer.
#[test]
fn a_429_on_a_layer_blob_is_waited_out_as_retry_after_asks() {
    if !registry_tests_enabled() {
        return;
    }
    let tree = Tree::new();
    let secret = github_token(9601);
    let spec = ImageSpec::with_layers(vec![
        base_layer(),
        LayerSpec::gzip(vec![file("app/.env", format!("T={secret}\n"))]),
    ]);
    let image = write_oci_layout(&tree.path().join("layout"), &[("app", &spec)])
        .into_iter()
        .next()
        .unwrap();
    let throttled = image.layers[1].digest.clone();
    let served = image.clone();
    let server = FakeServer::start(move |line, _| {
        static THROTTLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        let path = line.split(' ').nth(1).unwrap_or("");
        let blob = |digest: &str| format!("/v2/r/app/blobs/{digest}");
        if path == "/v2/" {
            Reply::json("{}")
        } else if path.starts_with("/v2/_catalog") {
            Reply::json(r#"{"repositories":["r/app"]}"#)
        } else if path.starts_with("/v2/r/app/tags/list") {
            Reply::json(r#"{"name":"r/app","tags":["v1"]}"#)
        } else if path == "/v2/r/app/manifests/v1" {
            Reply::bytes(
                "application/vnd.oci.image.manifest.v1+json",
                &served.manifest,
            )
            .header("Docker-Content-Digest", &served.manifest_digest)
        } else if path == blob(&served.config_digest) {
            Reply::bytes("application/octet-stream", &served.config)
        } else if let Some(layer) = served.layers.iter().find(|l| path == blob(&l.digest)) {
            if layer.digest == served.layers[1].digest
                && !THROTTLED.swap(true, std::sync::atomic::Ordering::SeqCst)
            {
                Reply::status("429 Too Many Requests").header("Retry-After", "2")
            } else {
                Reply::bytes("application/octet-stream", &layer.blob)
            }
        } else {
            Reply::status("404 Not Found")
        }
    });
    let run = registry_run_stdin(server.host(), &tree, &["--no-cache"], None);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let (findings, summary) = lines(&run);
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0]["path"], "/app/.env");
    assert_eq!(
        summary["summary"]["registry"]["layer_blob_requests"], 3,
        "2 layers, 1 retry"
    );
    let gets: Vec<_> = server
        .timed_requests()
        .into_iter()
        .filter(|(_, l)| l.contains(&format!("/blobs/{throttled}")))
        .collect();
    assert_eq!(gets.len(), 2, "{gets:?}");
    let waited = gets[1].0 - gets[0].0;
    assert!(
        waited >= std::time::Duration::from_secs(2),
        "retried after {waited:?}, before the 2 s Retry-After"
    );
}

#[test]
fn a_layer_secret_in_a_build_step_reaches_neither_the_report_nor_the_cache() {
    // Issue 13: the config record cached `created_by` masked with the
    // config's findings only, so a build arg that a layer's file made a
    // finding was written into the cache and streamed out raw.
    let Some(registry) = Registry::start(None) else {
        return;
    };
    let tree = Tree::new();
    let (spec, secret) = build_arg_secret_spec(9700);
    let layout = tree.path().join("layout");
    write_oci_layout(&layout, &[("app", &spec)]);
    registry.push_layout(&layout, "app", "team/creds:v1");
    let cache = tree.path().join("cache");
    let cache_arg = cache.to_str().unwrap();
    for (attempt, format) in [(0, "jsonl"), (1, "jsonl"), (2, "json"), (3, "text")] {
        let run = registry_run(
            &registry,
            &tree,
            &["--cache-dir", cache_arg, "--format", format],
        );
        assert_eq!(run.code, 1, "run {attempt}: {}{}", run.stdout, run.stderr);
        if attempt == 1 {
            let (findings, summary) = lines(&run);
            assert_eq!(summary["summary"]["registry"]["layers_scanned"], 0, "warm");
            let step = findings[0]["layer"]["created_by"].as_str().unwrap();
            assert!(
                step.starts_with("RUN |1 K=") && step.contains("*****"),
                "{step}"
            );
        }
        for text in [&run.stdout, &run.stderr] {
            assert!(
                !text.contains(&secret[..12]),
                "run {attempt} ({format}) echoed the secret:\n{text}"
            );
        }
        for record in cache_records(&cache) {
            assert!(!record.contains(&secret[..12]), "cached: {record}");
        }
        let mut stack = vec![cache.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    let bytes = std::fs::read(&path).unwrap();
                    assert!(
                        !bytes.windows(12).any(|w| w == &secret.as_bytes()[..12]),
                        "{} holds the secret",
                        path.display()
                    );
                }
            }
        }
    }
}
