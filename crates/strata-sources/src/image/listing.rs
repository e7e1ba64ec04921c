//! Listing what a registry holds: `/v2/_catalog` for repositories and
//! `/v2/<name>/tags/list` for tags, page by page.
//!
//! oci-client can ask for these, but it hides the response headers, and a
//! registry says where the next page is in a `Link: <…>; rel="next"`
//! header (distribution 2.8 answers 100 repositories per page and rejects
//! `n` above 1000). So these two endpoints are requested here directly,
//! with the same reqwest that oci-client uses: the token dance of the
//! distribution spec (a `401` with `WWW-Authenticate: Bearer realm=…`
//! answered by a token for the scope), HTTP basic auth, HTTPS except for
//! loopback and `--insecure-registry` hosts, and retries on `429`/`5xx`
//! and dropped connections that honour `Retry-After`.

use std::time::Duration;

use reqwest::{header, StatusCode};
use serde::Deserialize;

use super::credentials::Credential;

/// Pages followed at most for one listing: a registry that keeps sending
/// `next` links is cut off rather than looped on forever.
const MAX_PAGES: usize = 100_000;
const ATTEMPTS: u32 = 5;
/// Longest wait a `Retry-After` may ask for before we give up instead.
pub(super) const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

/// Lists repositories and tags of one registry.
pub struct Lister {
    http: reqwest::Client,
    /// `http` or `https`.
    scheme: &'static str,
    /// `host[:port]`.
    host: String,
    credential: Credential,
    /// The bearer token for the last scope, if the registry hands out tokens.
    token: std::sync::Mutex<Option<(String, String)>>,
    page_size: usize,
}

#[derive(Deserialize)]
struct CatalogPage {
    #[serde(default)]
    repositories: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct TagsPage {
    #[serde(default)]
    tags: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
}

/// One response, read whole (listings are small JSON documents).
struct Page {
    body: Vec<u8>,
    next: Option<String>,
}

impl Lister {
    /// A lister for `host` (`host[:port]`). `plain_http` is decided by the
    /// caller (loopback or `--insecure-registry`).
    pub fn new(
        host: &str,
        plain_http: bool,
        credential: Credential,
        page_size: usize,
    ) -> Result<Lister, String> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(15))
            .read_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| format!("{host}: building the HTTP client: {e}"))?;
        Ok(Lister {
            http,
            scheme: if plain_http { "http" } else { "https" },
            host: host.to_string(),
            credential,
            token: std::sync::Mutex::new(None),
            page_size: page_size.clamp(1, 1000),
        })
    }

    /// Every repository in the catalog, in the registry's order.
    pub async fn repositories(&self) -> Result<Vec<String>, String> {
        let first = format!("/v2/_catalog?n={}", self.page_size);
        let mut names = Vec::new();
        self.paginate(&first, "registry:catalog:*", |body| {
            let page: CatalogPage = serde_json::from_slice(body)
                .map_err(|e| format!("{}: the catalog is not valid JSON: {e}", self.host))?;
            names.extend(page.repositories.unwrap_or_default());
            Ok(())
        })
        .await?;
        Ok(names)
    }

    /// Every tag of `repository`.
    pub async fn tags(&self, repository: &str) -> Result<Vec<String>, String> {
        let first = format!("/v2/{repository}/tags/list?n={}", self.page_size);
        let scope = format!("repository:{repository}:pull");
        let mut tags = Vec::new();
        self.paginate(&first, &scope, |body| {
            let page: TagsPage = serde_json::from_slice(body).map_err(|e| {
                format!(
                    "{}/{repository}: the tag list is not valid JSON: {e}",
                    self.host
                )
            })?;
            tags.extend(page.tags.unwrap_or_default());
            Ok(())
        })
        .await?;
        Ok(tags)
    }

    async fn paginate(
        &self,
        first: &str,
        scope: &str,
        mut take: impl FnMut(&[u8]) -> Result<(), String>,
    ) -> Result<(), String> {
        let mut path = first.to_string();
        for _ in 0..MAX_PAGES {
            let page = self.get(&path, scope).await?;
            take(&page.body)?;
            match page.next {
                Some(next) => path = next,
                None => return Ok(()),
            }
        }
        Err(format!(
            "{}{first}: more than {MAX_PAGES} pages; giving up",
            self.host
        ))
    }

    fn url(&self, path: &str) -> String {
        format!("{}://{}{path}", self.scheme, self.host)
    }

    /// GET with auth and retries; `path` starts with `/v2/`.
    async fn get(&self, path: &str, scope: &str) -> Result<Page, String> {
        let url = self.url(path);
        let mut backoff = Backoff::new(ATTEMPTS);
        let mut authenticated_once = false;
        loop {
            let mut request = self.http.get(&url);
            let token = self.token.lock().unwrap().clone();
            match (&token, &self.credential) {
                (Some((token_scope, token)), _) if token_scope == scope => {
                    request = request.bearer_auth(token);
                }
                (_, Credential::Basic { username, password }) => {
                    request = request.basic_auth(username, Some(password));
                }
                _ => {}
            }
            let failure = match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    if status.is_success() {
                        let next = next_link(response.headers());
                        let body = response
                            .bytes()
                            .await
                            .map_err(|e| format!("{url}: reading the response: {e}"))?;
                        return Ok(Page {
                            body: body.to_vec(),
                            next,
                        });
                    }
                    if status == StatusCode::UNAUTHORIZED && !authenticated_once {
                        authenticated_once = true;
                        let challenge = response
                            .headers()
                            .get(header::WWW_AUTHENTICATE)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_string();
                        if let Some(token) = self.fetch_token(&challenge, scope).await? {
                            *self.token.lock().unwrap() = Some((scope.to_string(), token));
                            continue;
                        }
                        if matches!(self.credential, Credential::Basic { .. }) {
                            // Basic was sent and refused.
                            return Err(format!("{url}: 401 Unauthorized (credentials refused)"));
                        }
                        return Err(format!("{url}: 401 Unauthorized (no credentials for {}; use --username/--password-stdin or docker login)", self.host));
                    }
                    let transient =
                        status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
                    let wait = retry_after(response.headers());
                    let message = format!("{url}: {status}");
                    if !transient {
                        return Err(message);
                    }
                    (message, wait)
                }
                Err(e) => {
                    let message = format!("{url}: {e}");
                    if !(e.is_connect() || e.is_timeout() || e.is_request() || e.is_body()) {
                        return Err(message);
                    }
                    (message, None)
                }
            };
            let (message, wait) = failure;
            backoff.wait(message, wait).await?;
        }
    }

    /// Answers a bearer challenge: asks the realm for a token for `scope`
    /// (with basic credentials if we have them). `None`: not a bearer challenge.
    async fn fetch_token(&self, challenge: &str, scope: &str) -> Result<Option<String>, String> {
        let Some(params) = challenge.strip_prefix("Bearer ") else {
            return Ok(None);
        };
        let params = parse_challenge(params);
        let Some(realm) = params.iter().find(|(k, _)| k == "realm").map(|(_, v)| v) else {
            return Ok(None);
        };
        let mut query: Vec<(&str, &str)> = vec![("scope", scope)];
        if let Some((_, service)) = params.iter().find(|(k, _)| k == "service") {
            query.push(("service", service));
        }
        let mut request = self.http.get(realm).query(&query);
        if let Credential::Basic { username, password } = &self.credential {
            request = request.basic_auth(username, Some(password));
        }
        let response = request
            .send()
            .await
            .map_err(|e| format!("{}: asking {realm} for a token: {e}", self.host))?;
        if !response.status().is_success() {
            return Err(format!(
                "{}: the token service {realm} answered {}",
                self.host,
                response.status()
            ));
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| format!("{}: reading the token: {e}", self.host))?;
        let token: TokenResponse = serde_json::from_slice(&body)
            .map_err(|e| format!("{}: the token service sent invalid JSON: {e}", self.host))?;
        Ok(token.token.or(token.access_token))
    }
}

/// `key="value", key2="value2"` → pairs.
fn parse_challenge(text: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut rest = text.trim();
    while let Some((key, after)) = rest.split_once('=') {
        let key = key.trim().trim_start_matches(',').trim().to_string();
        let after = after.trim_start();
        let (value, remainder) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.split_once('"') {
                Some((value, remainder)) => (value, remainder),
                None => (quoted, ""),
            }
        } else {
            match after.split_once(',') {
                Some((value, remainder)) => (value, remainder),
                None => (after, ""),
            }
        };
        pairs.push((key, value.trim().to_string()));
        rest = remainder.trim_start().trim_start_matches(',');
    }
    pairs
}

/// The path and query of a `Link: <…>; rel="next"` header. Absolute links
/// are reduced to their path: the next page comes from the same host.
fn next_link(headers: &header::HeaderMap) -> Option<String> {
    for value in headers.get_all(header::LINK) {
        let text = value.to_str().ok()?;
        for link in text.split(',') {
            let (target, params) = link.split_once(';').unwrap_or((link, ""));
            if !params.split(';').any(|p| {
                matches!(
                    p.trim().replace(' ', "").as_str(),
                    "rel=\"next\"" | "rel=next"
                )
            }) {
                continue;
            }
            let target = target.trim().trim_start_matches('<').trim_end_matches('>');
            let path = match target.split_once("://") {
                Some((_, after_scheme)) => after_scheme
                    .find('/')
                    .map_or("/", |slash| &after_scheme[slash..]),
                None => target,
            };
            if path.starts_with("/v2/") {
                return Some(path.to_string());
            }
        }
    }
    None
}

/// The retry schedule of every registry request: waits of 0.5, 1, 2 s …,
/// or as long as the registry's `Retry-After` asks (up to
/// [`MAX_RETRY_AFTER`]), for at most a given number of tries.
pub(super) struct Backoff {
    attempts: u32,
    attempt: u32,
    delay: Duration,
}

impl Backoff {
    pub(super) fn new(attempts: u32) -> Backoff {
        Backoff {
            attempts,
            attempt: 1,
            delay: Duration::from_millis(500),
        }
    }

    /// After a failed try described by `message`: sleeps until the next
    /// try, or returns why there is none.
    pub(super) async fn wait(
        &mut self,
        message: String,
        retry_after: Option<Duration>,
    ) -> Result<(), String> {
        if self.attempt >= self.attempts {
            return Err(format!("{message} (after {} attempts)", self.attempts));
        }
        let wait = match retry_after {
            Some(wait) if wait > MAX_RETRY_AFTER => {
                return Err(format!(
                    "{message}: the registry asks to retry after {}s; giving up",
                    wait.as_secs()
                ))
            }
            Some(wait) => wait,
            None => self.delay,
        };
        tokio::time::sleep(wait).await;
        self.delay *= 2;
        self.attempt += 1;
        Ok(())
    }
}

/// `Retry-After` in seconds (the HTTP-date form is treated as "no hint").
pub(super) fn retry_after(headers: &header::HeaderMap) -> Option<Duration> {
    headers
        .get(header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> header::HeaderMap {
        let mut map = header::HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn next_links_relative_absolute_and_absent() {
        let h = headers(&[("link", r#"</v2/_catalog?last=b&n=2>; rel="next""#)]);
        assert_eq!(next_link(&h).as_deref(), Some("/v2/_catalog?last=b&n=2"));
        let h = headers(&[(
            "link",
            r#"<https://reg.example:5000/v2/a/tags/list?n=2&last=v2>; rel="next""#,
        )]);
        assert_eq!(
            next_link(&h).as_deref(),
            Some("/v2/a/tags/list?n=2&last=v2")
        );
        let h = headers(&[("link", r#"</v2/_catalog?last=b>; rel="prev""#)]);
        assert_eq!(next_link(&h), None);
        assert_eq!(next_link(&headers(&[])), None);
    }

    #[test]
    fn bearer_challenges_parse() {
        let pairs = parse_challenge(
            r#"realm="https://auth.example/token",service="registry.example",scope="registry:catalog:*""#,
        );
        assert_eq!(
            pairs[0],
            ("realm".into(), "https://auth.example/token".into())
        );
        assert_eq!(pairs[1], ("service".into(), "registry.example".into()));
        assert_eq!(pairs[2], ("scope".into(), "registry:catalog:*".into()));
    }

    #[test]
    fn retry_after_seconds_only() {
        assert_eq!(
            retry_after(&headers(&[("retry-after", "3")])),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            retry_after(&headers(&[(
                "retry-after",
                "Wed, 21 Oct 2015 07:28:00 GMT"
            )])),
            None
        );
    }
}
