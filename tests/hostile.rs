//! End-to-end tests of strata on hostile and broken inputs (issue 13): no
//! bytes silently passed over, no input bytes echoed in a message, every
//! read bounded. Each fixture is built by code; each test asserts on the
//! JSON report. Tests that could hang run strata under a kill timer, so a
//! regression fails fast instead of stalling CI.

mod util;

use std::{
    io::Write,
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;
use strata_sources::blob::{sniff, Kind};
use util::{image::*, *};

// ---- helpers ----------------------------------------------------------------

/// Runs `strata ARGS` in `cwd`, killing it after `limit` (a failure).
fn strata_bounded(cwd: &Path, args: &[&str], limit: Duration) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(args)
        .current_dir(cwd)
        .env("DOCKER_CONFIG", cwd.join(".no-docker-config"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run strata");
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            child.kill().unwrap();
            panic!("strata {args:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

const LIMIT: Duration = Duration::from_secs(60);

/// `strata image IMAGE --format json ARGS` under the kill timer: exit 2,
/// with an error whose message contains `needle`.
fn assert_image_error(tree: &Tree, image: &str, extra: &[&str], needle: &str) -> Run {
    let mut args = vec!["image", image, "--format", "json"];
    args.extend_from_slice(extra);
    let run = strata_bounded(tree.path(), &args, LIMIT);
    let report = run.json();
    assert_eq!(run.code, 2, "{report}");
    let errors = listed(&report, "errors");
    assert!(
        errors.iter().any(|(_, m)| m.contains(needle)),
        "no error containing {needle:?}: {errors:?}"
    );
    run
}

fn entries<'a>(report: &'a Value, key: &str) -> &'a Vec<Value> {
    report[key].as_array().expect(key)
}

/// `(path, message-or-reason)` of every error or skipped entry.
fn listed(report: &Value, key: &str) -> Vec<(String, String)> {
    let text = if key == "errors" { "message" } else { "reason" };
    entries(report, key)
        .iter()
        .map(|e| {
            (
                e["path"].as_str().unwrap().to_string(),
                e[text].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Paths of the findings of `rule`.
fn found(report: &Value, rule: &str) -> Vec<String> {
    entries(report, "findings")
        .iter()
        .filter(|f| f["rule_id"] == rule)
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect()
}

const GITHUB: &str = "github-pat-classic";

fn zip_of(members: &[(&str, &[u8])], method: zip::CompressionMethod) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(method);
    for (name, data) in members {
        writer.start_file(*name, options).unwrap();
        writer.write_all(data).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    compress(data, Compression::Gzip)
}

/// One sample of every kind of stream the sniffer knows, holding `data`.
/// The match is exhaustive: a new kind fails to compile until it has one.
fn sample(kind: Kind, data: &[u8]) -> (&'static str, Vec<u8>) {
    match kind {
        Kind::Zip => (
            "sample.zip",
            zip_of(&[("inner.txt", data)], zip::CompressionMethod::Deflated),
        ),
        Kind::Tar => ("sample.tar", tar_of(&[file("inner.txt", data)])),
        Kind::Gzip => ("sample.txt.gz", gzip(data)),
        Kind::Zstd => ("sample.txt.zst", zstd::encode_all(data, 3).unwrap()),
        Kind::Bzip2 => {
            let mut out = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
            out.write_all(data).unwrap();
            ("sample.txt.bz2", out.finish().unwrap())
        }
        Kind::Xz => {
            let options = lzma_rust2::XzOptions::with_preset(1);
            let mut out = lzma_rust2::XzWriter::new(Vec::new(), options).unwrap();
            out.write_all(data).unwrap();
            ("sample.txt.xz", out.finish().unwrap())
        }
        Kind::Plain => ("sample.txt", data.to_vec()),
    }
}

// ---- 1. nothing silently unscanned ------------------------------------------

#[test]
fn every_format_the_sniffer_knows_is_scanned_or_listed() {
    let line = format!("token = {}\n", github_token(1301));
    let tree = Tree::new();
    let mut names = Vec::new();
    for kind in Kind::ALL {
        let (name, bytes) = sample(kind, line.as_bytes());
        assert_eq!(sniff(&bytes[..bytes.len().min(512)]), kind, "{name}");
        tree.write(name, bytes);
        names.push((kind, name));
    }

    // Opened: each sample's secret is found inside it, nothing is listed.
    let report = scan_json(&tree, &[]).json();
    let paths = found(&report, GITHUB);
    for (kind, name) in &names {
        let hits = paths
            .iter()
            .filter(|p| *p == name || p.starts_with(&format!("{name}!")))
            .count();
        assert_eq!(hits, 1, "{kind:?} {name}: {paths:?}");
    }
    assert!(listed(&report, "errors").is_empty(), "{report}");
    assert!(listed(&report, "skipped").is_empty(), "{report}");

    // Not opened (depth 0): every container is listed as skipped and its
    // raw bytes are still scanned (the plain tar's secret is still found).
    let report = scan_json(&tree, &["--max-archive-depth", "0"]).json();
    let skipped = listed(&report, "skipped");
    for (kind, name) in &names {
        let listed_here = skipped
            .iter()
            .any(|(path, reason)| path == name && reason.contains("--max-archive-depth 0"));
        assert_eq!(listed_here, kind.is_container(), "{kind:?}: {skipped:?}");
    }
    assert!(found(&report, GITHUB).contains(&"sample.tar".to_string()));
    assert!(listed(&report, "errors").is_empty(), "{report}");
}

#[test]
fn archives_past_the_depth_limit_are_listed_as_skipped() {
    let line = format!("token = {}\n", github_token(1302));
    let inner = zip_of(
        &[("deep.txt", line.as_bytes())],
        zip::CompressionMethod::Stored,
    );
    let outer = zip_of(&[("inner.zip", &inner)], zip::CompressionMethod::Stored);
    let tree = Tree::new();
    tree.write("outer.zip", outer);
    let report = scan_json(&tree, &["--max-archive-depth", "1"]).json();
    assert_eq!(
        listed(&report, "skipped"),
        vec![(
            "outer.zip!inner.zip".to_string(),
            "Zip nested deeper than --max-archive-depth 1: not opened, scanned as raw bytes"
                .to_string()
        )]
    );
    // A stored member's bytes are still read raw.
    assert_eq!(found(&report, GITHUB), vec!["outer.zip!inner.zip"]);
}

/// Contiguous (`7`), GNU sparse (`S`) and unknown-type entries carry bytes
/// that GNU tar and Python extract: they are scanned like regular files.
fn data_entries(seed: u64) -> Vec<Entry> {
    let line = |n: u64| format!("token = {}\n", github_token(seed + n));
    vec![
        typed_entry(
            "app/contiguous.txt",
            tar::EntryType::Continuous,
            line(0).as_bytes(),
        ),
        sparse_entry("app/sparse.txt", 4096, line(1).as_bytes()),
        typed_entry(
            "app/unknown.txt",
            tar::EntryType::new(b'Z'),
            line(2).as_bytes(),
        ),
    ]
}

#[test]
fn tar_entries_of_every_data_type_are_scanned_in_files() {
    let tree = Tree::new();
    tree.write("bundle.tar", tar_of(&data_entries(1310)));
    tree.write("bundle.tar.gz", gzip(&tar_of(&data_entries(1320))));
    let report = scan_json(&tree, &[]).json();
    let mut paths = found(&report, GITHUB);
    paths.sort();
    let expected: Vec<String> = ["bundle.tar", "bundle.tar.gz"]
        .iter()
        .flat_map(|archive| {
            ["contiguous", "sparse", "unknown"].map(|n| format!("{archive}!app/{n}.txt"))
        })
        .collect();
    assert_eq!(paths, expected, "{report}");
    assert!(listed(&report, "errors").is_empty(), "{report}");
}

#[test]
fn tar_entries_of_every_data_type_are_scanned_in_layers() {
    let tree = Tree::new();
    let spec = ImageSpec::with_layers(vec![
        LayerSpec::gzip(data_entries(1330)),
        LayerSpec::plain(data_entries(1340)),
    ]);
    write_oci_layout(&tree.path().join("layout"), &[("1.0", &spec)]);
    let run = strata_bounded(
        tree.path(),
        &["image", "oci:layout:1.0", "--format", "json"],
        LIMIT,
    );
    let report = run.json();
    let layers: Vec<(u64, String)> = entries(&report, "findings")
        .iter()
        .map(|f| {
            (
                f["layer"]["index"].as_u64().unwrap(),
                f["path"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for index in 0..2 {
        for name in ["contiguous", "sparse", "unknown"] {
            let path = format!("/app/{name}.txt");
            assert!(
                layers.contains(&(index, path.clone())),
                "layer {index} {path}: {layers:?}"
            );
        }
    }
    assert_eq!(run.code, 1, "{report}");
}

#[test]
fn a_sparse_member_of_a_docker_save_tar_is_an_error_not_a_silent_gap() {
    // The archive's layer member is stored sparse: it cannot be read in
    // place, and the scan must say so.
    let tree = Tree::new();
    let spec = ImageSpec::with_layers(vec![LayerSpec::plain(vec![file(
        "app/.env",
        format!("TOKEN={}\n", github_token(1350)),
    )])]);
    let archive = tree.path().join("app.tar");
    write_docker_save_legacy(&archive, "app:1", &spec);
    let original = std::fs::read(&archive).unwrap();
    let members = tar_members(&original).unwrap();
    let mut rebuilt = Vec::new();
    for (name, data) in &members {
        match name.ends_with("layer.tar") {
            true => rebuilt.push(sparse_entry(name, 0, data)),
            false => rebuilt.push(file(name, data)),
        }
    }
    write_bytes(&archive, &tar_of(&rebuilt));
    assert_image_error(&tree, "app.tar", &[], "GNU sparse");
}

// ---- 2. no input bytes in messages ------------------------------------------

#[test]
fn a_corrupt_tar_header_is_described_without_its_bytes() {
    let token = github_token(1360);
    // A header whose name is a secret and whose size field is not octal.
    let mut header = vec![0u8; 512];
    header[..token.len()].copy_from_slice(token.as_bytes());
    header[100..107].copy_from_slice(b"0000644");
    header[124..135].copy_from_slice(&token.as_bytes()[..11]);
    header[257..263].copy_from_slice(b"ustar\0");
    let mut tar = tar_of(&[file("app/ok.txt", "fine\n")]);
    tar.truncate(tar.len() - 1024);
    tar.extend_from_slice(&header);
    tar.extend_from_slice(&[0u8; 1024]);
    let tree = Tree::new();
    tree.write("broken.tar", &tar);
    tree.write("broken.tar.gz", gzip(&tar));
    for format in ["json", "text", "sarif"] {
        let run = strata_in(tree.path(), &["scan", ".", "--format", format], None);
        assert_eq!(run.code, 2, "{format}: {}", run.stdout);
        for (what, out) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
            assert!(
                !out.contains(&token[4..]),
                "{format} {what} echoes the header:\n{out}"
            );
        }
    }
    let report = scan_json(&tree, &[]).json();
    let errors = listed(&report, "errors");
    assert_eq!(errors.len(), 2, "{errors:?}");
    for (_, message) in errors {
        assert!(message.contains(": corrupt tar: "), "{message}");
    }
}

#[test]
fn a_malformed_image_config_is_described_without_its_values() {
    let token = github_token(1361);
    let tree = Tree::new();
    let spec = ImageSpec::with_layers(vec![LayerSpec::gzip(vec![file("app/x", "x\n")])]);
    let layout = tree.path().join("layout");
    let built = write_oci_layout(&layout, &[("1.0", &spec)]);
    // `Env` must be a list of strings; this one is a string, a secret.
    let config = format!(r#"{{"architecture":"amd64","os":"linux","config":{{"Env":"{token}"}}}}"#);
    let config_digest = sha256(config.as_bytes());
    write_bytes(&blob_path(&layout, &config_digest), config.as_bytes());
    let manifest = String::from_utf8(built[0].manifest.clone())
        .unwrap()
        .replace(&built[0].config_digest, &config_digest)
        .replace(
            &format!("\"size\":{}", built[0].config.len()),
            &format!("\"size\":{}", config.len()),
        );
    write_bytes(
        &blob_path(&layout, &built[0].manifest_digest),
        manifest.as_bytes(),
    );
    let index = std::fs::read_to_string(layout.join("index.json"))
        .unwrap()
        .replace(&built[0].manifest_digest, &sha256(manifest.as_bytes()))
        .replace(
            &format!("\"size\":{}", built[0].manifest.len()),
            &format!("\"size\":{}", manifest.len()),
        );
    write_bytes(
        &blob_path(&layout, &sha256(manifest.as_bytes())),
        manifest.as_bytes(),
    );
    write_bytes(&layout.join("index.json"), index.as_bytes());
    let run = assert_image_error(&tree, "oci:layout:1.0", &[], "wrong type");
    assert!(!run.stdout.contains(&token[4..]) && !run.stderr.contains(&token[4..]));
}

// ---- 3. bounded reads and budgets -------------------------------------------

#[test]
fn nested_archives_share_one_decompression_budget_per_input() {
    // Twenty members of 1 MiB of zeros each: past a 4 MiB budget.
    let zeros = gzip(&vec![0u8; 1 << 20]);
    let names: Vec<String> = (0..20).map(|i| format!("page{i:02}.gz")).collect();
    let line = format!("token = {}\n", github_token(1370));
    let mut members: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &zeros[..])).collect();
    members.push(("zz-after.txt", line.as_bytes()));
    let bomb = zip_of(&members, zip::CompressionMethod::Stored);
    let tree = Tree::new();
    tree.write("bomb.zip", &bomb);
    tree.write("other.env", format!("token = {}\n", github_token(1371)));
    let run = strata_bounded(
        tree.path(),
        &["scan", ".", "--format", "json", "--max-decompressed", "4M"],
        LIMIT,
    );
    let report = run.json();
    assert_eq!(run.code, 2, "{report}");
    let errors = listed(&report, "errors");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].0, "bomb.zip");
    assert!(
        errors[0].1.contains("decompression budget exceeded"),
        "{errors:?}"
    );
    // The rest of the input is still scanned (raw), and so is the rest of the tree.
    let mut paths = found(&report, GITHUB);
    paths.sort();
    assert_eq!(paths, vec!["bomb.zip", "other.env"], "{report}");
}

/// A zip whose central directory names one local member twice.
fn overlapping_zip(data: &[u8]) -> Vec<u8> {
    let mut zip = zip_of(&[("a.txt", data)], zip::CompressionMethod::Deflated);
    let eocd = zip.len() - 22;
    assert_eq!(&zip[eocd..eocd + 4], b"PK\x05\x06");
    let cd_size = u32::from_le_bytes(zip[eocd + 12..eocd + 16].try_into().unwrap()) as usize;
    let cd_start = u32::from_le_bytes(zip[eocd + 16..eocd + 20].try_into().unwrap()) as usize;
    let mut record = zip[cd_start..cd_start + cd_size].to_vec();
    // Same length name, other spelling.
    let name_at = 46;
    record[name_at] = b'b';
    let mut out = zip[..cd_start + cd_size].to_vec();
    out.extend_from_slice(&record);
    let mut end = zip[eocd..].to_vec();
    end[8..10].copy_from_slice(&2u16.to_le_bytes());
    end[10..12].copy_from_slice(&2u16.to_le_bytes());
    end[12..16].copy_from_slice(&((2 * cd_size) as u32).to_le_bytes());
    out.extend_from_slice(&end);
    zip = out;
    zip
}

#[test]
fn zip_members_that_overlap_are_refused_and_the_bytes_scanned_raw() {
    let line = format!("token = {}\n", github_token(1372));
    let tree = Tree::new();
    tree.write("overlap.zip", overlapping_zip(line.as_bytes()));
    let report = scan_json(&tree, &[]).json();
    let errors = listed(&report, "errors");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].0, "overlap.zip");
    assert!(errors[0].1.contains("overlap"), "{errors:?}");
}

#[test]
fn a_layer_that_expands_past_its_ratio_is_an_error() {
    // 16 MiB of zeros gzip to about 16 KiB: a 1000x layer.
    let tree = Tree::new();
    let spec = ImageSpec::with_layers(vec![
        LayerSpec::gzip(vec![file(
            "app/.env",
            format!("T={}\n", github_token(1380)),
        )]),
        LayerSpec::gzip(vec![file("app/zeros", vec![0u8; 16 << 20])]),
    ]);
    write_oci_layout(&tree.path().join("layout"), &[("1.0", &spec)]);
    let run = assert_image_error(
        &tree,
        "oci:layout:1.0",
        &["--max-decompressed", "1M"],
        "layer expands past",
    );
    let report = run.json();
    // The other layer's finding is still reported.
    assert_eq!(found(&report, GITHUB), vec!["/app/.env"]);
}

/// An OCI layout of one image with a secret in its only layer.
fn one_layer_layout(tree: &Tree, seed: u64) -> (std::path::PathBuf, BuiltImage) {
    let spec = ImageSpec::with_layers(vec![LayerSpec::gzip(vec![file(
        "app/.env",
        format!("T={}\n", github_token(seed)),
    )])]);
    let layout = tree.path().join("layout");
    let built = write_oci_layout(&layout, &[("1.0", &spec)]).remove(0);
    (layout, built)
}

#[test]
fn a_layer_blob_that_is_a_device_or_too_long_is_an_error_not_a_hang() {
    let tree = Tree::new();
    let (layout, built) = one_layer_layout(&tree, 1390);
    let blob = blob_path(&layout, &built.layers[0].digest);
    std::fs::remove_file(&blob).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &blob).unwrap();
    assert_image_error(&tree, "oci:layout:1.0", &[], "not a regular file");

    // A blob longer than its descriptor says.
    std::fs::remove_file(&blob).unwrap();
    let mut longer = built.layers[0].blob.clone();
    longer.extend_from_slice(&[0u8; 4096]);
    write_bytes(&blob, &longer);
    assert_image_error(&tree, "oci:layout:1.0", &[], "longer than the");
}

#[test]
fn a_fifo_in_a_layout_is_refused_without_blocking() {
    let tree = Tree::new();
    let (layout, _) = one_layer_layout(&tree, 1391);
    std::fs::remove_file(layout.join("index.json")).unwrap();
    let made = Command::new("mkfifo")
        .arg(layout.join("index.json"))
        .status()
        .expect("mkfifo");
    assert!(made.success());
    assert_image_error(&tree, "oci:layout:1.0", &[], "not a regular file");
}

#[test]
fn a_huge_document_in_a_docker_save_tar_is_refused_by_its_header() {
    // manifest.json's header claims 3 GiB; the bytes are not there.
    let mut header = tar::Header::new_gnu();
    header.set_path("manifest.json").unwrap();
    header.set_mode(0o644);
    header.set_size(3 << 30);
    header.set_cksum();
    let mut tar = header.as_bytes().to_vec();
    tar.extend_from_slice(&[b'['; 512]);
    let tree = Tree::new();
    tree.write("huge.tar", &tar);
    assert_image_error(&tree, "huge.tar", &[], "larger than");
}

#[test]
fn a_corrupt_archive_in_a_large_layer_file_stops_only_that_file() {
    // Over 8 MiB, so the walking thread streams it instead of a worker.
    let mut rng = Rng::new(1392);
    let mut corrupt = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
    corrupt.extend((0..(9 << 20)).map(|_| rng.next() as u8));
    let tree = Tree::new();
    let spec = ImageSpec::with_layers(vec![LayerSpec::gzip(vec![
        file("app/big.gz", corrupt),
        file("app/zz-after.env", format!("T={}\n", github_token(1393))),
    ])]);
    write_oci_layout(&tree.path().join("layout"), &[("1.0", &spec)]);
    let run = assert_image_error(&tree, "oci:layout:1.0", &[], "decompressing");
    let report = run.json();
    let errors = listed(&report, "errors");
    assert!(
        errors.iter().all(|(p, _)| p.ends_with("/app/big.gz")),
        "{errors:?}"
    );
    assert_eq!(found(&report, GITHUB), vec!["/app/zz-after.env"]);
}
