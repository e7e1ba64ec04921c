//! A rule regex whose every match starts at a keyword hit, so the start of
//! a match is known before the search.
//!
//! Such a regex needs less than a general one. The search only has to find
//! where the match ends: one forward lazy DFA, run anchored at the hit. And
//! the secret's capture group is read from the one span found, by a bounded
//! backtracker (a PikeVM for a span too long for the backtracker's visited
//! set). A meta regex builds those and more besides, a reverse NFA and lazy
//! DFA for finding starts, a one-pass DFA and literal prefilters, and on the
//! default ruleset the engines built here take a quarter of its build time.
//! Each anchored search also skips the meta regex's strategy dispatch, which
//! was a large part of the cost of the many searches that fail within a few
//! bytes of the keyword (`pat` in `path`).

use std::ops::Range;

use regex_automata::{
    hybrid,
    nfa::thompson::{self, backtrack::BoundedBacktracker, pikevm::PikeVM},
    util::captures::{Captures, GroupInfo},
    Anchored, Input,
};
use regex_syntax::hir::Hir;

use crate::compile::loosen_large_repetitions;

/// The engines of one anchored rule regex, built from one forward NFA.
#[derive(Debug)]
pub(crate) struct AnchoredRegex {
    dfa: hybrid::dfa::DFA,
    backtracker: BoundedBacktracker,
    pikevm: PikeVM,
}

/// Per-thread mutable state for one [`AnchoredRegex`].
#[derive(Debug)]
pub(crate) struct AnchoredCache {
    dfa: hybrid::dfa::Cache,
    backtracker: thompson::backtrack::Cache,
    /// Made on first use: only a failed lazy DFA or a long span needs it.
    pikevm: Option<thompson::pikevm::Cache>,
}

impl AnchoredRegex {
    /// Builds the engines for `hir`, its large repetition bounds loosened
    /// as for every rule regex (see `compile.rs`).
    pub(crate) fn new(hir: Hir) -> Result<AnchoredRegex, String> {
        let hir = loosen_large_repetitions(hir);
        // utf8(false): empty matches may split a UTF-8 sequence, as with the
        // meta regexes (`utf8_empty(false)`); haystacks are bytes.
        let nfa = thompson::Compiler::new()
            .configure(thompson::Config::new().utf8(false))
            .build_from_hir(&hir)
            .map_err(|e| e.to_string())?;
        // A Unicode word boundary (a user rule may ask for one with `(?u)`)
        // makes the lazy DFA give up on non-ASCII bytes instead of refusing
        // to build; the PikeVM then answers.
        let dfa = hybrid::dfa::Builder::new()
            .configure(hybrid::dfa::Config::new().unicode_word_boundary(true))
            .build_from_nfa(nfa.clone())
            .map_err(|e| e.to_string())?;
        let backtracker = BoundedBacktracker::builder()
            .build_from_nfa(nfa.clone())
            .map_err(|e| e.to_string())?;
        let pikevm = PikeVM::builder()
            .build_from_nfa(nfa)
            .map_err(|e| e.to_string())?;
        Ok(AnchoredRegex {
            dfa,
            backtracker,
            pikevm,
        })
    }

    pub(crate) fn group_info(&self) -> &GroupInfo {
        self.pikevm.get_nfa().group_info()
    }

    pub(crate) fn create_cache(&self) -> AnchoredCache {
        AnchoredCache {
            dfa: self.dfa.create_cache(),
            backtracker: self.backtracker.create_cache(),
            pikevm: None,
        }
    }

    pub(crate) fn create_captures(&self) -> Captures {
        self.pikevm.create_captures()
    }

    /// The end of the leftmost-first match that starts at `region.start`
    /// and ends by `region.end`, if there is one. Look-around assertions
    /// see the bytes of `hay` around the region.
    pub(crate) fn match_end(
        &self,
        cache: &mut AnchoredCache,
        hay: &[u8],
        region: Range<usize>,
    ) -> Option<usize> {
        let input = Input::new(hay).range(region).anchored(Anchored::Yes);
        match self.dfa.try_search_fwd(&mut cache.dfa, &input) {
            Ok(found) => found.map(|half| half.offset()),
            // The lazy DFA gives up when its cache keeps filling; the PikeVM
            // never does.
            Err(_) => {
                let pikevm_cache = cache
                    .pikevm
                    .get_or_insert_with(|| self.pikevm.create_cache());
                self.pikevm
                    .find(pikevm_cache, input)
                    .map(|found| found.end())
            }
        }
    }

    /// Fills `caps` with the groups of the match spanning exactly `span`
    /// (one [`match_end`](Self::match_end) found).
    pub(crate) fn captures(
        &self,
        cache: &mut AnchoredCache,
        hay: &[u8],
        span: Range<usize>,
        caps: &mut Captures,
    ) {
        // The match found is the preferred one among all matches starting
        // at `span.start`; those ending by `span.end` are a subset holding
        // it, so the search over `span` alone finds the same match.
        let input = Input::new(hay).range(span).anchored(Anchored::Yes);
        if input.get_span().len() <= self.backtracker.max_haystack_len()
            && self
                .backtracker
                .try_search(&mut cache.backtracker, &input, caps)
                .is_ok()
        {
            return;
        }
        let pikevm_cache = cache
            .pikevm
            .get_or_insert_with(|| self.pikevm.create_cache());
        self.pikevm.search(pikevm_cache, &input, caps);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::parse;

    fn regex(pattern: &str) -> AnchoredRegex {
        AnchoredRegex::new(parse(pattern).unwrap()).unwrap()
    }

    #[test]
    fn finds_the_end_of_a_match_at_the_region_start_only() {
        let re = regex(r"ghp_[A-Za-z0-9]{4}\b");
        let mut cache = re.create_cache();
        let hay = b"x ghp_abcd ghp_abcde";
        assert_eq!(re.match_end(&mut cache, hay, 2..hay.len()), Some(10));
        // Not at the region's start: no match, though one follows.
        assert_eq!(re.match_end(&mut cache, hay, 1..hay.len()), None);
        // `\b` sees the byte past the region's end.
        assert_eq!(re.match_end(&mut cache, hay, 11..19), None);
    }

    #[test]
    fn reads_groups_of_the_match_found() {
        let re = regex(r"(?i)token\s*[:=]\s*(?P<secret>[a-z0-9]{6,})(?:x)?");
        let mut cache = re.create_cache();
        let mut caps = re.create_captures();
        let hay = b"TOKEN = abc123def rest";
        let end = re.match_end(&mut cache, hay, 0..hay.len()).unwrap();
        assert_eq!(end, 17);
        re.captures(&mut cache, hay, 0..end, &mut caps);
        let secret = re
            .group_info()
            .to_index(regex_automata::PatternID::ZERO, "secret");
        assert_eq!(caps.get_group(secret.unwrap()).unwrap().range(), 8..17);
    }

    #[test]
    fn a_span_too_long_for_the_backtracker_goes_to_the_pikevm() {
        let re = regex(r"begin([a-z\s]+)end");
        let mut cache = re.create_cache();
        let mut caps = re.create_captures();
        let body = "ab c".repeat(re.backtracker.max_haystack_len() / 4 + 1);
        let hay = format!("begin{body}end");
        let end = re.match_end(&mut cache, hay.as_bytes(), 0..hay.len());
        assert_eq!(end, Some(hay.len()));
        re.captures(&mut cache, hay.as_bytes(), 0..hay.len(), &mut caps);
        assert_eq!(caps.get_group(1).unwrap().range(), 5..5 + body.len());
    }

    #[test]
    fn a_unicode_word_boundary_falls_back_to_the_pikevm() {
        let re = regex(r"(?u:\b)tok_[a-z]{4}(?u:\b)");
        let mut cache = re.create_cache();
        let hay = "tok_abcd é".as_bytes();
        assert_eq!(re.match_end(&mut cache, hay, 0..hay.len()), Some(8));
        let hay = "tok_abcdé".as_bytes();
        assert_eq!(re.match_end(&mut cache, hay, 0..hay.len()), None);
    }
}
