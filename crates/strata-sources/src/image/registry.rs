//! Registries, through oci-client. Manifests and configs are small and read
//! whole (and their digests checked); layers are streamed: a blob's HTTP
//! body is read chunk by chunk by the layer scanner's decoding thread, so a
//! layer is never held in memory (oci-client's `pull()` would buffer it).
//!
//! HTTPS is the default; plain HTTP only for localhost, 127.0.0.1 and [::1]
//! and for hosts named with `--insecure-registry`. Transient failures (429,
//! 5xx, dropped connections) are retried with backoff.

use std::{
    collections::HashMap,
    io::{self, Read},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use futures_util::StreamExt;
use oci_client::{
    client::{ClientConfig, ClientProtocol},
    secrets::RegistryAuth,
    Client, Reference,
};

use super::{
    credentials::{Credential, CredentialStore},
    digest::sha256_of,
    listing::Lister,
    platform::{choose, Platform},
    resolve::{image_from_manifest, ResolvedImage, MAX_DOCUMENT},
    spec::{
        Manifest, ManifestOrIndex, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST,
    },
    store::BlobSource,
    RegistryResolver,
};

const ACCEPTED: &[&str] = &[
    OCI_INDEX,
    OCI_MANIFEST,
    DOCKER_MANIFEST_LIST,
    DOCKER_MANIFEST,
];
const ATTEMPTS: u32 = 4;

/// How to reach registries.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// Hosts (`host[:port]`) to reach over plain HTTP.
    pub insecure: Vec<String>,
    /// Explicit credentials for every registry (`--username`/`--password-stdin`).
    pub credential: Option<Credential>,
}

/// A registry client shared by every image of a run.
pub struct RegistryClient {
    runtime: tokio::runtime::Runtime,
    options: RegistryOptions,
    credentials: CredentialStore,
    clients: Mutex<HashMap<String, Arc<Client>>>,
    /// Blob GET requests sent (every attempt, configs and layers).
    blob_gets: Arc<AtomicU64>,
}

/// One platform's manifest of a tag, as found in the registry.
#[derive(Debug, Clone)]
pub struct TaggedManifest {
    /// `host/repository:tag`.
    pub reference: String,
    pub digest: String,
    /// `os/arch[/variant]` when the tag is an index, else None.
    pub platform: Option<String>,
    pub manifest: Manifest,
}

fn is_loopback(host: &str) -> bool {
    let name = host.rsplit_once(':').map_or(host, |(name, port)| {
        if port.chars().all(|c| c.is_ascii_digit()) {
            name
        } else {
            host
        }
    });
    matches!(name, "localhost" | "127.0.0.1" | "[::1]" | "::1")
}

/// True for failures worth retrying: rate limits, server errors, resets.
fn is_transient(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "429",
        "500",
        "502",
        "503",
        "504",
        "too many requests",
        "connection reset",
        "connection closed",
        "timed out",
        "broken pipe",
    ]
    .iter()
    .any(|needle| m.contains(needle))
}

impl RegistryClient {
    pub fn new(
        options: RegistryOptions,
        credentials: CredentialStore,
    ) -> Result<RegistryClient, String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| format!("starting the network runtime: {e}"))?;
        Ok(RegistryClient {
            runtime,
            options,
            credentials,
            clients: Mutex::new(HashMap::new()),
            blob_gets: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Parses an image reference and finds the client and credentials for
    /// its registry.
    fn connect(&self, text: &str) -> Result<(Reference, Arc<Client>, RegistryAuth), String> {
        let reference: Reference = text
            .parse()
            .map_err(|e| format!("{text}: not an image reference: {e}"))?;
        let registry = reference.resolve_registry().to_string();
        let client = self.client_for(&registry);
        let auth = self.auth_for(&registry)?;
        Ok((reference, client, auth))
    }

    /// Blob GET requests sent so far (every attempt).
    pub fn blob_gets(&self) -> u64 {
        self.blob_gets.load(Ordering::Relaxed)
    }

    fn plain_http(&self, registry: &str) -> bool {
        is_loopback(registry) || self.options.insecure.iter().any(|h| h == registry)
    }

    /// A lister of repositories and tags for `registry` (`host[:port]`).
    pub fn lister(&self, registry: &str, page_size: usize) -> Result<Lister, String> {
        let credential = match &self.options.credential {
            Some(credential) => credential.clone(),
            None => self.credentials.lookup(registry)?,
        };
        // Building a reqwest client wants a runtime context.
        let _guard = self.runtime.enter();
        Lister::new(registry, self.plain_http(registry), credential, page_size)
    }

    /// Every repository of the registry `lister` lists.
    pub fn repositories(&self, lister: &Lister) -> Result<Vec<String>, String> {
        self.runtime.block_on(lister.repositories())
    }

    /// Every tag of `repository`.
    pub fn tags(&self, lister: &Lister, repository: &str) -> Result<Vec<String>, String> {
        self.runtime.block_on(lister.tags(repository))
    }

    /// The manifests a tag stands for: the manifest itself, or for an index
    /// every platform's manifest (attestations left out), or only
    /// `platform`'s when one is given.
    pub fn tagged_manifests(
        &self,
        text: &str,
        platform: Option<&Platform>,
    ) -> Result<Vec<TaggedManifest>, String> {
        let (reference, client, auth) = self.connect(text)?;
        let (bytes, digest) = self.pull_document(&client, &reference, &auth)?;
        let parse =
            |bytes: &[u8]| ManifestOrIndex::parse(bytes).map_err(|e| format!("{text}: {e}"));
        match parse(&bytes)? {
            ManifestOrIndex::Manifest(manifest) => Ok(vec![TaggedManifest {
                reference: text.to_string(),
                digest,
                platform: None,
                manifest,
            }]),
            ManifestOrIndex::Index(index) => {
                let chosen: Vec<_> = match platform {
                    Some(platform) => vec![choose(&index.manifests, platform)?.clone()],
                    None => index
                        .manifests
                        .iter()
                        .filter(|d| d.platform.as_ref().is_none_or(|p| p.os != "unknown"))
                        .cloned()
                        .collect(),
                };
                let mut out = Vec::new();
                for descriptor in chosen {
                    let by_digest = reference.clone_with_digest(descriptor.digest.clone());
                    let (bytes, digest) = self.pull_document(&client, &by_digest, &auth)?;
                    let ManifestOrIndex::Manifest(manifest) = parse(&bytes)? else {
                        return Err(format!(
                            "{text}: index entry {} is itself an index; nested indexes are not followed",
                            descriptor.digest
                        ));
                    };
                    out.push(TaggedManifest {
                        reference: text.to_string(),
                        digest,
                        platform: descriptor.platform.as_ref().map(|p| match &p.variant {
                            Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
                            None => format!("{}/{}", p.os, p.architecture),
                        }),
                        manifest,
                    });
                }
                Ok(out)
            }
        }
    }

    /// The blobs of the repository `text` names, streamed.
    pub fn blob_source(&self, text: &str) -> Result<Arc<dyn BlobSource>, String> {
        let (reference, client, auth) = self.connect(text)?;
        // Blob requests authenticate with the client's stored auth.
        self.runtime
            .block_on(client.store_auth_if_needed(reference.resolve_registry(), &auth));
        Ok(Arc::new(RegistryBlobs {
            client,
            reference,
            handle: self.runtime.handle().clone(),
            gets: self.blob_gets.clone(),
        }))
    }

    /// Reads the config of `manifest` (pulled from `text`'s repository) and
    /// returns the image ready to scan.
    pub fn image_from_tagged(&self, tagged: &TaggedManifest) -> Result<ResolvedImage, String> {
        let source = self.blob_source(&tagged.reference)?;
        image_from_manifest(
            &tagged.reference,
            tagged.digest.clone(),
            &tagged.manifest,
            source,
        )
        .map_err(|e| format!("{} ({}): {e}", tagged.reference, tagged.digest))
    }

    fn client_for(&self, registry: &str) -> Arc<Client> {
        let mut clients = self.clients.lock().unwrap();
        clients
            .entry(registry.to_string())
            .or_insert_with(|| {
                let plain = self.plain_http(registry);
                let protocol = if plain {
                    ClientProtocol::HttpsExcept(vec![registry.to_string()])
                } else {
                    ClientProtocol::Https
                };
                Arc::new(Client::new(ClientConfig {
                    protocol,
                    read_timeout: Some(Duration::from_secs(60)),
                    connect_timeout: Some(Duration::from_secs(15)),
                    ..Default::default()
                }))
            })
            .clone()
    }

    fn auth_for(&self, registry: &str) -> Result<RegistryAuth, String> {
        let credential = match &self.options.credential {
            Some(credential) => credential.clone(),
            None => self.credentials.lookup(registry)?,
        };
        Ok(match credential {
            Credential::Anonymous => RegistryAuth::Anonymous,
            Credential::Basic { username, password } => RegistryAuth::Basic(username, password),
        })
    }

    /// Runs `op` with retries on transient failures, backing off 0.5, 1, 2 s.
    fn retry<T, F, Fut>(&self, what: &str, op: F) -> Result<T, String>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, oci_client::errors::OciDistributionError>>,
    {
        let mut delay = Duration::from_millis(500);
        for attempt in 1..=ATTEMPTS {
            match self.runtime.block_on(op()) {
                Ok(value) => return Ok(value),
                Err(e) => {
                    let message = e.to_string();
                    if attempt == ATTEMPTS || !is_transient(&message) {
                        return Err(format!("{what}: {message}"));
                    }
                    std::thread::sleep(delay);
                    delay *= 2;
                }
            }
        }
        unreachable!("the loop returns on its last attempt")
    }

    fn pull_document(
        &self,
        client: &Client,
        reference: &Reference,
        auth: &RegistryAuth,
    ) -> Result<(Vec<u8>, String), String> {
        let (bytes, digest) = self
            .retry(&format!("pulling manifest {}", reference.whole()), || {
                client.pull_manifest_raw(reference, auth, ACCEPTED)
            })?;
        let actual = sha256_of(&bytes);
        let expected = reference.digest().map(str::to_string).unwrap_or(digest);
        if actual != expected {
            return Err(format!(
                "digest mismatch for manifest {}: expected {expected}, content hashes to {actual}",
                reference.whole()
            ));
        }
        if bytes.len() as u64 > MAX_DOCUMENT {
            return Err(format!(
                "manifest {} is larger than {MAX_DOCUMENT} bytes",
                reference.whole()
            ));
        }
        Ok((bytes.to_vec(), actual))
    }
}

impl RegistryResolver for RegistryClient {
    fn resolve(&self, text: &str, platform: &Platform) -> Result<ResolvedImage, String> {
        let (reference, client, auth) = self.connect(text)?;
        let (mut bytes, mut digest) = self.pull_document(&client, &reference, &auth)?;
        for _ in 0..4 {
            match ManifestOrIndex::parse(&bytes)
                .map_err(|e| format!("{}: {e}", reference.whole()))?
            {
                ManifestOrIndex::Index(index) => {
                    let chosen = choose(&index.manifests, platform)?.digest.clone();
                    let by_digest = reference.clone_with_digest(chosen);
                    (bytes, digest) = self.pull_document(&client, &by_digest, &auth)?;
                }
                ManifestOrIndex::Manifest(manifest) => {
                    let blobs = RegistryBlobs {
                        client: client.clone(),
                        reference: reference.clone(),
                        handle: self.runtime.handle().clone(),
                        gets: self.blob_gets.clone(),
                    };
                    return image_from_manifest(text, digest, &manifest, Arc::new(blobs));
                }
            }
        }
        Err(format!("{text}: image index nested too deeply"))
    }
}

/// Blobs of one repository, streamed over HTTP.
struct RegistryBlobs {
    client: Arc<Client>,
    reference: Reference,
    handle: tokio::runtime::Handle,
    gets: Arc<AtomicU64>,
}

impl BlobSource for RegistryBlobs {
    fn open(&self, digest: &str) -> io::Result<Box<dyn Read + Send + '_>> {
        let mut delay = Duration::from_millis(500);
        let mut attempt = 1;
        let stream = loop {
            self.gets.fetch_add(1, Ordering::Relaxed);
            match self
                .handle
                .block_on(self.client.pull_blob_stream(&self.reference, digest))
            {
                Ok(stream) => break stream,
                Err(e) => {
                    let message = e.to_string();
                    if attempt == ATTEMPTS || !is_transient(&message) {
                        let kind = if message.contains("404")
                            || message.to_ascii_lowercase().contains("not found")
                        {
                            io::ErrorKind::NotFound
                        } else {
                            io::ErrorKind::Other
                        };
                        let prefix = if kind == io::ErrorKind::NotFound {
                            "missing blob"
                        } else {
                            "pulling blob"
                        };
                        return Err(io::Error::new(
                            kind,
                            format!("{prefix} {digest}: {message}"),
                        ));
                    }
                    std::thread::sleep(delay);
                    delay *= 2;
                    attempt += 1;
                }
            }
        };
        Ok(Box::new(StreamReader {
            handle: self.handle.clone(),
            stream: stream.stream,
            current: bytes_empty(),
            ended: false,
        }))
    }
}

fn bytes_empty() -> bytes::Bytes {
    bytes::Bytes::new()
}

/// Blocking `Read` over an HTTP body stream.
struct StreamReader {
    handle: tokio::runtime::Handle,
    stream: futures_util::stream::BoxStream<'static, Result<bytes::Bytes, io::Error>>,
    current: bytes::Bytes,
    /// The stream has ended. It must not be polled again: oci-client's
    /// verifying stream re-checks its (reset) digest on every poll after
    /// the end, so a second poll reports the hash of nothing as a mismatch.
    ended: bool,
}

impl Read for StreamReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            if self.ended {
                return Ok(0);
            }
            match self.handle.block_on(self.stream.next()) {
                Some(Ok(chunk)) => self.current = chunk,
                Some(Err(e)) => {
                    self.ended = true;
                    return Err(e);
                }
                None => {
                    self.ended = true;
                    return Ok(0);
                }
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        let _ = self.current.split_to(n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_and_transient_errors() {
        assert!(
            is_loopback("127.0.0.1:5000") && is_loopback("localhost") && is_loopback("[::1]:443")
        );
        assert!(!is_loopback("registry.example.com:5000") && !is_loopback("10.0.0.1"));
        assert!(is_transient(
            "server responded with 503 Service Unavailable"
        ));
        assert!(!is_transient("401 Unauthorized"));
    }
}
