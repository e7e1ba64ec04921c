//! Registries, over reqwest (oci-client only parses references: its
//! `pull()` would buffer whole layers, and its `auth()` reads token answers
//! and failure bodies whole). Manifests and configs are small and read
//! whole (and their digests checked); layers are streamed: a blob's HTTP
//! body is read chunk by chunk by the layer scanner's decoding thread, so a
//! layer is never held in memory.
//!
//! HTTPS is the default; plain HTTP only for localhost, 127.0.0.1 and [::1]
//! and for hosts named with `--insecure-registry`, and a redirect never
//! leads elsewhere in clear. Transient failures (429, 5xx, dropped
//! connections, an attempt past its deadline) are retried with backoff,
//! waiting as long as a `Retry-After` header asks, within a retry budget.
//! Authentication (the distribution token flow, or basic auth) and the
//! manifest and blob GETs are sent here with reqwest, every one of them
//! under the bounds of [`RegistryTimeouts`] and of the `http` module:
//! documents are read whole up to [`MAX_DOCUMENT`], a layer body must keep
//! a minimum pace, error bodies are quoted short and escaped.

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
use oci_client::Reference;
use reqwest::{header, StatusCode};

use super::{
    credentials::{Credential, CredentialStore},
    digest::sha256_of,
    http::{
        bearer_challenge, describe, error_excerpt, fetch_token, read_capped, seconds, Pace,
        PlainHttp,
    },
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
    /// How long anything that waits on a registry may take.
    pub timeouts: RegistryTimeouts,
}

/// Every time bound of registry traffic, in one place: a registry that
/// stops answering, or answers too slowly, costs a bounded time and then
/// an error naming it, never a hang. `--registry-timeout` sets them all
/// through [`RegistryTimeouts::scaled`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistryTimeouts {
    /// Establishing a TCP (and TLS) connection.
    pub connect: Duration,
    /// One attempt of a small request (authentication and tokens,
    /// manifests, listing pages) from sending it to the end of its body;
    /// for a blob, until its response headers.
    pub request: Duration,
    /// A blob body must bring [`min_bytes_per_window`](Self::min_bytes_per_window)
    /// bytes in every window this long spent waiting on the registry.
    pub stall_window: Duration,
    pub min_bytes_per_window: u64,
    /// All attempts of one request together: no retry starts (nor waits
    /// for a `Retry-After`) past this.
    pub retry_budget: Duration,
    /// A `docker-credential-*` helper's answer; it is killed after this.
    pub credential_helper: Duration,
}

impl RegistryTimeouts {
    /// The default `request` bound (`--registry-timeout 60`).
    pub const DEFAULT_REQUEST: Duration = Duration::from_secs(60);

    /// Every bound derived from the one for a request: connect
    /// `min(request, 15 s)`, stall window `request / 2` with 64 KiB due in
    /// each, retry budget `2 × request`, credential helpers `request / 2`.
    pub fn scaled(request: Duration) -> RegistryTimeouts {
        RegistryTimeouts {
            connect: request.min(Duration::from_secs(15)),
            request,
            stall_window: request / 2,
            min_bytes_per_window: 64 << 10,
            retry_budget: request * 2,
            credential_helper: request / 2,
        }
    }
}

impl Default for RegistryTimeouts {
    fn default() -> RegistryTimeouts {
        RegistryTimeouts::scaled(RegistryTimeouts::DEFAULT_REQUEST)
    }
}

/// A registry client shared by every image of a run.
pub struct RegistryClient {
    runtime: tokio::runtime::Runtime,
    options: RegistryOptions,
    plain: PlainHttp,
    credentials: CredentialStore,
    /// HTTP clients for authentication, manifest and blob GETs, one per host.
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

impl RegistryClient {
    pub fn new(
        options: RegistryOptions,
        mut credentials: CredentialStore,
    ) -> Result<RegistryClient, String> {
        credentials.set_helper_timeout(options.timeouts.credential_helper);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| format!("starting the network runtime: {e}"))?;
        Ok(RegistryClient {
            runtime,
            plain: PlainHttp::new(&options.insecure),
            options,
            credentials,
            http: Mutex::new(HashMap::new()),
            authorizers: Mutex::new(HashMap::new()),
            blob_gets: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Parses an image reference and finds the authorizer of its repository.
    fn connect(&self, text: &str) -> Result<(Reference, Arc<Authorizer>), String> {
        let reference: Reference = text
            .parse()
            .map_err(|e| format!("{text}: not an image reference: {e}"))?;
        let authorizer = self.authorizer(&reference)?;
        Ok((reference, authorizer))
    }

    /// `scheme://host`.
    fn base_url(&self, registry: &str) -> String {
        let scheme = if self.plain_http(registry) {
            "http"
        } else {
            "https"
        };
        format!("{scheme}://{registry}")
    }

    /// `scheme://host/v2/<repository>/<rest>`.
    fn url(&self, reference: &Reference, rest: &str) -> String {
        format!(
            "{}/v2/{}/{rest}",
            self.base_url(reference.resolve_registry()),
            reference.repository()
        )
    }

    fn authorizer(&self, reference: &Reference) -> Result<Arc<Authorizer>, String> {
        let registry = reference.resolve_registry();
        let key = format!("{registry}/{}", reference.repository());
        if let Some(authorizer) = self.authorizers.lock().unwrap().get(&key) {
            return Ok(authorizer.clone());
        }
        let authorizer = Arc::new(Authorizer {
            http: self.http_for(registry)?,
            base_url: self.base_url(registry),
            host: registry.to_string(),
            scope: format!("repository:{}:pull", reference.repository()),
            credential: self.credential_for(registry)?,
            timeouts: self.options.timeouts,
            plain: self.plain.clone(),
            current: tokio::sync::Mutex::new(None),
        });
        Ok(self
            .authorizers
            .lock()
            .unwrap()
            .entry(key)
            .or_insert(authorizer)
            .clone())
    }

    fn http_for(&self, registry: &str) -> Result<reqwest::Client, String> {
        let mut clients = self.http.lock().unwrap();
        if let Some(client) = clients.get(registry) {
            return Ok(client.clone());
        }
        let _guard = self.runtime.enter();
        let client = super::http::client(registry, &self.options.timeouts, &self.plain)?;
        clients.insert(registry.to_string(), client.clone());
        Ok(client)
    }

    /// Blob GET requests sent so far (every attempt).
    pub fn blob_gets(&self) -> u64 {
        self.blob_gets.load(Ordering::Relaxed)
    }

    fn plain_http(&self, registry: &str) -> bool {
        self.plain.allows(registry)
    }

    /// A lister of repositories and tags for `registry` (`host[:port]`).
    pub fn lister(&self, registry: &str, page_size: usize) -> Result<Lister, String> {
        let credential = self.credential_for(registry)?;
        Ok(Lister::new(
            registry,
            self.plain_http(registry),
            credential,
            page_size,
            self.http_for(registry)?,
            self.options.timeouts,
            self.plain.clone(),
        ))
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
        let (reference, authorizer) = self.connect(text)?;
        let (bytes, digest) = self.pull_document(&authorizer, &reference)?;
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
                    let (bytes, digest) = self.pull_document(&authorizer, &by_digest)?;
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
        let (reference, authorizer) = self.connect(text)?;
        Ok(Arc::new(self.blobs(authorizer, &reference)))
    }

    fn blobs(&self, authorizer: Arc<Authorizer>, reference: &Reference) -> RegistryBlobs {
        RegistryBlobs {
            base_url: self.url(reference, "blobs/"),
            authorizer,
            handle: self.runtime.handle().clone(),
            gets: self.blob_gets.clone(),
            timeouts: self.options.timeouts,
        }
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

    fn credential_for(&self, registry: &str) -> Result<Credential, String> {
        match &self.options.credential {
            Some(credential) => Ok(credential.clone()),
            None => self.credentials.lookup(registry),
        }
    }

    /// A manifest or index, read whole (up to [`MAX_DOCUMENT`], within one
    /// attempt's deadline) and checked against its digest.
    fn pull_document(
        &self,
        authorizer: &Authorizer,
        reference: &Reference,
    ) -> Result<(Vec<u8>, String), String> {
        let target = reference
            .digest()
            .or(reference.tag())
            .unwrap_or("latest")
            .to_string();
        let what = format!("pulling manifest {}", reference.whole());
        let url = self.url(reference, &format!("manifests/{target}"));
        let (bytes, header_digest) = self
            .runtime
            .block_on(async {
                let sent =
                    get_with_retries(&url, Some(&ACCEPTED.join(", ")), authorizer, None).await?;
                let header_digest = sent
                    .response
                    .headers()
                    .get("docker-content-digest")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                let limit = self.options.timeouts.request;
                let bytes = tokio::time::timeout_at(
                    sent.deadline,
                    read_capped(sent.response, MAX_DOCUMENT, "the manifest"),
                )
                .await
                .map_err(|_| {
                    HttpError::other(format!(
                        "{url}: the manifest did not arrive whole within {}",
                        seconds(limit)
                    ))
                })?
                .map_err(HttpError::other)?;
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
        Ok((bytes, actual))
    }
}

impl RegistryResolver for RegistryClient {
    fn resolve(&self, text: &str, platform: &Platform) -> Result<ResolvedImage, String> {
        let (reference, authorizer) = self.connect(text)?;
        let (mut bytes, mut digest) = self.pull_document(&authorizer, &reference)?;
        for _ in 0..4 {
            match ManifestOrIndex::parse(&bytes)
                .map_err(|e| format!("{}: {e}", reference.whole()))?
            {
                ManifestOrIndex::Index(index) => {
                    let chosen = choose(&index.manifests, platform)?.digest.clone();
                    let by_digest = reference.clone_with_digest(chosen);
                    (bytes, digest) = self.pull_document(&authorizer, &by_digest)?;
                }
                ManifestOrIndex::Manifest(manifest) => {
                    let blobs = self.blobs(authorizer, &reference);
                    return image_from_manifest(text, digest, &manifest, Arc::new(blobs));
                }
            }
        }
        Err(format!("{text}: image index nested too deeply"))
    }
}

/// How requests to one repository are authorized: `GET /v2/` shows the
/// registry's challenge; a bearer challenge is answered by the token
/// service (the distribution token flow, shared with listings), anything
/// else settles on basic auth when there are credentials. The result is
/// kept until the registry refuses it. Every exchange is bounded by
/// `timeouts.request`.
struct Authorizer {
    http: reqwest::Client,
    /// `scheme://host`.
    base_url: String,
    /// `host[:port]`, for messages.
    host: String,
    /// `repository:<name>:pull`.
    scope: String,
    credential: Credential,
    timeouts: RegistryTimeouts,
    plain: PlainHttp,
    current: tokio::sync::Mutex<Option<Authorization>>,
}

#[derive(Clone)]
enum Authorization {
    None,
    Bearer(String),
    Basic(String, String),
}

impl Authorizer {
    /// The authorization to send; `refresh` asks for a new one (after a 401).
    async fn get(&self, refresh: bool) -> Result<Authorization, HttpError> {
        let mut current = self.current.lock().await;
        if let (Some(authorization), false) = (current.as_ref(), refresh) {
            return Ok(authorization.clone());
        }
        let authorization = self
            .negotiate()
            .await
            .map_err(|e| HttpError::other(format!("authenticating: {e}")))?;
        *current = Some(authorization.clone());
        Ok(authorization)
    }

    async fn negotiate(&self) -> Result<Authorization, String> {
        let url = format!("{}/v2/", self.base_url);
        let limit = self.timeouts.request;
        let challenge = tokio::time::timeout(limit, self.http.get(&url).send())
            .await
            .map_err(|_| format!("{url}: no response within {}", seconds(limit)))?
            .map(|response| bearer_challenge(response.headers()))
            .map_err(|e| format!("{url}: {}", describe(e)))?;
        if let Some((realm, service)) = challenge {
            let token = fetch_token(
                &self.http,
                &self.host,
                (&realm, service.as_deref()),
                &self.scope,
                &self.credential,
                &self.timeouts,
                &self.plain,
            )
            .await?
            .ok_or_else(|| format!("{}: the token service answered without a token", self.host))?;
            return Ok(Authorization::Bearer(token));
        }
        Ok(match &self.credential {
            Credential::Basic { username, password } => {
                Authorization::Basic(username.clone(), password.clone())
            }
            Credential::Anonymous => Authorization::None,
        })
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

/// A successful response, and the deadline of the attempt that got it (a
/// caller reading a small document whole finishes by then).
struct Sent {
    response: reqwest::Response,
    deadline: tokio::time::Instant,
}

/// GET `url`, authorized, retrying 429, 5xx, dropped connections and
/// attempts without response headers within `timeouts.request`, with
/// backoff (0.5, 1, 2 s) or as long as `Retry-After` asks (up to a cap),
/// all within `timeouts.retry_budget`; a 401 gets one fresh authorization.
/// Counts attempts in `attempts`. An error quotes at most the start of the
/// registry's error body, escaped.
async fn get_with_retries(
    url: &str,
    accept: Option<&str>,
    authorizer: &Authorizer,
    attempts: Option<&AtomicU64>,
) -> Result<Sent, HttpError> {
    let timeouts = &authorizer.timeouts;
    let mut backoff = Backoff::new(ATTEMPTS, timeouts.retry_budget);
    let mut refreshed = false;
    loop {
        let mut request = authorizer.http.get(url);
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
        let deadline = tokio::time::Instant::now() + timeouts.request;
        let sent = tokio::time::timeout_at(deadline, request.send()).await;
        let (message, wait) = match sent {
            Err(_) => (
                format!("{url}: no response within {}", seconds(timeouts.request)),
                None,
            ),
            Ok(Ok(response)) if response.status().is_success() => {
                return Ok(Sent { response, deadline })
            }
            Ok(Ok(response)) => {
                let status = response.status();
                if status == StatusCode::UNAUTHORIZED && !refreshed {
                    refreshed = true;
                    authorizer.get(true).await?;
                    continue;
                }
                let transient = status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
                let wait = retry_after(response.headers());
                let excerpt = tokio::time::timeout_at(deadline, error_excerpt(response))
                    .await
                    .unwrap_or_default();
                let message = format!("{url}: {status} {excerpt}").trim_end().to_string();
                if !transient {
                    return Err(HttpError {
                        message,
                        not_found: status == StatusCode::NOT_FOUND,
                    });
                }
                (message, wait)
            }
            Ok(Err(e)) => {
                let refused = e.is_redirect();
                let message = format!("{url}: {}", describe(e));
                if refused {
                    return Err(HttpError::other(message));
                }
                (message, None)
            }
        };
        backoff
            .wait(message, wait)
            .await
            .map_err(HttpError::other)?;
    }
}

/// Blobs of one repository, streamed over HTTP.
struct RegistryBlobs {
    /// `scheme://host/v2/<repository>/blobs/`.
    base_url: String,
    authorizer: Arc<Authorizer>,
    handle: tokio::runtime::Handle,
    gets: Arc<AtomicU64>,
    timeouts: RegistryTimeouts,
}

impl BlobSource for RegistryBlobs {
    fn open(&self, digest: &str) -> io::Result<Box<dyn Read + Send + '_>> {
        let url = format!("{}{digest}", self.base_url);
        let response = self
            .handle
            .block_on(get_with_retries(
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
            .response
            .bytes_stream()
            .map(|chunk| {
                chunk.map_err(|e| io::Error::other(format!("reading blob body: {}", describe(e))))
            })
            .boxed();
        Ok(Box::new(StreamReader {
            handle: self.handle.clone(),
            stream,
            current: bytes_empty(),
            ended: false,
            pace: Pace::new(&self.timeouts),
        }))
    }
}

fn bytes_empty() -> bytes::Bytes {
    bytes::Bytes::new()
}

/// Blocking `Read` over an HTTP body stream that must keep its [`Pace`]:
/// a stalled or trickling body is an error, not a hang.
struct StreamReader {
    handle: tokio::runtime::Handle,
    stream: futures_util::stream::BoxStream<'static, Result<bytes::Bytes, io::Error>>,
    current: bytes::Bytes,
    /// The stream has ended; it is not polled again.
    ended: bool,
    pace: Pace,
}

impl Read for StreamReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            if self.ended {
                return Ok(0);
            }
            let started = std::time::Instant::now();
            let patience = self.pace.patience();
            let stream = &mut self.stream;
            let next = self
                .handle
                .block_on(async { tokio::time::timeout(patience, stream.next()).await });
            let arrived = match &next {
                Ok(Some(Ok(chunk))) => chunk.len() as u64,
                _ => 0,
            };
            if let Err(slow) = self.pace.record(started.elapsed(), arrived) {
                self.ended = true;
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("reading blob body: {slow}"),
                ));
            }
            match next {
                Err(_) => {}
                Ok(Some(Ok(chunk))) => self.current = chunk,
                Ok(Some(Err(e))) => {
                    self.ended = true;
                    return Err(e);
                }
                Ok(None) => {
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
    fn timeouts_scale_from_the_request_bound() {
        let t = RegistryTimeouts::default();
        assert_eq!(t.request, Duration::from_secs(60));
        assert_eq!(t.connect, Duration::from_secs(15));
        assert_eq!(t.stall_window, Duration::from_secs(30));
        assert_eq!(t.retry_budget, Duration::from_secs(120));
        assert_eq!(t.credential_helper, Duration::from_secs(30));
        let small = RegistryTimeouts::scaled(Duration::from_secs(2));
        assert_eq!(small.connect, Duration::from_secs(2));
        assert_eq!(small.stall_window, Duration::from_secs(1));
    }
}
