//! Writes the seed corpora of the fuzz targets into `corpus/<target>/`:
//! small archives and documents built here by code, so nothing generated is
//! committed. Run by `run.sh` before fuzzing; `cargo run -p
//! strata-fuzz-seeds -- DIR` writes them under DIR (default `corpus`).

use std::{
    fs,
    io::{Cursor, Write},
    path::{Path, PathBuf},
};

use tar::{EntryType, Header};

/// A fake AWS key id from strata's own rule examples: seeds with a hit.
const SECRET: &str = "aws_access_key_id = AKIAVPLTO5YUVYKDH5UY\n";

fn main() {
    let root = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "corpus".into()));
    let tars = tar_seeds();
    write_all(&root.join("tar_walk"), &tars);
    write_all(&root.join("compressed"), &compressed_seeds(&tars));
    write_all(&root.join("layer"), &layer_seeds());
    write_all(&root.join("zip_nested"), &zip_seeds(&tars));
    write_all(&root.join("image_spec"), &spec_seeds());
    write_all(&root.join("rules_toml"), &rules_seeds());
    write_all(&root.join("keywords"), &keyword_seeds());
    write_all(&root.join("layer_fate"), &fate_seeds());
}

fn write_all(dir: &Path, seeds: &[(&str, Vec<u8>)]) {
    fs::create_dir_all(dir).expect("create the corpus directory");
    for (name, bytes) in seeds {
        fs::write(dir.join(format!("seed-{name}")), bytes).expect("write a seed");
    }
}

fn file_header(size: usize) -> Header {
    let mut header = Header::new_gnu();
    header.set_size(size as u64);
    header.set_mode(0o644);
    header
}

fn add_file(builder: &mut tar::Builder<Vec<u8>>, path: &str, body: &[u8]) {
    let mut header = file_header(body.len());
    builder
        .append_data(&mut header, path, body)
        .expect("append");
}

fn add_entry(builder: &mut tar::Builder<Vec<u8>>, path: &str, kind: EntryType, link: Option<&str>) {
    let mut header = file_header(0);
    header.set_entry_type(kind);
    if let Some(link) = link {
        header.set_link_name(link).expect("link name");
    }
    builder
        .append_data(&mut header, path, &[][..])
        .expect("append");
}

fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, body) in files {
        add_file(&mut builder, path, body);
    }
    builder.into_inner().expect("finish the tar")
}

/// Writes `value` as a NUL-terminated octal field.
fn octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let text = format!("{value:0digits$o}");
    field[..digits].copy_from_slice(text.as_bytes());
    field[digits] = 0;
}

/// A GNU sparse ('S') member: 512 bytes of data stored, mapped at offset
/// 4096 of an 8192-byte file.
fn sparse_tar() -> Vec<u8> {
    let mut header = Header::new_gnu();
    header.set_path("sparse.env").expect("path");
    header.set_mode(0o644);
    header.set_entry_type(EntryType::GNUSparse);
    header.set_size(512);
    let gnu = header.as_gnu_mut().expect("a gnu header");
    octal(&mut gnu.sparse[0].offset, 4096);
    octal(&mut gnu.sparse[0].numbytes, 512);
    octal(&mut gnu.realsize, 8192);
    header.set_cksum();
    let mut out = header.as_bytes().to_vec();
    let mut body = SECRET.as_bytes().to_vec();
    body.resize(512, b' ');
    out.extend(body);
    out.extend([0u8; 1024]);
    out
}

fn tar_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let mut seeds = vec![
        (
            "plain",
            tar_of(&[("app/.env", SECRET.as_bytes()), ("README", b"hello\n")]),
        ),
        ("sparse", sparse_tar()),
    ];
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = file_header(SECRET.len());
    header.set_entry_type(EntryType::Continuous);
    builder
        .append_data(&mut header, "contiguous.env", SECRET.as_bytes())
        .expect("append");
    let long = format!("{}/deep.env", "very-long-directory-name".repeat(8));
    add_file(&mut builder, &long, SECRET.as_bytes());
    add_entry(&mut builder, "dir/", EntryType::Directory, None);
    add_entry(
        &mut builder,
        "dir/link",
        EntryType::Symlink,
        Some("../app/.env"),
    );
    seeds.push(("contiguous-longname", builder.into_inner().expect("finish")));

    let mut builder = tar::Builder::new(Vec::new());
    builder
        .append_pax_extensions([("path", &b"pax/renamed.env"[..]), ("comment", b"x")])
        .expect("pax");
    add_file(&mut builder, "short.env", SECRET.as_bytes());
    seeds.push(("pax", builder.into_inner().expect("finish")));

    let inner = tar_of(&[("inner/.env", SECRET.as_bytes())]);
    seeds.push(("tar-in-tar", tar_of(&[("inner.tar", &inner)])));
    seeds.push(("gz-in-tar", tar_of(&[("inner.tar.gz", &gzip(&inner))])));
    seeds
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).expect("gzip");
    encoder.finish().expect("gzip")
}

fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 3).expect("zstd")
}

fn bzip2(data: &[u8]) -> Vec<u8> {
    let mut encoder = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
    encoder.write_all(data).expect("bzip2");
    encoder.finish().expect("bzip2")
}

fn compressed_seeds(tars: &[(&'static str, Vec<u8>)]) -> Vec<(&'static str, Vec<u8>)> {
    let plain = &tars[0].1;
    let mut two_members = gzip(&plain[..512]);
    two_members.extend(gzip(&plain[512..]));
    vec![
        ("tar.gz", gzip(plain)),
        ("tar.zst", zstd(plain)),
        ("tar.bz2", bzip2(plain)),
        ("multi-member.gz", two_members),
        ("text.gz", gzip(SECRET.as_bytes())),
        ("sparse.tar.zst", zstd(&tars[1].1)),
        ("gz-in-tar.gz", gzip(&tars[tars.len() - 1].1)),
        // A small bomb: 4 MiB of zeros, past the fuzz entry limit.
        ("zeros.gz", gzip(&vec![0u8; 4 << 20])),
    ]
}

fn layer_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let mut builder = tar::Builder::new(Vec::new());
    add_entry(&mut builder, "./app/", EntryType::Directory, None);
    add_file(&mut builder, "./app/.env", SECRET.as_bytes());
    add_file(&mut builder, "app/.wh.old.env", b"");
    add_file(&mut builder, "etc/.wh..wh..opq", b"");
    add_entry(&mut builder, "etc/hard", EntryType::Link, Some("app/.env"));
    add_entry(
        &mut builder,
        "etc/soft",
        EntryType::Symlink,
        Some("/app/.env"),
    );
    let long = format!("./{}/.env", "layer-dir".repeat(14));
    add_file(&mut builder, &long, SECRET.as_bytes());
    // An absolute name, which the tar builder refuses to write itself.
    let mut header = file_header(SECRET.len());
    header.as_old_mut().name[..9].copy_from_slice(b"/abs/.env");
    header.set_cksum();
    builder.append(&header, SECRET.as_bytes()).expect("append");
    add_file(
        &mut builder,
        "opt/bundle.tar.gz",
        &gzip(&tar_of(&[("config/.env", SECRET.as_bytes())])),
    );
    let layer = builder.into_inner().expect("finish");
    vec![
        ("layer.tar", layer.clone()),
        ("layer.tar.gz", gzip(&layer)),
        ("layer.tar.zst", zstd(&layer)),
    ]
}

fn zip_of(files: &[(&str, &[u8])], stored: bool) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let method = if stored {
        zip::CompressionMethod::Stored
    } else {
        zip::CompressionMethod::Deflated
    };
    let options = zip::write::SimpleFileOptions::default().compression_method(method);
    for (path, body) in files {
        zip.start_file(*path, options).expect("zip member");
        zip.write_all(body).expect("zip member");
    }
    zip.finish().expect("finish the zip").into_inner()
}

fn zip_seeds(tars: &[(&'static str, Vec<u8>)]) -> Vec<(&'static str, Vec<u8>)> {
    let inner = zip_of(
        &[("BOOT-INF/application.properties", SECRET.as_bytes())],
        false,
    );
    vec![
        (
            "stored.zip",
            zip_of(&[("a.env", SECRET.as_bytes()), ("dir/b.txt", b"b")], true),
        ),
        (
            "deflated.zip",
            zip_of(&[("a.env", SECRET.as_bytes())], false),
        ),
        (
            "nested.zip",
            zip_of(&[("lib/inner.jar", &inner), ("x", b"x")], true),
        ),
        (
            "nested-deflated.zip",
            zip_of(&[("lib/inner.jar", &inner)], false),
        ),
        (
            "tar-in-zip.zip",
            zip_of(&[("layer.tar", &tars[0].1)], false),
        ),
    ]
}

fn spec_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let digest = format!("sha256:{}", "ab".repeat(32));
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{digest}","size":100,"platform":{{"os":"linux","architecture":"arm64","variant":"v8"}},"annotations":{{"org.opencontainers.image.ref.name":"latest"}}}}]}}"#
    );
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{digest}","size":7}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{digest}","size":32}}]}}"#
    );
    let list = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[{{"digest":"{digest}","platform":{{"os":"linux","architecture":"amd64"}}}}]}}"#
    );
    let config = r#"{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/bin","AWS_ACCESS_KEY_ID=AKIAVPLTO5YUVYKDH5UY"],"Labels":{"maintainer":"x"},"Cmd":["sh"],"Entrypoint":["/init"]},"rootfs":{"type":"layers","diff_ids":["sha256:00"]},"history":[{"created_by":"ENV AWS_ACCESS_KEY_ID=AKIAVPLTO5YUVYKDH5UY","empty_layer":true},{"created_by":"RUN echo AKIAVPLTO5YUVYKDH5UY > /k"}]}"#;
    let save = r#"[{"Config":"abc.json","RepoTags":["app:latest"],"Layers":["l1/layer.tar","l2/layer.tar"]}]"#;
    vec![
        ("index.json", index.into_bytes()),
        ("manifest.json", manifest.into_bytes()),
        ("manifest-list.json", list.into_bytes()),
        ("config.json", config.as_bytes().to_vec()),
        ("docker-save-manifest.json", save.as_bytes().to_vec()),
        (
            "schema1.json",
            br#"{"schemaVersion":1,"fsLayers":[]}"#.to_vec(),
        ),
    ]
}

fn rules_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let rules = r#"
[[rules]]
id = "fuzz-token"
name = "Fuzz token"
description = "a token for the fuzzer"
keywords = ["fuzz_"]
regex = '''\b(fuzz_[A-Za-z0-9]{20})\b'''
min_entropy = 3.0
validator = "npm-checksum"
tags = ["test"]
examples = ['''t = fuzz_abcdefghij0123456789''']
counterexamples = ['''t = fuzz_short''']
allowlist = { regexes = ['''EXAMPLE'''], paths = ["**/testdata/**"], stopwords = ["dummy"] }
"#;
    let config = r#"
disable = ["aws-access-key-id"]

[allowlist]
paths = ["vendor/**", "*.lock"]
regexes = ['''AKIA[A-Z0-9]{16}EXAMPLE''']
stopwords = ["Placeholder"]

[[rules]]
id = "internal-key"
name = "Internal key"
description = "an in-house key"
keywords = ["ik-"]
regex = '''(ik-[0-9a-f]{32})'''
"#;
    vec![
        ("rules.toml", rules.as_bytes().to_vec()),
        ("strata.toml", config.as_bytes().to_vec()),
    ]
}

/// Raw bytes for `arbitrary`: any bytes parse, these just start somewhere.
fn keyword_seeds() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("tokens", b"\x05token\x04akia\x03sk_\x00\x01\x02\x03aws_access_key_id = AKIAVPLTO5YUVYKDH5UY TOKEN=x".to_vec()),
        ("short", b"\x03key\x03pat\x00abc KEY Pat pAT".to_vec()),
    ]
}

fn fate_seeds() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("stack-a", (0u8..64).collect()),
        ("stack-b", (0u8..128).map(|b| b.wrapping_mul(37)).collect()),
    ]
}
