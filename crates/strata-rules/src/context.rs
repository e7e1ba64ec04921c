//! Context rules: a credential with no prefix of its own (32 hex, 40
//! base62) that is only a credential next to its provider's name.
//!
//! A context rule is data (provider keywords, a value shape, a distance),
//! and this module turns it into an ordinary rule regex, so the engine needs
//! no second matching path:
//!
//! ```text
//! (?i:kw1|kw2) GAP [^A] (?P<secret>VALUE) (?:[^A]|$)
//! ```
//!
//! `A` is every byte the value's shape can contain, so the value is always a
//! whole run of its alphabet: never a slice of a longer token, never glued
//! to the word before it. `GAP` is at most `distance` bytes, lazy, so the
//! first value after the keyword is the one taken; it stays on the
//! keyword's line unless the rule is `multiline`.

use regex_syntax::hir::{Class, Hir, HirKind};
use serde::Deserialize;

/// Default most bytes between the end of a keyword and the value.
pub const DEFAULT_DISTANCE: usize = 40;
/// Largest distance a context rule may ask for.
pub const MAX_DISTANCE: usize = 200;
/// Default bytes on each side of the secret searched for a pair's value.
pub const DEFAULT_PAIR_DISTANCE: usize = 200;
/// Entropy floor of a context rule that sets none: a keyword next to a
/// low-entropy word (`mapbox_token = development`) is not a credential.
pub const DEFAULT_MIN_ENTROPY: f64 = 3.0;

/// `[rules.context]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ContextSpec {
    pub value: String,
    #[serde(default)]
    pub distance: Option<usize>,
    #[serde(default)]
    pub multiline: bool,
    #[serde(default)]
    pub pair: Option<PairSpec>,
}

/// `[rules.context.pair]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PairSpec {
    pub name: String,
    pub value: String,
    #[serde(default)]
    pub distance: Option<usize>,
}

/// The other half of an id + secret pair: searched for near each secret
/// the rule finds and reported beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct Pair {
    /// What reports call it (`app-id`, `account-sid`).
    pub name: String,
    /// A regex whose group `pair` is the value, bounded like a context
    /// value (a whole run of its alphabet).
    pub regex: String,
    /// Bytes on each side of the secret searched.
    pub distance: usize,
}

/// The regex of a context rule with `keywords` (already lower-cased).
pub(crate) fn build_regex(keywords: &[String], spec: &ContextSpec) -> Result<String, String> {
    let distance = spec.distance.unwrap_or(DEFAULT_DISTANCE);
    if distance == 0 || distance > MAX_DISTANCE {
        return Err(format!(
            "context distance must be between 1 and {MAX_DISTANCE}"
        ));
    }
    let alphabet = value_alphabet(&spec.value)?;
    let outside = negated_class(&alphabet, if spec.multiline { b"" } else { b"\r\n" });
    let after = negated_class(&alphabet, b"");
    let gap = if spec.multiline {
        format!("(?s:.){{0,{distance}}}?")
    } else {
        format!("[^\\r\\n]{{0,{distance}}}?")
    };
    let keywords: Vec<String> = keywords.iter().map(|k| regex_syntax::escape(k)).collect();
    Ok(format!(
        "(?i:{})(?-i:{gap}{outside}(?P<secret>{})(?:{after}|(?m:$)))",
        keywords.join("|"),
        spec.value,
    ))
}

/// The pair of a context rule, checked.
pub(crate) fn build_pair(spec: &PairSpec) -> Result<Pair, String> {
    if spec.name.trim().is_empty() {
        return Err("context pair name is empty".into());
    }
    let distance = spec.distance.unwrap_or(DEFAULT_PAIR_DISTANCE);
    if distance == 0 || distance > crate::rule::MAX_WINDOW {
        return Err(format!(
            "context pair distance must be between 1 and {}",
            crate::rule::MAX_WINDOW
        ));
    }
    let alphabet = value_alphabet(&spec.value)?;
    let outside = negated_class(&alphabet, b"");
    Ok(Pair {
        name: spec.name.trim().to_string(),
        regex: format!("(?:^|{outside})(?P<pair>{})(?:{outside}|$)", spec.value),
        distance,
    })
}

/// Every byte `pattern` can match, or why it cannot be a value shape.
fn value_alphabet(pattern: &str) -> Result<[bool; 256], String> {
    let hir = regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(pattern)
        .map_err(|e| format!("context value: {e}"))?;
    let mut alphabet = [false; 256];
    collect(&hir, &mut alphabet)?;
    if alphabet.iter().all(|&b| b) {
        return Err("context value can match any byte; give it an alphabet".into());
    }
    if hir.properties().minimum_len().unwrap_or(0) < 8 {
        return Err("context value must be at least 8 bytes long".into());
    }
    Ok(alphabet)
}

fn collect(hir: &Hir, alphabet: &mut [bool; 256]) -> Result<(), String> {
    match hir.kind() {
        HirKind::Empty => {}
        HirKind::Literal(literal) => {
            for &b in literal.0.iter() {
                alphabet[b as usize] = true;
            }
        }
        HirKind::Class(Class::Bytes(class)) => {
            for range in class.ranges() {
                for b in range.start()..=range.end() {
                    alphabet[b as usize] = true;
                }
            }
        }
        HirKind::Class(Class::Unicode(_)) => {
            return Err("context value must be ASCII bytes".into());
        }
        HirKind::Look(_) => return Err("context value must not contain anchors or \\b".into()),
        HirKind::Repetition(rep) => collect(&rep.sub, alphabet)?,
        HirKind::Capture(_) => {
            return Err("context value must not contain capture groups; use (?:...)".into())
        }
        HirKind::Concat(subs) | HirKind::Alternation(subs) => {
            for sub in subs {
                collect(sub, alphabet)?;
            }
        }
    }
    Ok(())
}

/// `[^...]` of the bytes in `alphabet` plus `extra`, with bytes written as
/// `\xNN` so no byte needs escaping rules of its own.
fn negated_class(alphabet: &[bool; 256], extra: &[u8]) -> String {
    let mut set = *alphabet;
    for &b in extra {
        set[b as usize] = true;
    }
    let mut out = String::from("[^");
    let mut b = 0usize;
    while b < 256 {
        if !set[b] {
            b += 1;
            continue;
        }
        let start = b;
        while b + 1 < 256 && set[b + 1] {
            b += 1;
        }
        if start == b {
            out.push_str(&format!("\\x{start:02X}"));
        } else {
            out.push_str(&format!("\\x{start:02X}-\\x{b:02X}"));
        }
        b += 1;
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex_automata::meta::Regex;

    fn spec(value: &str, distance: Option<usize>, multiline: bool) -> ContextSpec {
        ContextSpec {
            value: value.into(),
            distance,
            multiline,
            pair: None,
        }
    }

    fn secret(re: &str, hay: &str) -> Option<String> {
        let re = Regex::builder()
            .syntax(
                regex_automata::util::syntax::Config::new()
                    .unicode(false)
                    .utf8(false),
            )
            .build(re)
            .unwrap();
        let mut caps = re.create_captures();
        re.captures(hay.as_bytes(), &mut caps);
        let span = caps.get_group_by_name("secret")?;
        Some(hay[span.range()].to_string())
    }

    #[test]
    fn finds_the_value_after_the_keyword_as_a_whole_run() {
        let re = build_regex(&["abuseipdb".into()], &spec("[a-f0-9]{32}", None, false)).unwrap();
        let key = "0123456789abcdef0123456789abcdef";
        for line in [
            format!("ABUSEIPDB_API_KEY={key}"),
            format!("\"abuseipdb\": {{\"key\": \"{key}\"}}"),
            format!("export AbuseIPDB_Token='{key}'"),
        ] {
            assert_eq!(secret(&re, &line).as_deref(), Some(key), "{line}");
        }
        // A slice of a longer hex run is not a value, nor is a value on the
        // next line or beyond the distance.
        assert_eq!(secret(&re, &format!("ABUSEIPDB={key}ff")), None);
        assert_eq!(secret(&re, &format!("ABUSEIPDB=\n{key}")), None);
        assert_eq!(
            secret(&re, &format!("abuseipdb {} {key}", "x".repeat(60))),
            None
        );
    }

    #[test]
    fn multiline_crosses_lines_within_the_distance() {
        let re = build_regex(&["mapbox".into()], &spec("[A-Za-z0-9]{20}", Some(60), true)).unwrap();
        let hay = "\"mapbox\": {\n  \"token\": \"Ab3dE5gH7jK9mN1pQ3sT\"\n}";
        assert_eq!(secret(&re, hay).as_deref(), Some("Ab3dE5gH7jK9mN1pQ3sT"));
    }

    #[test]
    fn keywords_are_literal_and_case_insensitive() {
        let re = build_regex(&["a.b+c".into()], &spec("[0-9]{8}", None, false)).unwrap();
        assert_eq!(secret(&re, "A.B+C=12345678").as_deref(), Some("12345678"));
        assert_eq!(secret(&re, "aXbbc=12345678"), None);
    }

    #[test]
    fn bad_shapes_are_refused() {
        for (value, why) in [
            ("(?s:.){32}", "any byte"),
            ("([a-f]{32})", "capture"),
            ("\\b[a-f]{32}", "anchors"),
            ("[a-f]{4}", "8 bytes"),
        ] {
            let err = build_regex(&["kw".into()], &spec(value, None, false)).unwrap_err();
            assert!(err.contains(why), "{value}: {err}");
        }
        let err = build_regex(&["kw".into()], &spec("[a-f]{32}", Some(500), false)).unwrap_err();
        assert!(err.contains("distance"), "{err}");
    }

    #[test]
    fn pair_regex_takes_a_whole_run() {
        let pair = build_pair(&PairSpec {
            name: "app-id".into(),
            value: "[A-Z0-9]{10}".into(),
            distance: None,
        })
        .unwrap();
        let re = Regex::new(&pair.regex).unwrap();
        let mut caps = re.create_captures();
        re.captures(b"app_id: ABCDE12345,", &mut caps);
        assert_eq!(caps.get_group_by_name("pair").unwrap().range(), 8..18);
        assert!(!re.is_match(b"ABCDE123456"));
    }
}
