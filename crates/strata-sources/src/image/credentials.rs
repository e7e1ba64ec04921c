//! Registry credentials the way the docker CLI finds them: explicit
//! user/password, then `config.json` — a per-registry `credHelpers` entry,
//! the global `credsStore`, or an `auths` entry (base64 `user:password` in
//! `auth`, or an `identitytoken`) — then anonymous. Credential helpers are
//! run as `docker-credential-<name> get` with the server on standard input.

use std::{
    collections::BTreeMap,
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Stdio},
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
}

impl CredentialStore {
    /// Loads a docker config; a missing file means no stored credentials,
    /// an unreadable or malformed one is an error naming it.
    pub fn load(path: Option<&Path>) -> Result<CredentialStore, String> {
        let Some(path) = path.map(Path::to_path_buf).or_else(default_docker_config) else {
            return Ok(CredentialStore {
                config: DockerConfig::default(),
                config_path: None,
                helper_dir: None,
            });
        };
        let config = match std::fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => DockerConfig::default(),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        Ok(CredentialStore {
            config,
            config_path: Some(path),
            helper_dir: None,
        })
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
            if let Some(credential) =
                run_helper(self.helper_dir.as_deref(), &helper, registry, &host)?
            {
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
/// credential for the server (its documented "not found" answer).
fn run_helper(
    dir: Option<&Path>,
    helper: &str,
    registry: &str,
    host: &str,
) -> Result<Option<Credential>, String> {
    let program = format!("docker-credential-{helper}");
    let executable = dir.map_or_else(|| PathBuf::from(&program), |d| d.join(&program));
    let server = if host == "docker.io" {
        "https://index.docker.io/v1/".to_string()
    } else {
        registry.to_string()
    };
    let mut child = Command::new(&executable)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("running credential helper {program}: {e}"))?;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(server.as_bytes())
        .map_err(|e| format!("{program}: {e}"))?;
    let out = child
        .wait_with_output()
        .map_err(|e| format!("{program}: {e}"))?;
    if !out.status.success() {
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        if text.to_ascii_lowercase().contains("credentials not found") {
            return Ok(None);
        }
        return Err(format!(
            "{program} get failed for {server}: {}",
            text.trim()
        ));
    }
    let reply: HelperReply = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("{program}: unexpected reply (not credentials JSON): {e}"))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn store(json: &str) -> CredentialStore {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, json).unwrap();
        CredentialStore::load(Some(&path)).unwrap()
    }

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
}
