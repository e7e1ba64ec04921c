//! Shared helpers for the end-to-end tests: a temporary tree built by code,
//! a way to run the `strata` binary on it and read its JSON, and generators
//! for fake credentials of the right shape (valid checksums included).

#![allow(dead_code)]

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use serde_json::Value;

/// A temporary directory tree written by a test.
pub struct Tree {
    dir: tempfile::TempDir,
}

impl Tree {
    pub fn new() -> Tree {
        Tree {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `contents` to `relative`, creating parent directories.
    pub fn write(&self, relative: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, contents).unwrap();
        path
    }
}

/// What one run of the binary gave back.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Stdout parsed as JSON (panics with the output on failure).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// The findings array of a JSON report.
    pub fn findings(&self) -> Vec<Value> {
        self.json()["findings"]
            .as_array()
            .expect("findings array")
            .clone()
    }
}

/// Runs `strata ARGS` in `cwd` with `stdin` fed to it.
pub fn strata_in(cwd: &Path, args: &[&str], stdin: Option<&[u8]>) -> Run {
    strata_in_env(cwd, args, stdin, &[])
}

/// Like [`strata_in`], with extra environment variables set.
pub fn strata_in_env(
    cwd: &Path,
    args: &[&str],
    stdin: Option<&[u8]>,
    envs: &[(&str, &Path)],
) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(args)
        .current_dir(cwd)
        .env_remove("STRATA_FINGERPRINT_KEY")
        .env("NO_COLOR", "1")
        .envs(envs.iter().copied())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run strata");
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `strata scan . --format json ARGS` inside `tree`.
pub fn scan_json(tree: &Tree, extra: &[&str]) -> Run {
    let mut args = vec!["scan", ".", "--format", "json"];
    args.extend_from_slice(extra);
    strata_in(tree.path(), &args, None)
}

/// (path, rule_id, line) of every finding, sorted.
pub fn summary_of(findings: &[Value]) -> Vec<(String, String, u64)> {
    let mut out: Vec<_> = findings
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["rule_id"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

/// A small deterministic PRNG, so fixtures are the same on every run.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// `len` characters drawn from `alphabet`.
    pub fn string(&mut self, alphabet: &[u8], len: usize) -> String {
        (0..len)
            .map(|_| alphabet[(self.next() % alphabet.len() as u64) as usize] as char)
            .collect()
    }
}

pub const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A GitHub classic PAT with a valid CRC32 checksum, distinct per seed.
pub fn github_token(seed: u64) -> String {
    let random = Rng::new(seed).string(BASE62, 30);
    let check = strata_rules::validators::base62_six(crc32(random.as_bytes()));
    format!("ghp_{random}{}", std::str::from_utf8(&check).unwrap())
}

/// The same token with its checksum broken.
pub fn github_token_bad_checksum(seed: u64) -> String {
    let mut token = github_token(seed).into_bytes();
    let last = token.len() - 1;
    token[last] = if token[last] == b'A' { b'B' } else { b'A' };
    String::from_utf8(token).unwrap()
}

/// A 40-character AWS secret access key of the right shape: the rule needs
/// an `aws_secret_access_key =` before it, so the bare value is no finding.
pub fn aws_secret_key(seed: u64) -> String {
    Rng::new(seed).string(
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+",
        40,
    )
}

/// An AWS access key id of the right shape (not the documentation one).
pub fn aws_key_id(seed: u64) -> String {
    format!(
        "AKIA{}",
        Rng::new(seed).string(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
    )
}

/// CRC-32 (ISO-HDLC), bit by bit: independent of the code under test.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A zip archive holding `files`.
pub fn zip_bytes(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut cursor = std::io::Cursor::new(Vec::new());
    {
        let mut writer = zip::ZipWriter::new(&mut cursor);
        let options: zip::write::SimpleFileOptions = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, data) in files {
            writer.start_file(*name, options).unwrap();
            writer.write_all(data).unwrap();
        }
        writer.finish().unwrap();
    }
    cursor.into_inner()
}

/// An uncompressed tar holding `files`.
pub fn tar_bytes(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, name, *data).unwrap();
    }
    builder.into_inner().unwrap()
}

/// `data` gzip-compressed.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

pub mod findings;
pub mod image;
pub mod registry;
