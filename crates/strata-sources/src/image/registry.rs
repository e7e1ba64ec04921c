//! Registries, through oci-client. Manifests and configs are small and read
//! whole (and their digests checked); layers are streamed: a blob's HTTP
//! body is read chunk by chunk by the layer scanner's decoding thread, so a
//! layer is never held in memory (oci-client's `pull()` would buffer it).
//!
//! HTTPS is the default; plain HTTP only for localhost, 127.0.0.1 and [::1]
//! and for hosts named with `--insecure-registry`. Transient failures (429,
//! 5xx, dropped connections) are retried with backoff, waiting as long as a
//! `Retry-After` header asks. oci-client does the authentication (token
//! flow, basic auth); manifest and blob GETs themselves are sent here with
//! the same reqwest, because oci-client does not show response headers.

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
    Client, Reference, RegistryOperation,
};
use reqwest::{header, StatusCode};

use super::{
    credentials::{Credential, CredentialStore},
    digest::sha256_of,
    listing::{retry_after, Backoff, Lister},
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
    /// Plain HTTP clients for manifest and blob GETs, one per host.
    http: Mutex<HashMap<String, reqwest::Client>>,
    /// Authorization per `host/repository`, shared by its manifests and blobs.
    authorizers: Mutex<HashMap<String, Arc<Authorizer>>>,
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
            http: Mutex::new(HashMap::new()),
            authorizers: Mutex::new(HashMap::new()),
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

    /// `scheme://host/v2/<repository>/<rest>`.
    fn url(&self, reference: &Reference, rest: &str) -> String {
        let registry = reference.resolve_registry();
        let scheme = if self.plain_http(registry) {
            "http"
        } else {
            "https"
        };
        format!("{scheme}://{registry}/v2/{}/{rest}", reference.repository())
    }

    fn authorizer(
        &self,
        client: &Arc<Client>,
        reference: &Reference,
        auth: &RegistryAuth,
    ) -> Arc<Authorizer> {
        let key = format!(
            "{}/{}",
            reference.resolve_registry(),
            reference.repository()
        );
        self.authorizers
            .lock()
            .unwrap()
            .entry(key)
            .or_insert_with(|| {
                Arc::new(Authorizer::new(
                    client.clone(),
                    reference.clone(),
                    auth.clone(),
                ))
            })
            .clone()
    }

    fn http_for(&self, registry: &str) -> Result<reqwest::Client, String> {
        let mut clients = self.http.lock().unwrap();
        if let Some(client) = clients.get(registry) {
            return Ok(client.clone());
        }
        let _guard = self.runtime.enter();
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(15))
            .read_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| format!("{registry}: building the HTTP client: {e}"))?;
        clients.insert(registry.to_string(), client.clone());
        Ok(client)
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
        Ok(Arc::new(self.blobs(&client, &reference, &auth)?))
    }

    fn blobs(
        &self,
        client: &Arc<Client>,
        reference: &Reference,
        auth: &RegistryAuth,
    ) -> Result<RegistryBlobs, String> {
        Ok(RegistryBlobs {
            http: self.http_for(reference.resolve_registry())?,
            base_url: self.url(reference, "blobs/"),
            authorizer: self.authorizer(client, reference, auth),
            handle: self.runtime.handle().clone(),
            gets: self.blob_gets.clone(),
        })
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

    fn pull_document(
        &self,
        client: &Arc<Client>,
        reference: &Reference,
        auth: &RegistryAuth,
    ) -> Result<(Vec<u8>, String), String> {
        let target = reference
            .digest()
            .or(reference.tag())
            .unwrap_or("latest")
            .to_string();
        let what = format!("pulling manifest {}", reference.whole());
        let authorizer = self.authorizer(client, reference, auth);
        let url = self.url(reference, &format!("manifests/{target}"));
        let http = self.http_for(reference.resolve_registry())?;
        let (bytes, header_digest) = self
            .runtime
            .block_on(async {
                let response =
                    get_with_retries(&http, &url, Some(&ACCEPTED.join(", ")), &authorizer, None)
                        .await?;
                let header_digest = response
                    .headers()
                    .get("docker-content-digest")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                let bytes = response
                    .bytes()
                    .await
                    .map_err(|e| HttpError::other(format!("reading the response: {e}")))?;
                Ok::<_, HttpError>((bytes, header_digest))
            })
            .map_err(|e| format!("{what}: {}", e.message))?;
        let actual = sha256_of(&bytes);
        let expected = reference
            .digest()
            .map(str::to_string)
            .or(header_digest)
            .unwrap_or_else(|| actual.clone());
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
                    let blobs = self.blobs(&client, &reference, &auth)?;
                    return image_from_manifest(text, digest, &manifest, Arc::new(blobs));
                }
            }
        }
        Err(format!("{text}: image index nested too deeply"))
    }
}

/// How requests to one repository are authorized: oci-client runs the
/// distribution token flow (or settles on basic auth), and the result is
/// kept until the registry refuses it.
struct Authorizer {
    client: Arc<Client>,
    reference: Reference,
    auth: RegistryAuth,
    current: tokio::sync::Mutex<Option<Authorization>>,
}

#[derive(Clone)]
enum Authorization {
    None,
    Bearer(String),
    Basic(String, String),
}

impl Authorizer {
    fn new(client: Arc<Client>, reference: Reference, auth: RegistryAuth) -> Authorizer {
        Authorizer {
            client,
            reference,
            auth,
            current: tokio::sync::Mutex::new(None),
        }
    }

    /// The authorization to send; `refresh` asks for a new one (after a 401).
    async fn get(&self, refresh: bool) -> Result<Authorization, HttpError> {
        let mut current = self.current.lock().await;
        if let (Some(authorization), false) = (current.as_ref(), refresh) {
            return Ok(authorization.clone());
        }
        let token = self
            .client
            .auth(&self.reference, &self.auth, RegistryOperation::Pull)
            .await
            .map_err(|e| HttpError::other(format!("authenticating: {e}")))?;
        let authorization = match (token, &self.auth) {
            (Some(token), _) => Authorization::Bearer(token),
            (None, RegistryAuth::Basic(user, password)) => {
                Authorization::Basic(user.clone(), password.clone())
            }
            (None, _) => Authorization::None,
        };
        *current = Some(authorization.clone());
        Ok(authorization)
    }
}

/// A failed GET: a message, and whether the registry said "not found".
#[derive(Debug)]
struct HttpError {
    message: String,
    not_found: bool,
}

impl HttpError {
    fn other(message: String) -> HttpError {
        HttpError {
            message,
            not_found: false,
        }
    }
}

/// GET `url`, authorized, retrying 429, 5xx and dropped connections with
/// backoff (0.5, 1, 2 s) or as long as `Retry-After` asks (up to a cap);
/// a 401 gets one fresh authorization. Counts attempts in `attempts`.
async fn get_with_retries(
    http: &reqwest::Client,
    url: &str,
    accept: Option<&str>,
    authorizer: &Authorizer,
    attempts: Option<&AtomicU64>,
) -> Result<reqwest::Response, HttpError> {
    let mut backoff = Backoff::new(ATTEMPTS);
    let mut refreshed = false;
    loop {
        let mut request = http.get(url);
        if let Some(accept) = accept {
            request = request.header(header::ACCEPT, accept);
        }
        request = match authorizer.get(false).await? {
            Authorization::None => request,
            Authorization::Bearer(token) => request.bearer_auth(token),
            Authorization::Basic(user, password) => request.basic_auth(user, Some(password)),
        };
        if let Some(attempts) = attempts {
            attempts.fetch_add(1, Ordering::Relaxed);
        }
        let (message, wait) = match request.send().await {
            Ok(response) if response.status().is_success() => return Ok(response),
            Ok(response) => {
                let status = response.status();
                if status == StatusCode::UNAUTHORIZED && !refreshed {
                    refreshed = true;
                    authorizer.get(true).await?;
                    continue;
                }
                let transient = status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
                let wait = retry_after(response.headers());
                let body = response.text().await.unwrap_or_default();
                let message = format!("{url}: {status} {}", body.trim());
                if !transient {
                    return Err(HttpError {
                        message,
                        not_found: status == StatusCode::NOT_FOUND,
                    });
                }
                (message, wait)
            }
            Err(e) => (format!("{url}: {e}"), None),
        };
        backoff
            .wait(message, wait)
            .await
            .map_err(HttpError::other)?;
    }
}

/// Blobs of one repository, streamed over HTTP.
struct RegistryBlobs {
    http: reqwest::Client,
    /// `scheme://host/v2/<repository>/blobs/`.
    base_url: String,
    authorizer: Arc<Authorizer>,
    handle: tokio::runtime::Handle,
    gets: Arc<AtomicU64>,
}

impl BlobSource for RegistryBlobs {
    fn open(&self, digest: &str) -> io::Result<Box<dyn Read + Send + '_>> {
        let url = format!("{}{digest}", self.base_url);
        let response = self
            .handle
            .block_on(get_with_retries(
                &self.http,
                &url,
                None,
                &self.authorizer,
                Some(&self.gets),
            ))
            .map_err(|e| {
                if e.not_found {
                    io::Error::new(
                        io::ErrorKind::NotFound,
                        format!("missing blob {digest}: {}", e.message),
                    )
                } else {
                    io::Error::other(format!("pulling blob {digest}: {}", e.message))
                }
            })?;
        let stream = response
            .bytes_stream()
            .map(|chunk| chunk.map_err(|e| io::Error::other(format!("reading blob body: {e}"))))
            .boxed();
        Ok(Box::new(StreamReader {
            handle: self.handle.clone(),
            stream,
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
    /// The stream has ended; it is not polled again.
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
    fn loopback_hosts() {
        assert!(
            is_loopback("127.0.0.1:5000") && is_loopback("localhost") && is_loopback("[::1]:443")
        );
        assert!(!is_loopback("registry.example.com:5000") && !is_loopback("10.0.0.1"));
    }
}
