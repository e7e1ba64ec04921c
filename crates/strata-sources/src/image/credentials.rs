//! Registry credentials the way the docker CLI finds them: explicit
//! user/password, then `config.json` — a per-registry `credHelpers` entry,
//! the global `credsStore`, or an `auths` entry (base64 `user:password` in
//! `auth`, or an `identitytoken`) — then anonymous. Credential helpers are
//! run as `docker-credential-<name> get` with the server on standard input,
//! in a process group of their own that is killed when the helper does not
//! answer in time (a helper waiting for a keychain unlock would otherwise
//! hang a CI job); what a failing helper says is quoted short and escaped.

use std::{
    collections::BTreeMap,
    io::{Read, Write},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use base64::Engine as _;
use serde::Deserialize;

/// A credential for one registry. Debug output never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    Anonymous,
    Basic { username: String, password: String },
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::Anonymous => write!(f, "Anonymous"),
            Credential::Basic { username, .. } => write!(f, "Basic({username}, <redacted>)"),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default)]
    creds_store: Option<String>,
    #[serde(default)]
    cred_helpers: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

/// The docker config to read: `--docker-config`, `$DOCKER_CONFIG/config.json`, `~/.docker/config.json`.
pub fn default_docker_config() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG") {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".docker/config.json"))
}

/// `https://index.docker.io/v1/`, `host:5000`, `https://host:5000/path` → `host:5000`;
/// Docker Hub's aliases → `docker.io`.
fn normalize_host(key: &str) -> String {
    let without_scheme = key.split_once("://").map_or(key, |(_, rest)| rest);
    let host = without_scheme
        .split('/')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "docker.io" | "registry.hub.docker.com" => {
            "docker.io".into()
        }
        _ => host,
    }
}

/// Finds credentials for `registry` (a host[:port] as in the image reference).
pub struct CredentialStore {
    config: DockerConfig,
    config_path: Option<PathBuf>,
    /// Where to find `docker-credential-*` (None: search PATH). Tests only.
    helper_dir: Option<PathBuf>,
    /// How long a credential helper may take before it is killed.
    helper_timeout: Duration,
}

/// A credential helper's default time to answer.
const DEFAULT_HELPER_TIMEOUT: Duration = Duration::from_secs(30);
/// Output of a helper that is read (a credentials reply is a few hundred bytes).
const MAX_HELPER_OUTPUT: u64 = 1 << 20;

impl CredentialStore {
    /// Loads a docker config; a missing file means no stored credentials,
    /// an unreadable or malformed one is an error naming it.
    pub fn load(path: Option<&Path>) -> Result<CredentialStore, String> {
        let Some(path) = path.map(Path::to_path_buf).or_else(default_docker_config) else {
            return Ok(CredentialStore {
                config: DockerConfig::default(),
                config_path: None,
                helper_dir: None,
                helper_timeout: DEFAULT_HELPER_TIMEOUT,
            });
        };
        let config = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| format!("{}: {}", path.display(), super::spec::json_error(&e)))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => DockerConfig::default(),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        Ok(CredentialStore {
            config,
            config_path: Some(path),
            helper_dir: None,
            helper_timeout: DEFAULT_HELPER_TIMEOUT,
        })
    }

    /// How long a `docker-credential-*` helper may take (default 30 s);
    /// past it the helper is killed and the lookup is an error.
    pub fn set_helper_timeout(&mut self, timeout: Duration) {
        self.helper_timeout = timeout;
    }

    /// The credential to use for `registry`.
    pub fn lookup(&self, registry: &str) -> Result<Credential, String> {
        let host = normalize_host(registry);
        let helper = self
            .config
            .cred_helpers
            .iter()
            .find(|(key, _)| normalize_host(key) == host)
            .map(|(_, helper)| helper.clone())
            .or_else(|| self.config.creds_store.clone());
        if let Some(helper) = helper {
            if let Some(credential) = run_helper(
                self.helper_dir.as_deref(),
                &helper,
                registry,
                &host,
                self.helper_timeout,
            )? {
                return Ok(credential);
            }
        }
        let Some(entry) = self
            .config
            .auths
            .iter()
            .find(|(key, _)| normalize_host(key) == host)
            .map(|(_, e)| e)
        else {
            return Ok(Credential::Anonymous);
        };
        let where_ = || {
            format!(
                "{}: auths entry for {registry}",
                self.config_path
                    .as_ref()
                    .map_or("docker config".into(), |p| p.display().to_string())
            )
        };
        if let Some(token) = entry.identitytoken.as_deref().filter(|t| !t.is_empty()) {
            // An identity token is a refresh token; registries that issue
            // them accept it as the password of the placeholder user.
            return Ok(Credential::Basic {
                username: "<token>".into(),
                password: token.to_string(),
            });
        }
        if let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .map_err(|e| format!("{}: `auth` is not base64: {e}", where_()))?;
            let text = String::from_utf8(decoded)
                .map_err(|_| format!("{}: `auth` is not UTF-8", where_()))?;
            let (username, password) = text
                .split_once(':')
                .ok_or_else(|| format!("{}: `auth` does not decode to user:password", where_()))?;
            return Ok(Credential::Basic {
                username: username.into(),
                password: password.into(),
            });
        }
        match (&entry.username, &entry.password) {
            (Some(u), Some(p)) => Ok(Credential::Basic {
                username: u.clone(),
                password: p.clone(),
            }),
            _ => Ok(Credential::Anonymous),
        }
    }
}

#[derive(Deserialize)]
struct HelperReply {
    #[serde(rename = "Username")]
    username: String,
    #[serde(rename = "Secret")]
    secret: String,
}

/// Runs `docker-credential-<helper> get`. `None` when the helper knows no
/// credential for the server (its documented "not found" answer). A helper
/// that has not answered within `timeout` is killed (its whole process
/// group) and the lookup fails naming it and the registry.
fn run_helper(
    dir: Option<&Path>,
    helper: &str,
    registry: &str,
    host: &str,
    timeout: Duration,
) -> Result<Option<Credential>, String> {
    let program = format!("docker-credential-{helper}");
    let executable = dir.map_or_else(|| PathBuf::from(&program), |d| d.join(&program));
    let server = if host == "docker.io" {
        "https://index.docker.io/v1/".to_string()
    } else {
        registry.to_string()
    };
    let mut command = Command::new(&executable);
    command
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // Its own group, so a timeout kills what it started too.
        command.process_group(0);
    }
    let mut child = command
        .spawn()
        .map_err(|e| format!("running credential helper {program}: {e}"))?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    if let Err(e) = stdin.write_all(server.as_bytes()) {
        kill_helper(&mut child);
        return Err(format!("{program}: {e}"));
    }
    drop(stdin);
    let (sender, outputs) = mpsc::channel();
    for (stream, pipe) in [
        (
            0,
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ),
        (
            1,
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ),
    ] {
        let sender = sender.clone();
        let pipe = pipe.expect("output is piped");
        // Not joined: a grandchild the kill missed could hold the pipe open.
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.take(MAX_HELPER_OUTPUT).read_to_end(&mut bytes);
            let _ = sender.send((stream, bytes));
        });
    }
    drop(sender);
    let deadline = Instant::now() + timeout;
    let timed_out = || {
        format!(
            "credential helper {program} did not answer within {}s for registry {registry}; \
             it was killed",
            timeout.as_secs_f64()
        )
    };
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                kill_helper(&mut child);
                return Err(timed_out());
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => {
                kill_helper(&mut child);
                return Err(format!("{program}: {e}"));
            }
        }
    };
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    for _ in 0..2 {
        let left = deadline.saturating_duration_since(Instant::now());
        match outputs.recv_timeout(left) {
            Ok((0, bytes)) => stdout = bytes,
            Ok((_, bytes)) => stderr = bytes,
            Err(_) => {
                kill_helper(&mut child);
                return Err(timed_out());
            }
        }
    }
    if !status.success() {
        let mut said = stdout.clone();
        said.extend_from_slice(b" ");
        said.extend_from_slice(&stderr);
        if String::from_utf8_lossy(&said)
            .to_ascii_lowercase()
            .contains("credentials not found")
        {
            return Ok(None);
        }
        return Err(format!(
            "{program} get failed for {server}: {}",
            super::http::escape_excerpt(&said, false)
        ));
    }
    let reply: HelperReply = serde_json::from_slice(&stdout).map_err(|e| {
        format!(
            "{program}: unexpected reply (not credentials JSON): {}",
            super::spec::json_error(&e)
        )
    })?;
    if reply.username == "<token>" || reply.username.is_empty() {
        return Ok(Some(Credential::Basic {
            username: "<token>".into(),
            password: reply.secret,
        }));
    }
    Ok(Some(Credential::Basic {
        username: reply.username,
        password: reply.secret,
    }))
}

/// Kills a helper and everything in its process group, and reaps it.
fn kill_helper(child: &mut Child) {
    #[cfg(unix)]
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: kill(2) takes plain integers and touches no memory of
        // ours. The group id is the helper's pid (it was spawned with
        // process_group(0)) and the helper is not reaped yet, so the id
        // cannot have been reused by an unrelated group.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(json: &str) -> CredentialStore {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, json).unwrap();
        CredentialStore::load(Some(&path)).unwrap()
    }

    use std::time::{Duration, Instant};

    #[test]
    fn reads_base64_auth_and_identity_tokens() {
        let auth = base64::engine::general_purpose::STANDARD.encode("ci-bot:s3cr3t:with:colons");
        let store = store(&format!(
            r#"{{"auths":{{"https://reg.example.com:5000/v1/":{{"auth":"{auth}"}},"acr.example.io":{{"identitytoken":"rt-123"}},"https://index.docker.io/v1/":{{"auth":"{auth}"}}}}}}"#
        ));
        assert_eq!(
            store.lookup("reg.example.com:5000").unwrap(),
            Credential::Basic {
                username: "ci-bot".into(),
                password: "s3cr3t:with:colons".into()
            }
        );
        assert!(matches!(
            store.lookup("docker.io").unwrap(),
            Credential::Basic { .. }
        ));
        assert_eq!(
            store.lookup("acr.example.io").unwrap(),
            Credential::Basic {
                username: "<token>".into(),
                password: "rt-123".into()
            }
        );
        assert_eq!(
            store.lookup("other.example").unwrap(),
            Credential::Anonymous
        );
    }

    #[test]
    fn malformed_auth_is_an_error_naming_the_registry() {
        let store = store(r#"{"auths":{"reg.example":{"auth":"!!!"}}}"#);
        let err = store.lookup("reg.example").unwrap_err();
        assert!(
            err.contains("reg.example") && err.contains("base64"),
            "{err}"
        );
        assert!(!format!(
            "{:?}",
            Credential::Basic {
                username: "u".into(),
                password: "hunter2".into()
            }
        )
        .contains("hunter2"));
    }

    #[test]
    fn credential_helpers_are_run_per_registry_then_global() {
        let dir = tempfile::tempdir().unwrap();
        use std::os::unix::fs::PermissionsExt;
        let write_helper = |name: &str, body: &str| {
            let path = dir.path().join(format!("docker-credential-{name}"));
            std::fs::write(
                &path,
                format!("#!/bin/sh\n[ \"$1\" = get ] || exit 9\nread server\n{body}\n"),
            )
            .unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        };
        write_helper(
            "team",
            r#"echo "{\"Username\":\"team-$server\",\"Secret\":\"p1\"}""#,
        );
        write_helper(
            "global",
            r#"echo "credentials not found in native keychain"; exit 1"#,
        );
        let mut store =
            store(r#"{"credsStore":"global","credHelpers":{"reg.team.example":"team"}}"#);
        store.helper_dir = Some(dir.path().to_path_buf());
        assert_eq!(
            store.lookup("reg.team.example").unwrap(),
            Credential::Basic {
                username: "team-reg.team.example".into(),
                password: "p1".into()
            }
        );
        // The global store knows nothing for this host: anonymous, not an error.
        assert_eq!(
            store.lookup("other.example").unwrap(),
            Credential::Anonymous
        );
        // A helper that is missing is an error naming it.
        store.config.creds_store = Some("absent".into());
        assert!(store
            .lookup("other.example")
            .unwrap_err()
            .contains("docker-credential-absent"));
    }

    #[test]
    fn a_helper_that_hangs_is_killed_and_named_and_one_that_rambles_is_quoted_short() {
        let dir = tempfile::tempdir().unwrap();
        use std::os::unix::fs::PermissionsExt;
        let write_helper = |name: &str, body: &str| {
            let path = dir.path().join(format!("docker-credential-{name}"));
            std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        };
        let pid_file = dir.path().join("sleeper.pid");
        // The shell starts a sleep that holds the output pipes open: the
        // whole group must go, or the lookup would wait for it.
        write_helper(
            "stuck",
            &format!("sleep 300 & echo $! > {}\nwait", pid_file.display()),
        );
        write_helper(
            "noisy",
            "head -c 200000 /dev/zero | tr '\\0' 'x'; printf '\\033[2J'; exit 3",
        );
        let mut store =
            store(r#"{"credHelpers":{"reg.stuck.example":"stuck","reg.noisy.example":"noisy"}}"#);
        store.helper_dir = Some(dir.path().to_path_buf());
        store.set_helper_timeout(Duration::from_millis(500));
        let started = Instant::now();
        let err = store.lookup("reg.stuck.example").unwrap_err();
        let took = started.elapsed();
        assert!(took < Duration::from_secs(5), "the lookup took {took:?}");
        assert!(
            err.contains("docker-credential-stuck")
                && err.contains("reg.stuck.example")
                && err.contains("did not answer within 0.5s"),
            "{err}"
        );
        let sleeper = std::fs::read_to_string(&pid_file).unwrap();
        // Gone, or a zombie nobody reaps (no init in a container): not running.
        let running = || {
            std::fs::read_to_string(format!("/proc/{}/stat", sleeper.trim())).is_ok_and(|stat| {
                !stat
                    .rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
        };
        let deadline = Instant::now() + Duration::from_secs(2);
        while running() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            !running(),
            "the helper's child {} was left running",
            sleeper.trim()
        );

        let err = store.lookup("reg.noisy.example").unwrap_err();
        assert!(err.contains("docker-credential-noisy"), "{}", &err[..200]);
        assert!(
            err.len() < 1300,
            "{} bytes of helper output quoted",
            err.len()
        );
        assert!(
            err.ends_with("[truncated]") && !err.contains('\x1b'),
            "{err}"
        );
    }
}
