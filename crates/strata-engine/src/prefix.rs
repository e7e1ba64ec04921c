//! Where a rule's matches start relative to its keyword hits.
//!
//! When every match of a rule's regex begins with one of a finite set of
//! literal prefixes, and each prefix holds one of the rule's keywords at a
//! known distance from its start, a keyword hit tells exactly where a match
//! can start: the hit's start minus one of those distances. The regex then
//! runs anchored at those few positions instead of over a window of
//! hundreds of bytes around the hit. `ghp_[A-Za-z0-9]{36}` starts at its
//! keyword (distance 0); `(?:\b|_)lob…` at `lob` or one byte before it;
//! `(?:next|page|…)[_-]?token|token…` up to fifteen bytes before `token`.
//!
//! Each possible start is checked before the regex runs: the bytes between
//! it and the hit must spell the part of a prefix literal before its
//! keyword (`next_` of `next_token`), which rejects nearly every one of the
//! dozen starts of a common keyword like `token`.
//!
//! The lead-ins come from the regex's prefix literals, extracted after
//! folding letter case out of the pattern (keywords match case-
//! insensitively, so case adds nothing but literal variants: `(?i)
//! continuation` alone has 4,096 of them, past the extractor's limit).

use regex_syntax::hir::{
    literal::{ExtractKind, Extractor},
    Class, ClassBytes, Hir, HirKind, Literal,
};

/// The farthest a keyword may sit from the start of a match.
const MAX_DISTANCE: usize = 32;
/// The most distinct lead-ins (the bytes of a prefix before its keyword) a
/// rule may have; each possible start of a match is checked against them.
const MAX_LEAD_INS: usize = 64;

/// Where the matches of one rule's regex may start, relative to the start
/// of a keyword hit.
#[derive(Debug, PartialEq)]
pub(crate) struct MatchStarts {
    /// The distinct lead-ins, lowercase, shortest first; the empty one
    /// means a match may start at the keyword.
    lead_ins: Vec<Box<[u8]>>,
}

impl MatchStarts {
    /// Where the matches of `hir` may start, or `None` when the regex's
    /// prefixes do not pin its keywords down (a match may start anywhere in
    /// the window around a hit).
    pub(crate) fn of(hir: &Hir, keywords: &[String]) -> Option<MatchStarts> {
        // A class wider than 8 bytes ends the literals (they become inexact
        // prefixes, which is all this needs). Expanding classes up to 64
        // wide made the extraction a third of the cost of building a rule
        // (`sk-proj-[A-Za-z0-9_-]{40,250}` crossed 64 x 64 literals).
        let mut extractor = Extractor::new();
        extractor
            .kind(ExtractKind::Prefix)
            .limit_total(4096)
            .limit_class(8);
        let prefixes = extractor.extract(&fold_case(hir));
        let literals = prefixes.literals()?;
        if literals.is_empty() {
            return None;
        }
        let mut lead_ins: Vec<Box<[u8]>> = Vec::new();
        for literal in literals {
            let bytes = literal.as_bytes();
            let distance = (0..=MAX_DISTANCE.min(bytes.len())).find(|&at| {
                keywords.iter().any(|k| {
                    bytes[at..].len() >= k.len()
                        && bytes[at..at + k.len()].eq_ignore_ascii_case(k.as_bytes())
                })
            })?;
            let lead_in = &bytes[..distance];
            if !lead_ins.iter().any(|l| **l == *lead_in) {
                lead_ins.push(lead_in.into());
            }
        }
        lead_ins.sort_unstable_by(|a, b| a.len().cmp(&b.len()).then(a.cmp(b)));
        (lead_ins.len() <= MAX_LEAD_INS).then_some(MatchStarts { lead_ins })
    }

    /// True when every match starts at its keyword.
    pub(crate) fn at_keyword_only(&self) -> bool {
        self.lead_ins.len() == 1 && self.lead_ins[0].is_empty()
    }

    /// Calls `found` with each position where a match may start, given a
    /// keyword hit at `hit_start`: the start of each lead-in the bytes
    /// before the hit spell (ASCII case-insensitively), in increasing order.
    pub(crate) fn each_start(&self, hay: &[u8], hit_start: usize, mut found: impl FnMut(usize)) {
        let mut last = None;
        for lead_in in self.lead_ins.iter().rev() {
            let Some(at) = hit_start.checked_sub(lead_in.len()) else {
                continue;
            };
            if last != Some(at) && hay[at..hit_start].eq_ignore_ascii_case(lead_in) {
                last = Some(at);
                found(at);
            }
        }
    }
}

/// `hir` with every letter's case folded away: literal bytes lowercased and
/// each two-byte class of a letter in both cases (`(?i)a` is `[Aa]`) made
/// the lowercase letter. For literal analysis only: the result matches a
/// different set of strings, the same ones ASCII case-insensitively.
fn fold_case(hir: &Hir) -> Hir {
    match hir.kind() {
        HirKind::Literal(Literal(bytes)) => Hir::literal(bytes.to_ascii_lowercase()),
        HirKind::Class(Class::Bytes(class)) => match case_pair(class) {
            Some(lower) => Hir::literal([lower]),
            None => hir.clone(),
        },
        HirKind::Empty | HirKind::Class(_) | HirKind::Look(_) => hir.clone(),
        HirKind::Repetition(rep) => {
            let mut rep = rep.clone();
            rep.sub = Box::new(fold_case(&rep.sub));
            Hir::repetition(rep)
        }
        HirKind::Capture(capture) => {
            let mut capture = capture.clone();
            capture.sub = Box::new(fold_case(&capture.sub));
            Hir::capture(capture)
        }
        HirKind::Concat(subs) => Hir::concat(subs.iter().map(fold_case).collect()),
        HirKind::Alternation(subs) => Hir::alternation(subs.iter().map(fold_case).collect()),
    }
}

/// The lowercase letter of a class holding exactly one letter in both cases.
fn case_pair(class: &ClassBytes) -> Option<u8> {
    let ranges = class.ranges();
    if ranges.len() != 2 || ranges.iter().any(|r| r.start() != r.end()) {
        return None;
    }
    let (upper, lower) = (ranges[0].start(), ranges[1].start());
    (upper.is_ascii_uppercase() && upper.to_ascii_lowercase() == lower).then_some(lower)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::parse;

    fn lead_ins(pattern: &str, keywords: &[&str]) -> Option<Vec<String>> {
        let keywords: Vec<String> = keywords.iter().map(|k| k.to_string()).collect();
        let starts = MatchStarts::of(&parse(pattern).unwrap(), &keywords)?;
        Some(
            starts
                .lead_ins
                .iter()
                .map(|l| String::from_utf8(l.to_vec()).unwrap())
                .collect(),
        )
    }

    fn starts(pattern: &str, keywords: &[&str], hay: &str, hit_start: usize) -> Vec<usize> {
        let keywords: Vec<String> = keywords.iter().map(|k| k.to_string()).collect();
        let starts = MatchStarts::of(&parse(pattern).unwrap(), &keywords).unwrap();
        let mut found = Vec::new();
        starts.each_start(hay.as_bytes(), hit_start, |at| found.push(at));
        found
    }

    #[test]
    fn a_regex_beginning_with_its_keyword_starts_at_the_hit() {
        for (pattern, keywords) in [
            (r"ghp_[A-Za-z0-9]{36}", &["ghp_"][..]),
            (r"\b(?:ghp|gho)_[A-Za-z0-9]{36}", &["ghp_", "gho_"]),
            (r"(?i)token\s*=\s*(\S+)", &["token"]),
        ] {
            assert_eq!(lead_ins(pattern, keywords), Some(vec![String::new()]));
            let keywords: Vec<String> = keywords.iter().map(|k| k.to_string()).collect();
            assert!(MatchStarts::of(&parse(pattern).unwrap(), &keywords)
                .unwrap()
                .at_keyword_only());
        }
    }

    #[test]
    fn a_fixed_prefix_before_the_keyword_gives_its_lead_ins() {
        let lob = r"(?i:(?:\b|_)(?:lob))[\w.-]{0,25}=(\w+)";
        assert_eq!(lead_ins(lob, &["lob"]), Some(vec!["".into(), "_".into()]));
        assert_eq!(starts(lob, &["lob"], "x_LOB_KEY=1", 2), vec![1, 2]);
        assert_eq!(starts(lob, &["lob"], "global", 2), vec![2]);
        let token = r"(?i)(?:(?:next|page)[_-]?token|token[\w.-]{0,25}=(\w+))";
        assert_eq!(
            lead_ins(token, &["token"]),
            Some(
                ["", "next", "page", "next-", "next_", "page-", "page_"]
                    .map(String::from)
                    .to_vec()
            )
        );
        assert_eq!(starts(token, &["token"], "a NEXT_Token=", 7), vec![2, 7]);
        // A lead-in that would start before the haystack is skipped.
        assert_eq!(starts(token, &["token"], "t_token", 2), vec![2]);
    }

    #[test]
    fn a_regex_that_may_start_anywhere_has_none() {
        // A class before the keyword: unbounded set of starts.
        assert_eq!(lead_ins(r"[a-z0-9]{32}-us[0-9]{1,2}", &["-us"]), None);
        // The keyword may be absent from a prefix (a wider alternative).
        assert_eq!(lead_ins(r"(?:aws|[0-9]+)_key=(\w+)", &["aws"]), None);
        // Too far from the start.
        assert_eq!(
            lead_ins(&format!("{}token", "x".repeat(40)), &["token"]),
            None
        );
    }

    #[test]
    fn folding_keeps_non_letters_and_wider_classes() {
        let folded = fold_case(&parse(r"(?i)aB_[a-c]9").unwrap());
        assert_eq!(
            folded.to_string(),
            parse(r"ab_[a-cA-C]9").unwrap().to_string()
        );
    }
}
