//! The result cache: what scanning a layer (or an image config) produced,
//! stored by digest so that no layer is pulled twice — across images,
//! runs, and the processes of a sharded run sharing one directory.
//!
//! A result depends on the layer's bytes and on everything that changes
//! what the scan reports: the strata version, the ruleset fingerprint, the
//! matcher options, the limits and how fingerprints are keyed. All of that
//! is hashed into a *profile*, and each profile has its own directory:
//!
//! ```text
//! CACHE/v1/<profile>/profile.txt                 what the profile hash covers
//! CACHE/v1/<profile>/layers/sha256/<hex>.json.zst
//! CACHE/v1/<profile>/configs/sha256/<hex>.json.zst   keyed by manifest digest
//! ```
//!
//! Records hold sealed matches (fingerprint and redacted preview, never the
//! secret), paths, offsets and the layer's path events (for layer fate).
//! Each is written to a temporary file in the same directory and renamed
//! into place, so readers never see half a record and several processes
//! can fill one directory at once; a killed run leaves at most a stray
//! temporary file, which a later run sweeps. Failed scans are not cached.

use std::{
    fs,
    io::{self, Write},
    path::{Path, PathBuf},
    time::{Duration, SystemTime},
};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use strata_report::SealedMatch;
use strata_sources::image::{fate::LayerEvents, spec::History};

const LAYOUT_VERSION: &str = "v1";
const TEMP_PREFIX: &str = ".tmp-";
/// Temporary files older than this are left over from a killed run.
const STALE_TEMP: Duration = Duration::from_secs(3600);
/// Records larger than this (decompressed) are refused as corrupt.
const MAX_RECORD: u64 = 1 << 30;

/// A cache error, naming the file.
#[derive(Debug, thiserror::Error)]
#[error("cache {path}: {message}")]
pub struct CacheError {
    pub path: String,
    pub message: String,
}

/// A skipped file inside a layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedFile {
    pub path: String,
    pub reason: String,
}

/// The result of scanning one layer, independent of any image.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LayerRecord {
    pub digest: String,
    /// Bytes of the compressed blob.
    pub blob_bytes: u64,
    /// Files scanned and their uncompressed bytes.
    pub files: u64,
    pub bytes: u64,
    pub events: LayerEvents,
    pub matches: Vec<SealedMatch>,
    pub skipped: Vec<SkippedFile>,
}

/// The result of scanning one image config, keyed by manifest digest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConfigRecord {
    pub manifest_digest: String,
    pub config_digest: String,
    pub diff_ids: Vec<String>,
    /// Build steps, with every secret found in the config and in the
    /// image's layers masked (a config is cached once its layers' results
    /// are known; a shard masks with the layer results it can see).
    pub history: Vec<History>,
    pub matches: Vec<SealedMatch>,
}

/// What a cache profile covers. Every field changes what a scan reports.
#[derive(Debug, Clone)]
pub struct Profile {
    pub strata_version: String,
    pub ruleset_fingerprint: String,
    /// Matcher options, limits and the fingerprint mode, as text.
    pub options: String,
}

impl Profile {
    fn text(&self) -> String {
        format!(
            "strata {}\nruleset {}\n{}\n",
            self.strata_version, self.ruleset_fingerprint, self.options
        )
    }

    /// The profile's directory name.
    pub fn id(&self) -> String {
        hex::encode(&Sha256::digest(self.text().as_bytes())[..12])
    }
}

/// A result cache directory for one profile.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

/// `algo:hex` with a known algorithm and only hex digits: digests come from
/// the registry and must not steer a path out of the cache.
fn digest_path(digest: &str) -> Option<PathBuf> {
    let (algo, hex) = digest.split_once(':')?;
    let algo_ok = matches!(algo, "sha256" | "sha384" | "sha512");
    let hex_ok = (32..=128).contains(&hex.len())
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    (algo_ok && hex_ok).then(|| PathBuf::from(algo).join(format!("{hex}.json.zst")))
}

impl Cache {
    /// Opens (creating) the profile's directory under `root`, and removes
    /// temporary files a killed run left behind.
    pub fn open(root: &Path, profile: &Profile) -> Result<Cache, CacheError> {
        let dir = root.join(LAYOUT_VERSION).join(profile.id());
        let err = |path: &Path, e: io::Error| CacheError {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        for sub in ["layers", "configs"] {
            fs::create_dir_all(dir.join(sub)).map_err(|e| err(&dir.join(sub), e))?;
        }
        let description = dir.join("profile.txt");
        if !description.exists() {
            write_atomically(&description, profile.text().as_bytes())
                .map_err(|e| err(&description, e))?;
        }
        let cache = Cache { dir };
        cache.sweep_stale_temporaries();
        Ok(cache)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn record_path(&self, kind: &str, digest: &str) -> Result<PathBuf, CacheError> {
        digest_path(digest)
            .map(|p| self.dir.join(kind).join(p))
            .ok_or_else(|| CacheError {
                path: format!("{}/{kind}", self.dir.display()),
                message: format!("{digest:?} is not a digest the cache can store"),
            })
    }

    /// Whether a layer's record exists (without reading it).
    pub fn has_layer(&self, digest: &str) -> bool {
        self.record_path("layers", digest)
            .map(|p| p.is_file())
            .unwrap_or(false)
    }

    pub fn get_layer(&self, digest: &str) -> Result<Option<LayerRecord>, CacheError> {
        let record: Option<LayerRecord> = self.get("layers", digest)?;
        Ok(record.filter(|r| r.digest == digest))
    }

    pub fn put_layer(&self, record: &LayerRecord) -> Result<(), CacheError> {
        self.put("layers", &record.digest, record)
    }

    /// Removes a layer's record (an unreadable one, so the next run rescans).
    pub fn remove_layer(&self, digest: &str) -> Result<(), CacheError> {
        let path = self.record_path("layers", digest)?;
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(CacheError {
                path: path.display().to_string(),
                message: e.to_string(),
            }),
        }
    }

    pub fn get_config(&self, manifest_digest: &str) -> Result<Option<ConfigRecord>, CacheError> {
        let record: Option<ConfigRecord> = self.get("configs", manifest_digest)?;
        Ok(record.filter(|r| r.manifest_digest == manifest_digest))
    }

    pub fn put_config(&self, record: &ConfigRecord) -> Result<(), CacheError> {
        self.put("configs", &record.manifest_digest, record)
    }

    /// Reads a record; a missing file is `None`, a corrupt one an error
    /// (the caller rescans and overwrites it).
    fn get<T: for<'de> Deserialize<'de>>(
        &self,
        kind: &str,
        digest: &str,
    ) -> Result<Option<T>, CacheError> {
        let path = self.record_path(kind, digest)?;
        let file = match fs::File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(CacheError {
                    path: path.display().to_string(),
                    message: e.to_string(),
                })
            }
        };
        let corrupt = |message: String| CacheError {
            path: path.display().to_string(),
            message: format!("unreadable record ({message})"),
        };
        let decoder = zstd::stream::read::Decoder::new(file).map_err(|e| corrupt(e.to_string()))?;
        let limited = io::Read::take(decoder, MAX_RECORD);
        serde_json::from_reader(io::BufReader::new(limited))
            .map(Some)
            .map_err(|e| corrupt(e.to_string()))
    }

    fn put<T: Serialize>(&self, kind: &str, digest: &str, record: &T) -> Result<(), CacheError> {
        let path = self.record_path(kind, digest)?;
        let err = |e: io::Error| CacheError {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        let json = serde_json::to_vec(record).map_err(|e| err(e.into()))?;
        let compressed = zstd::bulk::compress(&json, 3).map_err(err)?;
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(err)?;
        }
        write_atomically(&path, &compressed).map_err(err)
    }

    fn sweep_stale_temporaries(&self) {
        let now = SystemTime::now();
        let mut dirs = vec![self.dir.clone()];
        while let Some(dir) = dirs.pop() {
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                let Ok(meta) = entry.metadata() else { continue };
                if meta.is_dir() {
                    dirs.push(path);
                } else if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                    let old = meta
                        .modified()
                        .ok()
                        .and_then(|m| now.duration_since(m).ok())
                        .is_some_and(|age| age > STALE_TEMP);
                    if old {
                        let _ = fs::remove_file(path);
                    }
                }
            }
        }
    }
}

/// Writes `bytes` to a temporary file next to `path`, flushes it to disk,
/// and renames it over `path`: readers see the old file or the new one.
fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut temp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempfile_in(dir)?;
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// The platform cache directory: `$XDG_CACHE_HOME/strata`, else
/// `~/.cache/strata` (`~/Library/Caches/strata` on macOS,
/// `%LOCALAPPDATA%\strata` on Windows).
pub fn default_cache_root() -> Option<PathBuf> {
    if cfg!(windows) {
        return std::env::var_os("LOCALAPPDATA").map(|d| PathBuf::from(d).join("strata"));
    }
    if !cfg!(target_os = "macos") {
        if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
            return Some(PathBuf::from(dir).join("strata"));
        }
    }
    let home = PathBuf::from(std::env::var_os("HOME")?);
    Some(if cfg!(target_os = "macos") {
        home.join("Library/Caches/strata")
    } else {
        home.join(".cache/strata")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(version: &str) -> Profile {
        Profile {
            strata_version: version.into(),
            ruleset_fingerprint: "abc".into(),
            options: "opts".into(),
        }
    }

    fn record(digest: &str) -> LayerRecord {
        LayerRecord {
            digest: digest.into(),
            blob_bytes: 10,
            files: 1,
            bytes: 20,
            events: LayerEvents::default(),
            matches: vec![SealedMatch {
                rule_id: "r".into(),
                rule_name: "R".into(),
                path: "/app/.env".into(),
                line: 1,
                column: 2,
                end_line: 1,
                offset: 1,
                secret_len: 40,
                secret: "ghp_*****".into(),
                fingerprint: "f".repeat(64),
                entropy: 4.2,
                validation: "none".into(),
                inline_allow: false,
                config_field: None,
                pair: None,
                severity: Default::default(),
                confidence: Default::default(),
            }],
            skipped: vec![],
        }
    }

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn round_trip_and_profiles_are_separate() {
        let root = tempfile::tempdir().unwrap();
        let cache = Cache::open(root.path(), &profile("1")).unwrap();
        assert!(!cache.has_layer(D));
        assert!(cache.get_layer(D).unwrap().is_none());
        cache.put_layer(&record(D)).unwrap();
        assert!(cache.has_layer(D));
        let back = cache.get_layer(D).unwrap().unwrap();
        assert_eq!(back.matches, record(D).matches);
        let other = Cache::open(root.path(), &profile("2")).unwrap();
        assert!(!other.has_layer(D), "another version must not see it");
    }

    #[test]
    fn hostile_digests_never_become_paths() {
        let root = tempfile::tempdir().unwrap();
        let cache = Cache::open(root.path(), &profile("1")).unwrap();
        for bad in [
            "sha256:../../etc/passwd",
            "md5:0123456789abcdef0123456789abcdef",
            "sha256:ABC",
            "x",
        ] {
            assert!(cache.put_layer(&record(bad)).is_err(), "{bad}");
            assert!(!cache.has_layer(bad));
        }
    }

    #[test]
    fn corrupt_records_are_errors_and_are_overwritten() {
        let root = tempfile::tempdir().unwrap();
        let cache = Cache::open(root.path(), &profile("1")).unwrap();
        let path = cache.record_path("layers", D).unwrap();
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, b"not zstd").unwrap();
        let err = cache.get_layer(D).unwrap_err();
        assert!(err.to_string().contains("unreadable record"), "{err}");
        cache.put_layer(&record(D)).unwrap();
        assert!(cache.get_layer(D).unwrap().is_some());
        cache.remove_layer(D).unwrap();
        assert!(!cache.has_layer(D));
        cache.remove_layer(D).unwrap();
    }

    #[test]
    fn records_are_zstd_json_and_no_temporaries_remain() {
        let root = tempfile::tempdir().unwrap();
        let cache = Cache::open(root.path(), &profile("1")).unwrap();
        cache.put_layer(&record(D)).unwrap();
        let path = cache.record_path("layers", D).unwrap();
        let json = zstd::decode_all(fs::File::open(&path).unwrap()).unwrap();
        let text = String::from_utf8(json).unwrap();
        let back: LayerRecord = serde_json::from_str(&text).unwrap();
        assert_eq!(back.matches[0].secret, "ghp_*****");
        let leftovers: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(TEMP_PREFIX))
            .collect();
        assert!(leftovers.is_empty());
    }
}
