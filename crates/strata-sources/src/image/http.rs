//! The bounds every registry request is held to, in one place, because a
//! registry is input like any other and may be hostile: it can accept a
//! connection and never answer, trickle a body a byte at a time, send an
//! endless or 2 GB "manifest", copy 20 MB into an error page, or redirect
//! a blob from HTTPS to plain HTTP.
//!
//! - **Which URLs may be plain HTTP** ([`PlainHttp`]): loopback hosts and
//!   the `--insecure-registry` ones. Every other `http://` URL is refused,
//!   whether a redirect leads there ([`redirect_verdict`], at most
//!   [`MAX_REDIRECTS`] hops) or a token realm names it.
//! - **Documents by size** ([`read_capped`]): a body is refused by its
//!   `Content-Length` before any of it is read, and read as a stream that
//!   stops one byte past the cap when there is no length or it lies.
//! - **Error bodies** ([`error_excerpt`]): at most [`MAX_ERROR_EXCERPT`]
//!   bytes are read, control and non-printable characters escaped, a cut
//!   marked. Nothing longer goes into a message.
//! - **Error text from reqwest** ([`describe`]): the cause chain without the
//!   URL reqwest attaches (after a redirect that URL is a signed one, whose
//!   query string carries a token).
//! - **Layer bodies** ([`Pace`]): may be gigabytes, so they get no total
//!   deadline; instead the server must deliver a minimum number of bytes in
//!   every window of time spent waiting on it. A stall is the extreme case.
//! - **Token service** ([`fetch_token`]): the distribution spec's bearer
//!   token flow, shared by manifest/blob pulls and listings, with the same
//!   bounds.
//!
//! Deadlines for whole requests and the retry budget are applied by the two
//! request loops (registry.rs `get_with_retries`, listing.rs `Lister::get`)
//! with the values of [`RegistryTimeouts`].

use std::{error::Error as _, time::Duration};

use reqwest::{header, redirect, Url};
use serde::Deserialize;

use super::{credentials::Credential, registry::RegistryTimeouts};

/// Bytes of an error response's body that may go into a message.
pub(super) const MAX_ERROR_EXCERPT: usize = 1024;
/// A catalog or tag-list page: 1000 names of at most 255 bytes fit many times over.
pub(super) const MAX_LISTING_PAGE: u64 = 8 << 20;
/// A token service's JSON answer (JWTs are a few KiB).
pub(super) const MAX_TOKEN_RESPONSE: u64 = 1 << 20;
/// Redirects followed for one request.
pub(super) const MAX_REDIRECTS: usize = 10;

/// Which hosts may be reached over plain HTTP: loopback, and the hosts
/// (`host[:port]`) named with `--insecure-registry`.
#[derive(Debug, Clone, Default)]
pub(super) struct PlainHttp {
    insecure: Vec<String>,
}

impl PlainHttp {
    pub(super) fn new(insecure: &[String]) -> PlainHttp {
        PlainHttp {
            insecure: insecure.to_vec(),
        }
    }

    /// Whether `host` (`host[:port]`) may be reached over plain HTTP.
    pub(super) fn allows(&self, host: &str) -> bool {
        is_loopback(host) || self.insecure.iter().any(|h| h == host)
    }

    /// Whether `url` may be requested: any `https://` URL, and `http://`
    /// ones to hosts that are allowed plain HTTP.
    fn allows_url(&self, url: &Url) -> bool {
        url.scheme() != "http" || self.allows(&authority(url))
    }
}

pub(super) fn is_loopback(host: &str) -> bool {
    let name = host.rsplit_once(':').map_or(host, |(name, port)| {
        if port.chars().all(|c| c.is_ascii_digit()) {
            name
        } else {
            host
        }
    });
    matches!(name, "localhost" | "127.0.0.1" | "[::1]" | "::1")
}

/// `host[:port]` of a URL (the port only when it is not the scheme's default).
fn authority(url: &Url) -> String {
    let host = url.host_str().unwrap_or("");
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

/// `scheme://host[:port]/` of a URL: enough to name it, nothing of its path
/// or query (signed blob URLs carry tokens there).
pub(super) fn origin_of(url: &Url) -> String {
    format!("{}://{}/", url.scheme(), authority(url))
}

/// Whether a redirect from `from` to `to`, the `hops`-th of its request,
/// may be followed: not past [`MAX_REDIRECTS`], and never to plain HTTP on
/// a host that is not allowed it (from HTTPS that is a downgrade; from an
/// allowed plain host it would still leave the allowed set).
pub(super) fn redirect_verdict(
    from: &Url,
    to: &Url,
    hops: usize,
    plain: &PlainHttp,
) -> Result<(), String> {
    if hops > MAX_REDIRECTS {
        return Err(format!(
            "{} redirected more than {MAX_REDIRECTS} times; giving up",
            origin_of(from)
        ));
    }
    if !matches!(to.scheme(), "http" | "https") {
        return Err(format!(
            "{} redirected to a {}: URL; refused",
            origin_of(from),
            to.scheme()
        ));
    }
    if !plain.allows_url(to) {
        let what = if from.scheme() == "https" {
            "a downgrade from HTTPS"
        } else {
            "plain HTTP is allowed only for loopback and --insecure-registry hosts"
        };
        return Err(format!(
            "{} redirected to plain HTTP at {}; refused ({what})",
            origin_of(from),
            origin_of(to)
        ));
    }
    Ok(())
}

/// The HTTP client for registry traffic: `timeouts.connect`, the redirect
/// rule of [`redirect_verdict`], and a per-read backstop of twice
/// `timeouts.request` (the deadlines and [`Pace`] fire first, with clearer
/// messages).
pub(super) fn client(
    host: &str,
    timeouts: &RegistryTimeouts,
    plain: &PlainHttp,
) -> Result<reqwest::Client, String> {
    let plain = plain.clone();
    let policy = redirect::Policy::custom(move |attempt| {
        let verdict = match attempt.previous().last() {
            Some(from) => redirect_verdict(from, attempt.url(), attempt.previous().len(), &plain),
            None => Ok(()),
        };
        match verdict {
            Ok(()) => attempt.follow(),
            Err(refusal) => attempt.error(refusal),
        }
    });
    reqwest::Client::builder()
        .connect_timeout(timeouts.connect)
        .read_timeout(timeouts.request * 2)
        .redirect(policy)
        .build()
        .map_err(|e| format!("{host}: building the HTTP client: {}", describe(e)))
}

/// A reqwest error as text: its cause chain, without the URL reqwest
/// attaches (callers name the registry URL they asked for themselves).
pub(super) fn describe(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    escape_excerpt(text.as_bytes(), false)
}

/// `limit` as a short human duration, to a tenth of a second (`2s`, `1.5s`).
pub(super) fn seconds(limit: Duration) -> String {
    format!("{}s", (limit.as_secs_f64() * 10.0).round() / 10.0)
}

/// Reads a whole body of at most `cap` bytes. Refuses by `Content-Length`
/// before reading, and stops one chunk past `cap` when the length is
/// missing or wrong. `what` names the document in messages.
pub(super) async fn read_capped(
    mut response: reqwest::Response,
    cap: u64,
    what: &str,
) -> Result<Vec<u8>, String> {
    if let Some(length) = response.content_length().filter(|&l| l > cap) {
        return Err(format!(
            "{what}: the registry announces {length} bytes, more than the {cap} allowed; not read"
        ));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("{what}: reading the response: {}", describe(e)))?
    {
        if body.len() as u64 + chunk.len() as u64 > cap {
            return Err(format!(
                "{what}: larger than the {cap} bytes allowed; stopped reading"
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The start of an error response's body, fit for a message: at most
/// [`MAX_ERROR_EXCERPT`] bytes read, escaped by [`escape_excerpt`].
/// Empty when there is no body or it cannot be read.
pub(super) async fn error_excerpt(mut response: reqwest::Response) -> String {
    let mut head = Vec::new();
    let mut truncated = false;
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = MAX_ERROR_EXCERPT + 1 - head.len();
        head.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if head.len() > MAX_ERROR_EXCERPT {
            head.truncate(MAX_ERROR_EXCERPT);
            truncated = true;
            break;
        }
    }
    escape_excerpt(&head, truncated)
}

/// `bytes` as one line of printable text of at most [`MAX_ERROR_EXCERPT`]
/// characters: invalid UTF-8 replaced, control characters (newlines too)
/// and other non-printables escaped (`\n`, `\u{1b}`), surrounding space
/// trimmed, and `… [truncated]` appended when `truncated` or when the
/// escaping would pass the limit.
pub(super) fn escape_excerpt(bytes: &[u8], mut truncated: bool) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_ERROR_EXCERPT)]);
    truncated |= bytes.len() > MAX_ERROR_EXCERPT;
    let mut out = String::new();
    for c in text.trim().chars() {
        let escaped: String = if c.is_control() || is_invisible(c) {
            c.escape_default().collect()
        } else {
            c.to_string()
        };
        if out.chars().count() + escaped.chars().count() > MAX_ERROR_EXCERPT {
            truncated = true;
            break;
        }
        out.push_str(&escaped);
    }
    if truncated {
        out.push_str(" … [truncated]");
    }
    out
}

/// Characters that print as nothing, reorder text or render as anything a
/// font likes: soft hyphen, zero-width and bidi controls, word joiners,
/// the BOM, interlinear annotations, and the private-use area.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{206F}'
        | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}' | '\u{E000}'..='\u{F8FF}')
}

/// The minimum-throughput rule for a body that may legitimately be huge:
/// in every `window` of time spent *waiting on the server* (time the reader
/// spends elsewhere does not count), at least `min_bytes` must arrive. A
/// stalled body fails after one window, a trickle after the first window
/// it falls short in.
pub(super) struct Pace {
    window: Duration,
    min_bytes: u64,
    waited: Duration,
    bytes: u64,
}

impl Pace {
    pub(super) fn new(timeouts: &RegistryTimeouts) -> Pace {
        Pace {
            window: timeouts.stall_window,
            min_bytes: timeouts.min_bytes_per_window,
            waited: Duration::ZERO,
            bytes: 0,
        }
    }

    /// How long the next wait on the server may last before the current
    /// window must be judged.
    pub(super) fn patience(&self) -> Duration {
        self.window.saturating_sub(self.waited)
    }

    /// Records a wait of `waited` that brought `bytes` (0 when the wait ran
    /// out). An error when a whole window has passed with too few bytes.
    pub(super) fn record(&mut self, waited: Duration, bytes: u64) -> Result<(), String> {
        self.waited += waited;
        self.bytes += bytes;
        if self.waited < self.window {
            return Ok(());
        }
        if self.bytes < self.min_bytes {
            return Err(format!(
                "the registry sent {} bytes in {} (at least {} are required per {}); \
                 the transfer is stalled or too slow",
                self.bytes,
                seconds(self.waited),
                self.min_bytes,
                seconds(self.window)
            ));
        }
        self.waited = Duration::ZERO;
        self.bytes = 0;
        Ok(())
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
}

/// The realm and service of a `WWW-Authenticate: Bearer …` challenge;
/// `None` when it is not a bearer challenge with a realm.
pub(super) fn bearer_challenge(headers: &header::HeaderMap) -> Option<(String, Option<String>)> {
    let text = headers.get(header::WWW_AUTHENTICATE)?.to_str().ok()?;
    let params = text
        .trim_start()
        .strip_prefix("Bearer ")
        .or_else(|| text.trim_start().strip_prefix("bearer "))?;
    let pairs = parse_challenge(params);
    let find = |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.clone())
    };
    Some((find("realm")?, find("service")))
}

/// Asks the token service `realm` for a token for `scope` (with basic
/// credentials when there are any), within `timeouts.request`. `None`
/// when the service answers without a token.
pub(super) async fn fetch_token(
    http: &reqwest::Client,
    host: &str,
    (realm, service): (&str, Option<&str>),
    scope: &str,
    credential: &Credential,
    timeouts: &RegistryTimeouts,
    plain: &PlainHttp,
) -> Result<Option<String>, String> {
    let realm_url = Url::parse(realm)
        .map_err(|_| format!("{host}: the token realm in the registry's challenge is not a URL"))?;
    let service_name = origin_of(&realm_url);
    if !matches!(realm_url.scheme(), "http" | "https") || !plain.allows_url(&realm_url) {
        return Err(format!(
            "{host}: the token service {service_name} is not HTTPS; refused \
             (plain HTTP is allowed only for loopback and --insecure-registry hosts)"
        ));
    }
    let mut query: Vec<(&str, &str)> = vec![("scope", scope)];
    if let Some(service) = service {
        query.push(("service", service));
    }
    let mut request = http.get(realm_url).query(&query);
    if let Credential::Basic { username, password } = credential {
        request = request.basic_auth(username, Some(password));
    }
    let ask = async {
        let response = request
            .send()
            .await
            .map_err(|e| format!("{host}: asking {service_name} for a token: {}", describe(e)))?;
        let status = response.status();
        if !status.is_success() {
            let excerpt = error_excerpt(response).await;
            return Err(format!(
                "{host}: the token service {service_name} answered {status} {excerpt}"
            ));
        }
        read_capped(
            response,
            MAX_TOKEN_RESPONSE,
            &format!("{host}: the token from {service_name}"),
        )
        .await
    };
    let body = tokio::time::timeout(timeouts.request, ask)
        .await
        .map_err(|_| {
            format!(
                "{host}: the token service {service_name} gave no complete answer within {}",
                seconds(timeouts.request)
            )
        })??;
    let token: TokenResponse = serde_json::from_slice(&body).map_err(|e| {
        format!(
            "{host}: the token service sent invalid JSON: {}",
            super::spec::json_error(&e)
        )
    })?;
    Ok(token.token.or(token.access_token).filter(|t| !t.is_empty()))
}

/// `key="value", key2="value2"` → pairs.
pub(super) fn parse_challenge(text: &str) -> Vec<(String, String)> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn loopback_hosts() {
        assert!(
            is_loopback("127.0.0.1:5000") && is_loopback("localhost") && is_loopback("[::1]:443")
        );
        assert!(!is_loopback("registry.example.com:5000") && !is_loopback("10.0.0.1"));
    }

    #[test]
    fn https_to_http_redirect_is_refused_naming_both_hosts_but_no_query() {
        let plain = PlainHttp::new(&[]);
        let err = redirect_verdict(
            &url("https://reg.example/v2/app/blobs/sha256:ab"),
            &url("http://cdn.example/blob?X-Amz-Signature=s3cr3t&X-Amz-Credential=AKIA"),
            1,
            &plain,
        )
        .unwrap_err();
        assert!(
            err.contains("reg.example") && err.contains("cdn.example"),
            "{err}"
        );
        assert!(err.contains("downgrade"), "{err}");
        assert!(
            !err.contains("s3cr3t") && !err.contains("AKIA") && !err.contains("/blob"),
            "{err}"
        );
    }

    #[test]
    fn https_redirects_and_plain_ones_to_allowed_hosts_are_followed() {
        let plain = PlainHttp::new(&["mirror.internal:5000".to_string()]);
        let from = url("https://reg.example/v2/app/blobs/sha256:ab");
        for to in [
            "https://bucket.s3.amazonaws.com/x?sig=1",
            "http://127.0.0.1:9000/x",
            "http://localhost/x",
            "http://mirror.internal:5000/x",
        ] {
            assert_eq!(redirect_verdict(&from, &url(to), 1, &plain), Ok(()), "{to}");
        }
        // The port is part of the allowed name.
        assert!(redirect_verdict(&from, &url("http://mirror.internal/x"), 1, &plain).is_err());
        // Plain to plain, but leaving the allowed hosts.
        assert!(redirect_verdict(
            &url("http://127.0.0.1:5000/v2/"),
            &url("http://elsewhere.example/x"),
            1,
            &plain
        )
        .is_err());
        assert!(redirect_verdict(&from, &url("file:///etc/passwd"), 1, &plain).is_err());
    }

    #[test]
    fn redirects_are_capped() {
        let plain = PlainHttp::new(&[]);
        let (a, b) = (url("https://a.example/"), url("https://b.example/"));
        assert_eq!(redirect_verdict(&a, &b, MAX_REDIRECTS, &plain), Ok(()));
        let err = redirect_verdict(&a, &b, MAX_REDIRECTS + 1, &plain).unwrap_err();
        assert!(err.contains("more than 10"), "{err}");
    }

    #[test]
    fn excerpts_are_short_escaped_and_marked_when_cut() {
        assert_eq!(escape_excerpt(b"  not found\n", false), "not found");
        assert_eq!(
            escape_excerpt(b"a\x1b[31mred\r\nnext\x00", false),
            "a\\u{1b}[31mred\\r\\nnext\\u{0}"
        );
        assert_eq!(escape_excerpt(b"bad \xff byte", false), "bad \u{FFFD} byte");
        assert_eq!(
            escape_excerpt("x\u{202E}y".as_bytes(), false),
            "x\\u{202e}y"
        );
        let huge = vec![b'A'; 20 << 20];
        let cut = escape_excerpt(&huge, false);
        assert!(cut.ends_with("[truncated]") && cut.len() < MAX_ERROR_EXCERPT + 20);
        // Escaping cannot blow the limit up either.
        let controls = vec![0u8; MAX_ERROR_EXCERPT];
        let cut = escape_excerpt(&controls, false);
        assert!(
            cut.chars().count() <= MAX_ERROR_EXCERPT + 20,
            "{}",
            cut.len()
        );
        assert!(cut.ends_with("[truncated]"));
    }

    fn timeouts(window_ms: u64, min_bytes: u64) -> RegistryTimeouts {
        RegistryTimeouts {
            stall_window: Duration::from_millis(window_ms),
            min_bytes_per_window: min_bytes,
            ..RegistryTimeouts::default()
        }
    }

    #[test]
    fn pace_fails_a_trickle_and_a_stall_but_not_a_slow_reader() {
        let ms = Duration::from_millis;
        // A trickle: 10 bytes every 100 ms against 1000 bytes per second.
        let mut pace = Pace::new(&timeouts(1000, 1000));
        let mut failed = None;
        for i in 0..20 {
            if let Err(e) = pace.record(ms(100), 10) {
                failed = Some((i, e));
                break;
            }
        }
        let (at, err) = failed.expect("the trickle fails");
        assert_eq!(at, 9, "judged at the end of the first window");
        assert!(
            err.contains("100 bytes") && err.contains("stalled"),
            "{err}"
        );
        // A stall: the wait runs out with nothing.
        let mut pace = Pace::new(&timeouts(1000, 1000));
        assert_eq!(pace.patience(), ms(1000));
        assert!(pace.record(pace.patience(), 0).is_err());
        // Fast enough, window after window.
        let mut pace = Pace::new(&timeouts(1000, 1000));
        for _ in 0..100 {
            pace.record(ms(300), 400).unwrap();
        }
        // Only time spent waiting counts: a reader that pauses between
        // reads (it is scanning) is not the server's fault; `record` is
        // never told about that time.
        assert!(pace.patience() <= ms(1000));
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
        let mut headers = header::HeaderMap::new();
        headers.insert(
            header::WWW_AUTHENTICATE,
            r#"Bearer realm="https://auth.example/token",service="reg""#
                .parse()
                .unwrap(),
        );
        assert_eq!(
            bearer_challenge(&headers),
            Some(("https://auth.example/token".into(), Some("reg".into())))
        );
        headers.insert(
            header::WWW_AUTHENTICATE,
            r#"Basic realm="strata-test""#.parse().unwrap(),
        );
        assert_eq!(bearer_challenge(&headers), None);
    }

    #[test]
    fn token_realms_in_clear_are_refused_unless_allowed() {
        let plain = PlainHttp::new(&[]);
        assert!(!plain.allows_url(&url("http://auth.example/token")));
        assert!(plain.allows_url(&url("http://127.0.0.1:8080/token")));
        assert!(plain.allows_url(&url("https://auth.example/token")));
    }
}
