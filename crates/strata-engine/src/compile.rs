//! Turning a rule's regex pattern into a regex-automata regex cheaply.
//!
//! A counted repetition is unrolled by the NFA compiler: `X{4,160}` becomes
//! 160 copies of `X`, and the meta regex compiles a forward and a reverse
//! NFA. The private-key rules nest such counts (`(?:[A-Za-z0-9+/=]{1,100}
//! \s{1,6}){4,160}`: ~17,000 states each way) and building them cost tens of
//! milliseconds per rule, paid during the scan the first time a keyword hits.
//!
//! Every match is already bounded by the rule's window (the regex only ever
//! runs over a window around a keyword hit), so a large upper bound adds no
//! safety, only build time. [`loosen_large_repetitions`] drops the upper
//! bound of any repetition whose unrolled size would exceed
//! [`UNROLL_BUDGET`] states: `X{m,n}` becomes `X{m,}`. Small bounds, which
//! rules use to pin a token's length (`[a-z0-9]{32,40}\b`), are kept as
//! written. The change can only widen what a rule matches, within its window.

use regex_automata::{
    meta::{self, Regex},
    util::syntax,
};
use regex_syntax::hir::{Hir, HirKind, Repetition};

/// The most NFA states one counted repetition may unroll to before its upper
/// bound is dropped. Token-length bounds (`{20,250}` of a class) stay below.
pub(crate) const UNROLL_BUDGET: usize = 512;

fn syntax_config() -> syntax::Config {
    syntax::Config::new().unicode(false).utf8(false)
}

/// Parses `pattern` with the syntax every rule regex uses: bytes, not
/// Unicode.
pub(crate) fn parse(pattern: &str) -> Result<Hir, String> {
    syntax::parse_with(pattern, &syntax_config()).map_err(|e| e.to_string())
}

/// Compiles parsed patterns into one regex (one pattern ID each) the way
/// every rule regex is compiled: no empty-match UTF-8 rule, large
/// repetition bounds loosened.
pub(crate) fn compile_hirs(hirs: Vec<Hir>) -> Result<Regex, String> {
    let hirs: Vec<Hir> = hirs.into_iter().map(loosen_large_repetitions).collect();
    Regex::builder()
        .syntax(syntax_config())
        .configure(Regex::config().utf8_empty(false))
        .build_many_from_hir(&hirs)
        .map_err(|e: meta::BuildError| e.to_string())
}

/// [`parse`] then [`compile_hirs`] for one pattern.
#[cfg(test)]
fn compile_regex(pattern: &str) -> Result<Regex, String> {
    compile_hirs(vec![parse(pattern)?])
}

/// One regex matching wherever any of `patterns` matches (none: `None`),
/// or the first pattern that does not parse and why.
pub(crate) fn compile_any_of(patterns: &[String]) -> Result<Option<Regex>, (String, String)> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let hirs = patterns
        .iter()
        .map(|p| parse(p).map_err(|e| (p.clone(), e)))
        .collect::<Result<Vec<_>, _>>()?;
    compile_hirs(hirs)
        .map(Some)
        .map_err(|e| (patterns.join(" | "), e))
}

/// Rewrites `X{m,n}` to `X{m,}` wherever `n` copies of `X` would take more
/// than [`UNROLL_BUDGET`] NFA states; see the module comment.
pub(crate) fn loosen_large_repetitions(hir: Hir) -> Hir {
    match hir.into_kind() {
        HirKind::Repetition(rep) => {
            let sub = loosen_large_repetitions(*rep.sub);
            let max = match rep.max {
                Some(max) if max > rep.min => {
                    let unrolled = unrolled_size(&sub).saturating_mul(max as usize);
                    (unrolled <= UNROLL_BUDGET).then_some(max)
                }
                other => other,
            };
            Hir::repetition(Repetition {
                min: rep.min,
                max,
                greedy: rep.greedy,
                sub: Box::new(sub),
            })
        }
        HirKind::Capture(mut capture) => {
            capture.sub = Box::new(loosen_large_repetitions(*capture.sub));
            Hir::capture(capture)
        }
        HirKind::Concat(subs) => {
            Hir::concat(subs.into_iter().map(loosen_large_repetitions).collect())
        }
        HirKind::Alternation(subs) => {
            Hir::alternation(subs.into_iter().map(loosen_large_repetitions).collect())
        }
        HirKind::Empty => Hir::empty(),
        HirKind::Literal(literal) => Hir::literal(literal.0),
        HirKind::Class(class) => Hir::class(class),
        HirKind::Look(look) => Hir::look(look),
    }
}

/// A rough count of the NFA states `hir` compiles to (one per byte of a
/// literal, one per class, repetitions unrolled): enough to tell a token
/// length bound from a 12,000-state expansion.
fn unrolled_size(hir: &Hir) -> usize {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => 1,
        HirKind::Literal(literal) => literal.0.len(),
        HirKind::Class(_) => 1,
        HirKind::Repetition(rep) => {
            let copies = rep.max.unwrap_or(rep.min).max(rep.min).max(1) as usize;
            unrolled_size(&rep.sub)
                .saturating_mul(copies)
                .saturating_add(1)
        }
        HirKind::Capture(capture) => unrolled_size(&capture.sub).saturating_add(2),
        HirKind::Concat(subs) => subs.iter().map(unrolled_size).sum(),
        HirKind::Alternation(subs) => subs.iter().map(unrolled_size).sum::<usize>() + 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loosened(pattern: &str) -> String {
        let hir = syntax::parse_with(pattern, &syntax_config()).unwrap();
        loosen_large_repetitions(hir).to_string()
    }

    fn same(pattern: &str) -> String {
        syntax::parse_with(pattern, &syntax_config())
            .unwrap()
            .to_string()
    }

    #[test]
    fn keeps_token_length_bounds() {
        for pattern in [
            r"ghp_[A-Za-z0-9]{36}",
            r"\b[a-z0-9]{32,40}\b",
            r"sk-proj-[A-Za-z0-9_-]{40,250}",
            r"(?:ab){1,200}",
        ] {
            assert_eq!(loosened(pattern), same(pattern), "{pattern}");
        }
    }

    #[test]
    fn drops_large_upper_bounds_only() {
        assert_eq!(loosened(r"x[A-Z]{100,12000}"), same(r"x[A-Z]{100,}"));
        assert_eq!(
            loosened(r"(?:[A-Z]{1,100}\s{1,6}){4,160}END"),
            same(r"(?:[A-Z]{1,100}\s{1,6}){4,}END")
        );
        assert_eq!(loosened(r"a[\s\S]{0,4000}?b"), same(r"a[\s\S]{0,}?b"));
        // Inside a capture group and an alternation too.
        assert_eq!(
            loosened(r"k(?P<secret>a{5,900}|b{2})"),
            same(r"k(?P<secret>a{5,}|b{2})")
        );
    }

    #[test]
    fn loosened_regex_still_matches_what_it_did() {
        let re =
            compile_regex(r"-----BEGIN-----\n((?:[A-Za-z0-9+/=]{1,100}\n){2,160})-----END-----")
                .unwrap();
        let key = "-----BEGIN-----\nMIIBOgIBAAJBAKj34GkxFhD9\nbase64linetwo==\n-----END-----";
        let found = re.find(key.as_bytes()).expect("still matches");
        assert_eq!(found.range(), 0..key.len());
        assert!(re.find(b"-----BEGIN-----\n-----END-----").is_none());
    }

    #[test]
    fn any_of_matches_each_pattern() {
        let patterns = vec![r"^\$".to_string(), r"(?i)^x+$".to_string()];
        let re = compile_any_of(&patterns).unwrap().unwrap();
        assert!(re.is_match(b"$"));
        assert!(re.is_match(b"XXXX"));
        assert!(!re.is_match(b"x1"));
        assert!(compile_any_of(&[]).unwrap().is_none());
        let (pattern, _) = compile_any_of(&["ok".to_string(), "(".to_string()]).unwrap_err();
        assert_eq!(pattern, "(");
    }
}
