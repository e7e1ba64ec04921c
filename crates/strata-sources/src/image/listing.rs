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
//! and dropped connections that honour `Retry-After`. Every page is read
//! under the bounds of the `http` module: one attempt within
//! `timeouts.request`, at most [`MAX_LISTING_PAGE`] bytes, error bodies
//! never quoted; all attempts within `timeouts.retry_budget`.

use std::time::{Duration, Instant};

use reqwest::{header, StatusCode};
use serde::Deserialize;

use super::{
    credentials::Credential,
    http::{
        bearer_challenge, describe, fetch_token, read_capped, seconds, PlainHttp, MAX_LISTING_PAGE,
    },
    registry::RegistryTimeouts,
};

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
    timeouts: RegistryTimeouts,
    plain: PlainHttp,
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

/// One response, read whole (listings are small JSON documents).
struct Page {
    body: Vec<u8>,
    next: Option<String>,
}

impl Lister {
    /// A lister for `host` (`host[:port]`) through `http` (built by the
    /// registry client, with its redirect rule). `plain_http` is decided
    /// by the caller (loopback or `--insecure-registry`).
    pub(super) fn new(
        host: &str,
        plain_http: bool,
        credential: Credential,
        page_size: usize,
        http: reqwest::Client,
        timeouts: RegistryTimeouts,
        plain: PlainHttp,
    ) -> Lister {
        Lister {
            http,
            scheme: if plain_http { "http" } else { "https" },
            host: host.to_string(),
            credential,
            token: std::sync::Mutex::new(None),
            page_size: page_size.clamp(1, 1000),
            timeouts,
            plain,
        }
    }

    /// Every repository in the catalog, in the registry's order.
    pub async fn repositories(&self) -> Result<Vec<String>, String> {
        let first = format!("/v2/_catalog?n={}", self.page_size);
        let mut names = Vec::new();
        self.paginate(&first, "registry:catalog:*", |body| {
            let page: CatalogPage = serde_json::from_slice(body).map_err(|e| {
                format!(
                    "{}: the catalog is not valid JSON: {}",
                    self.host,
                    super::spec::json_error(&e)
                )
            })?;
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
                    "{}/{repository}: the tag list is not valid JSON: {}",
                    self.host,
                    super::spec::json_error(&e)
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
        let mut backoff = Backoff::new(ATTEMPTS, self.timeouts.retry_budget);
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
            let limit = self.timeouts.request;
            let failure = match tokio::time::timeout(limit, self.attempt(request, &url)).await {
                Err(_) => (
                    format!("{url}: no complete answer within {}", seconds(limit)),
                    None,
                ),
                Ok(Attempt::Page(page)) => return Ok(page),
                Ok(Attempt::Failed(message)) => return Err(message),
                Ok(Attempt::Transient(message, wait)) => (message, wait),
                Ok(Attempt::Challenged(challenge)) => {
                    if authenticated_once {
                        return Err(format!("{url}: 401 Unauthorized (credentials refused)"));
                    }
                    authenticated_once = true;
                    if let Some((realm, service)) = challenge {
                        let token = fetch_token(
                            &self.http,
                            &self.host,
                            (&realm, service.as_deref()),
                            scope,
                            &self.credential,
                            &self.timeouts,
                            &self.plain,
                        )
                        .await?;
                        if let Some(token) = token {
                            *self.token.lock().unwrap() = Some((scope.to_string(), token));
                            continue;
                        }
                    }
                    if matches!(self.credential, Credential::Basic { .. }) {
                        // Basic was sent and refused.
                        return Err(format!("{url}: 401 Unauthorized (credentials refused)"));
                    }
                    return Err(format!("{url}: 401 Unauthorized (no credentials for {}; use --username/--password-stdin or docker login)", self.host));
                }
            };
            let (message, wait) = failure;
            backoff.wait(message, wait).await?;
        }
    }

    /// One try of a listing request, its page read whole (up to
    /// [`MAX_LISTING_PAGE`]).
    async fn attempt(&self, request: reqwest::RequestBuilder, url: &str) -> Attempt {
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => {
                let retry = !e.is_redirect()
                    && (e.is_connect() || e.is_timeout() || e.is_request() || e.is_body());
                let message = format!("{url}: {}", describe(e));
                return if retry {
                    Attempt::Transient(message, None)
                } else {
                    Attempt::Failed(message)
                };
            }
        };
        let status = response.status();
        if status.is_success() {
            let next = next_link(response.headers());
            return match read_capped(response, MAX_LISTING_PAGE, url).await {
                Ok(body) => Attempt::Page(Page { body, next }),
                Err(message) => Attempt::Failed(message),
            };
        }
        if status == StatusCode::UNAUTHORIZED {
            return Attempt::Challenged(bearer_challenge(response.headers()));
        }
        let transient = status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
        let wait = retry_after(response.headers());
        let message = format!("{url}: {status}");
        if transient {
            Attempt::Transient(message, wait)
        } else {
            Attempt::Failed(message)
        }
    }
}

/// How one try of a listing request ended.
enum Attempt {
    Page(Page),
    /// A 401, with the bearer challenge's realm and service if it has one.
    Challenged(Option<(String, Option<String>)>),
    /// Worth another try (after the wait a `Retry-After` asks for).
    Transient(String, Option<Duration>),
    Failed(String),
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
/// [`MAX_RETRY_AFTER`]), for at most a given number of tries and never
/// past a budget of time for all of them together.
pub(super) struct Backoff {
    attempts: u32,
    attempt: u32,
    delay: Duration,
    started: Instant,
    budget: Duration,
}

impl Backoff {
    pub(super) fn new(attempts: u32, budget: Duration) -> Backoff {
        Backoff {
            attempts,
            attempt: 1,
            delay: Duration::from_millis(500),
            started: Instant::now(),
            budget,
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
        let spent = self.started.elapsed();
        if spent + wait > self.budget {
            return Err(format!(
                "{message} (gave up after {} attempts in {}: another would pass the {} allowed for one request)",
                self.attempt,
                seconds(Duration::from_millis(spent.as_millis() as u64)),
                seconds(self.budget)
            ));
        }
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
