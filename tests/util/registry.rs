//! A real registry for end-to-end tests: Debian's `docker-registry`
//! (distribution 2.8) started as an ordinary child process on 127.0.0.1 with
//! a config file written into a temp dir (storage there too), optionally
//! behind htpasswd basic auth; images built by tests/util/image.rs are
//! pushed to it with `skopeo copy`. Also a scripted fake registry
//! ([`FakeServer`]) for what a real one will not do on demand: 500s, 429s,
//! and hostile answers — silence, a trickle, an endless body, a lying
//! `Content-Length` — and [`strata_watched`], which runs strata under a
//! kill-timeout and records its peak memory, so a hang fails fast.
//!
//! Nothing is installed at test time: `.ci/run` installs the Debian packages
//! `docker-registry` and `skopeo`. When either is missing the registry tests
//! FAIL, saying what to install — a silent skip would hide a broken CI. Set
//! `STRATA_SKIP_REGISTRY_TESTS=1` to skip them deliberately.
//!
//! Everything here talks to 127.0.0.1 only.

use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use base64::Engine as _;
use sha2::{Digest as _, Sha256};

use super::Run;

/// Where Debian's `docker-registry` package puts the binary.
pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";
/// Set to `1` to skip every test that needs a real registry.
pub const SKIP_ENV: &str = "STRATA_SKIP_REGISTRY_TESTS";

/// How long the registry may take to answer `GET /v2/`.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// Accept header for manifests and indexes, OCI and Docker.
const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, \
     application/vnd.oci.image.index.v1+json, \
     application/vnd.docker.distribution.manifest.v2+json, \
     application/vnd.docker.distribution.manifest.list.v2+json";

/// False (after saying so) when `STRATA_SKIP_REGISTRY_TESTS=1`; panics when
/// `docker-registry` or `skopeo` is missing; true otherwise.
pub fn registry_tests_enabled() -> bool {
    if std::env::var(SKIP_ENV).is_ok_and(|v| v == "1") {
        eprintln!("{SKIP_ENV}=1: registry test skipped");
        return false;
    }
    let install = "install Debian's docker-registry and skopeo \
        (`apt-get install -y docker-registry skopeo`, as .ci/run does), \
        or set STRATA_SKIP_REGISTRY_TESTS=1 to skip the registry tests";
    assert!(
        Path::new(REGISTRY_BIN).is_file(),
        "{REGISTRY_BIN} not found: {install}"
    );
    let skopeo = Command::new("skopeo").arg("--version").output();
    assert!(
        skopeo.as_ref().is_ok_and(|o| o.status.success()),
        "skopeo not found or not working ({skopeo:?}): {install}"
    );
    true
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind 127.0.0.1:0")
        .local_addr()
        .unwrap()
        .port()
}

/// One HTTP/1.1 response, read whole.
pub struct HttpResponse {
    pub status: u16,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == &name.to_ascii_lowercase())
            .map(|(_, v)| v.as_str())
    }
}

/// A minimal HTTP/1.1 GET to `127.0.0.1:PORT` (`Connection: close`, body read
/// to EOF; no chunked decoding, so only for short documents).
pub fn http_get(
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
    timeout: Duration,
) -> std::io::Result<HttpResponse> {
    assert!(host.starts_with("127.0.0.1:"), "loopback only: {host}");
    let mut stream = TcpStream::connect(host)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no end of headers"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line in {head:?}")))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let response = HttpResponse {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    };
    assert!(
        response.header("transfer-encoding").is_none(),
        "chunked responses are not supported here"
    );
    Ok(response)
}

/// A running `docker-registry serve` on 127.0.0.1; killed on drop.
pub struct Registry {
    child: Child,
    dir: tempfile::TempDir,
    host: String,
    credentials: Option<(String, String)>,
}

impl Registry {
    /// Starts a registry, behind htpasswd basic auth when `auth` is
    /// `Some((user, password))`. `None` when registry tests are skipped
    /// (`STRATA_SKIP_REGISTRY_TESTS=1`); panics when the tools are missing
    /// or the registry does not come up.
    pub fn start(auth: Option<(&str, &str)>) -> Option<Registry> {
        if !registry_tests_enabled() {
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let storage = dir.path().join("storage");
        std::fs::create_dir_all(&storage).unwrap();
        let mut auth_section = String::new();
        if let Some((user, password)) = auth {
            // distribution's htpasswd accepts bcrypt entries only.
            let hash = bcrypt::hash(password, 4).expect("bcrypt");
            let htpasswd = dir.path().join("htpasswd");
            std::fs::write(&htpasswd, format!("{user}:{hash}\n")).unwrap();
            auth_section = format!(
                "auth:\n  htpasswd:\n    realm: strata-test\n    path: {}\n",
                yaml_str(&htpasswd)
            );
        }
        // A free port may be taken between finding and binding it: retry.
        let mut last_log = String::new();
        for _ in 0..3 {
            let port = free_port();
            let host = format!("127.0.0.1:{port}");
            let config = dir.path().join("config.yml");
            std::fs::write(
                &config,
                format!(
                    "version: 0.1\n\
                     log:\n  level: info\n  formatter: text\n\
                     storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
                     http:\n  addr: {host}\n  secret: strata-test-http-secret\n\
                     {auth_section}",
                    yaml_str(&storage)
                ),
            )
            .unwrap();
            let log_path = dir.path().join("registry.log");
            let log = std::fs::File::create(&log_path).unwrap();
            let mut child = Command::new(REGISTRY_BIN)
                .arg("serve")
                .arg(&config)
                .current_dir(dir.path())
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("starting {REGISTRY_BIN}: {e}"));
            match wait_ready(&mut child, &host) {
                Ok(()) => {
                    return Some(Registry {
                        child,
                        dir,
                        host,
                        credentials: auth.map(|(u, p)| (u.to_string(), p.to_string())),
                    })
                }
                Err(exited) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    last_log = std::fs::read_to_string(&log_path).unwrap_or_default();
                    if !(exited && last_log.contains("address already in use")) {
                        panic!(
                            "docker-registry did not come up on {host} within \
                             {STARTUP_TIMEOUT:?} (exited early: {exited}); its output:\n{last_log}"
                        );
                    }
                }
            }
        }
        panic!("docker-registry could not bind a free port; its output:\n{last_log}")
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// `127.0.0.1:PORT/REPO[:TAG|@DIGEST]`.
    pub fn reference(&self, repo_and_tag: &str) -> String {
        format!("{}/{repo_and_tag}", self.host)
    }

    /// The registry's output so far (its log goes to a file).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// Request URIs of completed `GET`s in the registry's access log, in
    /// order (query strings included, percent-encoding as logged).
    pub fn get_requests(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter(|l| {
                l.contains("msg=\"response completed\"") && l.contains("http.request.method=GET")
            })
            .filter_map(|l| {
                let rest = &l[l.find("http.request.uri=")? + "http.request.uri=".len()..];
                let uri = match rest.strip_prefix('"') {
                    Some(quoted) => quoted.split('"').next()?,
                    None => rest.split(' ').next()?,
                };
                Some(uri.to_string())
            })
            .collect()
    }

    /// How many completed `GET`s fetched blob `digest` (from any repository).
    pub fn blob_gets(&self, digest: &str) -> usize {
        let suffix = format!("/blobs/{digest}");
        self.get_requests()
            .iter()
            .filter(|u| u.ends_with(&suffix))
            .count()
    }

    /// The filesystem storage root.
    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("storage")
    }

    /// Where the registry keeps the bytes of blob `digest`.
    pub fn blob_data_path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").expect("a sha256 digest");
        self.storage()
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// A temp dir of this registry's, for files a test writes (docker configs).
    pub fn scratch(&self) -> &Path {
        self.dir.path()
    }

    /// `skopeo copy SOURCE docker://127.0.0.1:PORT/REPO:TAG` (with this
    /// registry's credentials, `--all` for an index). `--preserve-digests`:
    /// skopeo fails rather than rewrite a manifest, so what the registry
    /// serves is byte for byte what the fixture built.
    pub fn push(&self, source: &str, repo_and_tag: &str, all: bool) {
        let mut cmd = Command::new("skopeo");
        cmd.args(["--insecure-policy", "copy", "--quiet", "--preserve-digests"])
            .arg("--dest-tls-verify=false")
            // No auth file of the user's is read or written.
            .env(
                "REGISTRY_AUTH_FILE",
                self.dir.path().join("skopeo-auth.json"),
            );
        if all {
            cmd.arg("--all");
        }
        if let Some((user, password)) = &self.credentials {
            cmd.arg("--dest-creds").arg(format!("{user}:{password}"));
        }
        let dest = format!("docker://{}", self.reference(repo_and_tag));
        let out = cmd.arg(source).arg(&dest).output().expect("run skopeo");
        assert!(
            out.status.success(),
            "skopeo copy {source} {dest} failed: {}\n{}\nregistry log:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
    }

    /// Pushes tag `tag` of the OCI layout in `layout` to `repo_and_tag`.
    pub fn push_layout(&self, layout: &Path, tag: &str, repo_and_tag: &str) {
        self.push(
            &format!("oci:{}:{tag}", layout.display()),
            repo_and_tag,
            false,
        );
    }

    /// Pushes a multi-arch layout's index and every image in it (`--all`).
    pub fn push_index(&self, layout: &Path, tag: &str, repo_and_tag: &str) {
        self.push(
            &format!("oci:{}:{tag}", layout.display()),
            repo_and_tag,
            true,
        );
    }

    /// `Authorization` header for this registry's credentials, if any.
    fn authorization(&self) -> Option<String> {
        self.credentials.as_ref().map(|(u, p)| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            )
        })
    }

    /// GET `/v2/REPO/manifests/REFERENCE` as the registry serves it: the
    /// `Docker-Content-Digest` header, checked against the body's SHA-256.
    pub fn served_manifest_digest(&self, repo: &str, reference: &str) -> String {
        let auth = self.authorization();
        let mut headers = vec![("Accept", MANIFEST_ACCEPT)];
        if let Some(auth) = &auth {
            headers.push(("Authorization", auth));
        }
        let response = http_get(
            &self.host,
            &format!("/v2/{repo}/manifests/{reference}"),
            &headers,
            Duration::from_secs(10),
        )
        .expect("GET manifest");
        assert_eq!(
            response.status,
            200,
            "GET manifest {repo}:{reference}: {}",
            String::from_utf8_lossy(&response.body)
        );
        let header = response
            .header("docker-content-digest")
            .expect("Docker-Content-Digest header")
            .to_string();
        let body = format!("sha256:{}", hex::encode(Sha256::digest(&response.body)));
        assert_eq!(header, body, "the served manifest hashes to its digest");
        header
    }

    /// Stops the registry now (also done on drop).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Polls `GET /v2/` until it answers 200 or 401. `Err(true)` if the
/// process exited first, `Err(false)` on timeout.
fn wait_ready(child: &mut Child, host: &str) -> Result<(), bool> {
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return Err(true);
        }
        if let Ok(response) = http_get(host, "/v2/", &[], Duration::from_secs(2)) {
            if response.status == 200 || response.status == 401 {
                return Ok(());
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(false)
}

/// A path as a double-quoted YAML scalar.
fn yaml_str(path: &Path) -> String {
    let text = path.to_str().expect("a UTF-8 temp path");
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// An empty directory under `tree` for `DOCKER_CONFIG`.
pub fn no_docker_config(tree: &super::Tree) -> PathBuf {
    let dir = tree.path().join("no-docker-config");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `strata ARGS` in `cwd` like [`super::strata_in`], but with
/// `DOCKER_CONFIG` pointed at `docker_config_dir` so no credentials of the
/// machine's (`~/.docker/config.json`) take part.
pub fn strata_isolated(
    cwd: &Path,
    args: &[&str],
    stdin: Option<&[u8]>,
    docker_config_dir: &Path,
) -> Run {
    super::strata_in_env(cwd, args, stdin, &[("DOCKER_CONFIG", docker_config_dir)])
}

/// A fake HTTP server on 127.0.0.1 that answers each request from a
/// script (the request line in, status/headers/body out), for behaviour a
/// real registry will not show on demand: 500s, 429 with `Retry-After`,
/// paginated tag lists, and the hostile [`Delivery`] modes. Each connection
/// is served on a thread of its own, so a silent or endless answer does not
/// hold up the others. Records every request line with its arrival time.
/// Stops on drop (connections still open end within ~100 ms).
pub struct FakeServer {
    host: String,
    requests: Arc<Mutex<Vec<(Instant, String)>>>,
    /// Whole request heads (request line and headers), in arrival order.
    heads: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// A scripted answer.
pub struct Reply {
    /// `200 OK`, `429 Too Many Requests`, …
    pub status: &'static str,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub delivery: Delivery,
    /// `Content-Length` to announce instead of the body's length; with
    /// [`Delivery::Endless`], whether to announce one at all.
    pub declared_length: Option<u64>,
}

/// How a reply's bytes are sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Headers and body at once (`Content-Length`, `Connection: close`).
    Whole,
    /// Headers at once, then the body `bytes` at a time, one batch per `every`.
    Trickle { bytes: usize, every: Duration },
    /// Headers at once, then the body repeated for as long as the client
    /// reads (no `Content-Length` unless `declared_length`).
    Endless,
    /// Reads the request and never answers (the connection stays open).
    Silent,
}

impl Reply {
    pub fn json(body: &str) -> Reply {
        Reply {
            status: "200 OK",
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.as_bytes().to_vec(),
            delivery: Delivery::Whole,
            declared_length: None,
        }
    }

    /// `200 OK` with `bytes` of `content_type`.
    pub fn bytes(content_type: &str, bytes: &[u8]) -> Reply {
        Reply {
            status: "200 OK",
            headers: vec![("Content-Type".into(), content_type.into())],
            body: bytes.to_vec(),
            delivery: Delivery::Whole,
            declared_length: None,
        }
    }

    pub fn status(status: &'static str) -> Reply {
        Reply {
            status,
            headers: vec![("Content-Type".into(), "text/plain".into())],
            body: format!("{status}\n").into_bytes(),
            delivery: Delivery::Whole,
            declared_length: None,
        }
    }

    /// No answer at all: the connection is accepted, the request read, and
    /// nothing ever sent.
    pub fn silent() -> Reply {
        Reply {
            delivery: Delivery::Silent,
            ..Reply::status("200 OK")
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The same reply under another status (`404 Not Found`, …).
    pub fn status_line(mut self, status: &'static str) -> Reply {
        self.status = status;
        self
    }

    pub fn delivered(mut self, delivery: Delivery) -> Reply {
        self.delivery = delivery;
        self
    }

    /// Announces `length` as the `Content-Length`, whatever is sent.
    pub fn declaring(mut self, length: u64) -> Reply {
        self.declared_length = Some(length);
        self
    }
}

/// Writes `reply` to `stream` as its [`Delivery`] says, until done, the
/// client goes away, or `stop` is set.
fn send_reply(stream: &mut TcpStream, reply: &Reply, stop: &AtomicBool) {
    let stopped = || stop.load(Ordering::SeqCst);
    if reply.delivery == Delivery::Silent {
        let until = Instant::now() + Duration::from_secs(120);
        while !stopped() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(50));
        }
        return;
    }
    let mut head = format!("HTTP/1.1 {}\r\n", reply.status);
    for (name, value) in &reply.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let length = match (reply.delivery, reply.declared_length) {
        (_, Some(length)) => Some(length),
        (Delivery::Endless, None) => None,
        _ => Some(reply.body.len() as u64),
    };
    if let Some(length) = length {
        head.push_str(&format!("Content-Length: {length}\r\n"));
    }
    head.push_str("Connection: close\r\n\r\n");
    if stream.write_all(head.as_bytes()).is_err() {
        return;
    }
    match reply.delivery {
        Delivery::Whole | Delivery::Silent => {
            let _ = stream.write_all(&reply.body);
        }
        Delivery::Trickle { bytes, every } => {
            for piece in reply.body.chunks(bytes.max(1)) {
                if stopped() || stream.write_all(piece).is_err() || stream.flush().is_err() {
                    return;
                }
                std::thread::sleep(every);
            }
        }
        Delivery::Endless => {
            let mut block = Vec::with_capacity(64 << 10);
            while block.len() < 64 << 10 {
                block.extend_from_slice(if reply.body.is_empty() {
                    b"x"
                } else {
                    &reply.body
                });
            }
            while !stopped() && stream.write_all(&block).is_ok() {}
        }
    }
    let _ = stream.flush();
}

impl FakeServer {
    /// Answers every request with `500 Internal Server Error`.
    pub fn failing() -> FakeServer {
        FakeServer::start(|_, _| Reply::status("500 Internal Server Error"))
    }

    /// Answers each request with `script(request line, requests so far)`.
    pub fn start(script: impl Fn(&str, usize) -> Reply + Send + Sync + 'static) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let host = listener.local_addr().unwrap().to_string();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let heads = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (requests, heads, stop) = (requests.clone(), heads.clone(), stop.clone());
            let script = Arc::new(script);
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(mut stream) = stream else { continue };
                    let (requests, heads, stop, script) = (
                        requests.clone(),
                        heads.clone(),
                        stop.clone(),
                        script.clone(),
                    );
                    std::thread::spawn(move || {
                        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                        let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
                        let mut head = Vec::new();
                        let mut buf = [0u8; 4096];
                        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                            match stream.read(&mut buf) {
                                Ok(0) | Err(_) => break,
                                Ok(n) => head.extend_from_slice(&buf[..n]),
                            }
                        }
                        if head.is_empty() {
                            return;
                        }
                        let line = String::from_utf8_lossy(&head)
                            .lines()
                            .next()
                            .unwrap_or_default()
                            .to_string();
                        heads
                            .lock()
                            .unwrap()
                            .push(String::from_utf8_lossy(&head).into_owned());
                        let seen = {
                            let mut requests = requests.lock().unwrap();
                            requests.push((Instant::now(), line.clone()));
                            requests.len() - 1
                        };
                        let reply = script(&line, seen);
                        send_reply(&mut stream, &reply, &stop);
                    });
                }
            })
        };
        FakeServer {
            host,
            requests,
            heads,
            stop,
            thread: Some(thread),
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Requests answered so far.
    pub fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    /// Request lines answered so far (`GET /v2/ HTTP/1.1`, …).
    pub fn request_lines(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .map(|(_, l)| l.clone())
            .collect()
    }

    /// Whole request heads (request line and headers) received so far.
    pub fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }

    /// Request lines with their arrival times.
    pub fn timed_requests(&self) -> Vec<(Instant, String)> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept.
        let _ = TcpStream::connect(&self.host);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// What [`strata_watched`] saw of one run.
pub struct Watched {
    pub run: Run,
    pub took: Duration,
    /// The largest resident set strata had (`VmHWM`, sampled every 10 ms).
    pub peak_rss_kib: u64,
}

/// Runs `strata ARGS` in `cwd` like [`strata_isolated`] (no machine
/// credentials; `envs` set on top), but kills it and fails the test if it
/// runs longer than `limit`, and records its peak memory from
/// `/proc/PID/status`.
pub fn strata_watched(
    cwd: &Path,
    args: &[&str],
    docker_config_dir: &Path,
    envs: &[(&str, String)],
    limit: Duration,
) -> Watched {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(args)
        .current_dir(cwd)
        .env_remove("STRATA_FINGERPRINT_KEY")
        .env("NO_COLOR", "1")
        .env("DOCKER_CONFIG", docker_config_dir)
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run strata");
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_rss_kib = 0;
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(&status_file) {
            let hwm = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok());
            peak_rss_kib = peak_rss_kib.max(hwm.unwrap_or(0));
        }
        if let Some(status) = child.try_wait().expect("wait for strata") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "strata {args:?} still running after {limit:?}: killed\nstderr:\n{}",
                stderr.join().unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let took = started.elapsed();
    Watched {
        run: Run {
            code: status.code().unwrap_or(-1),
            stdout: stdout.join().unwrap(),
            stderr: stderr.join().unwrap(),
        },
        took,
        peak_rss_kib,
    }
}

/// The replies of a registry holding `image` as `REPO:TAG`: `/v2/`, the
/// manifest by tag and by digest, the config and the layer blobs. `None`
/// for any other path, so a script can answer those itself.
pub fn image_replies(
    repo: &str,
    tag: &str,
    image: &super::image::BuiltImage,
    path: &str,
) -> Option<Reply> {
    let manifest = |_: ()| {
        Reply::bytes(
            "application/vnd.oci.image.manifest.v1+json",
            &image.manifest,
        )
        .header("Docker-Content-Digest", &image.manifest_digest)
    };
    let blobs = format!("/v2/{repo}/blobs/");
    if path == "/v2/" {
        Some(Reply::json("{}"))
    } else if path == format!("/v2/{repo}/manifests/{tag}")
        || path == format!("/v2/{repo}/manifests/{}", image.manifest_digest)
    {
        Some(manifest(()))
    } else if let Some(digest) = path.strip_prefix(&blobs) {
        if digest == image.config_digest {
            return Some(Reply::bytes("application/octet-stream", &image.config));
        }
        image
            .layers
            .iter()
            .find(|l| l.digest == digest)
            .map(|l| Reply::bytes("application/octet-stream", &l.blob))
    } else {
        None
    }
}
