//! The keyword pass against aho-corasick (differential). Keywords come
//! from the input (ASCII, lower-cased, at least three bytes, no duplicates,
//! as the rule loader and the matcher hand them over), some cut from the
//! haystack itself so that they occur. `KeywordFinder::find_all` must report
//! exactly the (keyword, start, end) triples an overlapping, ASCII
//! case-insensitive aho-corasick search reports, in order of start, and
//! its SIMD and scalar loops must agree.
#![no_main]

use aho_corasick::{AhoCorasick, MatchKind};
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use strata_engine::KeywordFinder;

#[derive(Arbitrary, Debug)]
struct Input {
    /// Keywords of their own.
    keywords: Vec<Vec<u8>>,
    /// Keywords cut from the haystack: (start, length).
    cuts: Vec<(u16, u8)>,
    hay: Vec<u8>,
}

fn keyword(bytes: &[u8]) -> Option<String> {
    let text: String = bytes
        .iter()
        .map(|&b| (b & 0x7f).to_ascii_lowercase() as char)
        .collect();
    (text.len() >= 3).then_some(text)
}

fuzz_target!(|input: Input| {
    let mut keywords: Vec<String> = Vec::new();
    let cut = input.cuts.iter().filter_map(|&(start, len)| {
        let start = start as usize;
        let end = start.checked_add(len as usize % 16)?;
        input.hay.get(start..end)
    });
    for bytes in input
        .keywords
        .iter()
        .map(|k| &k[..k.len().min(16)])
        .chain(cut)
    {
        if let Some(k) = keyword(bytes) {
            if !keywords.contains(&k) {
                keywords.push(k);
            }
        }
    }
    if keywords.is_empty() || keywords.len() > 64 {
        return;
    }
    let hay = &input.hay;

    let mut finder = KeywordFinder::new(&keywords);
    let mut ours = Vec::new();
    finder.find_all(hay, |k, s, e| ours.push((k, s, e)));
    assert!(
        ours.windows(2).all(|w| w[0].1 <= w[1].1),
        "not in order of start"
    );
    finder.set_simd(false);
    let mut scalar = Vec::new();
    finder.find_all(hay, |k, s, e| scalar.push((k, s, e)));
    assert_eq!(ours, scalar, "SIMD and scalar loops disagree");

    let reference = AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::Standard)
        .build(&keywords)
        .unwrap();
    let mut expected: Vec<_> = reference
        .find_overlapping_iter(hay)
        .map(|m| (m.pattern().as_u32(), m.start(), m.end()))
        .collect();
    expected.sort();
    ours.sort();
    assert_eq!(ours, expected, "keyword finder and aho-corasick disagree");
});
