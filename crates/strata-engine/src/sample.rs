//! Random strings a rule's regex matches, for `strata rules check`.
//!
//! The engine only reports a match that contains one of its rule's keywords
//! (the keyword pass is what decides where a regex runs at all). A regex
//! branch whose matches can lack every keyword is dead: it can never report
//! anything, and nothing says so. Examples only show the branches their
//! author thought of, so the check also walks the regex itself: it draws
//! strings from the parsed pattern (a random branch of each alternation, a
//! random count for each repetition, a random byte of each class) with a
//! PRNG seeded from the rule id, finds the regex's match in each, and
//! checks that match for a keyword.

use regex_syntax::hir::{Class, Hir, HirKind};

/// A small, seedable PRNG (SplitMix64): the same rule id gives the same
/// strings on every run and machine.
pub(crate) struct SplitMix(u64);

impl SplitMix {
    pub(crate) fn seeded(text: &str) -> SplitMix {
        // FNV-1a of the text, so nearby ids get unrelated streams.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for &b in text.as_bytes() {
            hash ^= b as u64;
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        SplitMix(hash)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Most copies of a repetition's body drawn beyond its minimum; an
/// unbounded `x+` draws 1..=1+EXTRA_REPEATS copies.
const EXTRA_REPEATS: u32 = 6;

/// Appends to `out` one random string of the language of `hir` (ignoring
/// look-around assertions, which the caller checks by matching).
pub(crate) fn draw(hir: &Hir, rng: &mut SplitMix, out: &mut Vec<u8>) {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => {}
        HirKind::Literal(literal) => out.extend_from_slice(&literal.0),
        HirKind::Class(Class::Bytes(class)) => {
            let ranges = class.ranges();
            let total: u64 = ranges
                .iter()
                .map(|r| (r.end() - r.start()) as u64 + 1)
                .sum();
            if total == 0 {
                return;
            }
            let mut pick = prefer_printable(ranges, rng).unwrap_or_else(|| rng.below(total));
            for range in ranges {
                let len = (range.end() - range.start()) as u64 + 1;
                if pick < len {
                    out.push(range.start() + pick as u8);
                    return;
                }
                pick -= len;
            }
        }
        HirKind::Class(Class::Unicode(class)) => {
            if let Some(range) = class.ranges().first() {
                let mut buf = [0u8; 4];
                out.extend_from_slice(range.start().encode_utf8(&mut buf).as_bytes());
            }
        }
        HirKind::Repetition(rep) => {
            let extra = match rep.max {
                Some(max) => max.saturating_sub(rep.min).min(EXTRA_REPEATS),
                None => EXTRA_REPEATS,
            };
            let count = rep.min + rng.below(extra as u64 + 1) as u32;
            for _ in 0..count {
                draw(&rep.sub, rng, out);
            }
        }
        HirKind::Capture(capture) => draw(&capture.sub, rng, out),
        HirKind::Concat(subs) => {
            for sub in subs {
                draw(sub, rng, out);
            }
        }
        HirKind::Alternation(subs) => {
            let branch = rng.below(subs.len() as u64) as usize;
            draw(&subs[branch], rng, out);
        }
    }
}

/// Negated classes (`[^"\s]`) span mostly non-ASCII bytes; drawn uniformly
/// they would give strings no real input holds. Three times in four, pick
/// the class's printable-ASCII bytes instead, when it has some.
fn prefer_printable(
    ranges: &[regex_syntax::hir::ClassBytesRange],
    rng: &mut SplitMix,
) -> Option<u64> {
    if rng.below(4) == 0 {
        return None;
    }
    let printable = |b: u8| (0x21..=0x7e).contains(&b);
    let mut offsets = Vec::new();
    let mut offset = 0u64;
    for range in ranges {
        for b in range.start()..=range.end() {
            if printable(b) {
                offsets.push(offset);
            }
            offset += 1;
        }
    }
    if offsets.is_empty() {
        return None;
    }
    Some(offsets[rng.below(offsets.len() as u64) as usize])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::parse;

    #[test]
    fn draws_strings_the_regex_matches() {
        let pattern = r"(?i:tok|key)_[A-Za-z0-9]{8,12}(?:-v[0-9])?";
        let hir = parse(pattern).unwrap();
        let re = regex_automata::meta::Regex::new(pattern).unwrap();
        let mut rng = SplitMix::seeded("demo");
        let mut seen_branch = [false; 2];
        for _ in 0..200 {
            let mut out = Vec::new();
            draw(&hir, &mut rng, &mut out);
            assert!(re.is_match(&out), "{:?}", String::from_utf8_lossy(&out));
            let lower = out.to_ascii_lowercase();
            seen_branch[0] |= lower.starts_with(b"tok");
            seen_branch[1] |= lower.starts_with(b"key");
        }
        assert_eq!(seen_branch, [true, true]);
    }

    #[test]
    fn same_seed_same_strings() {
        let hir = parse(r"[a-z]{5,40}").unwrap();
        let run = |seed| {
            let mut rng = SplitMix::seeded(seed);
            let mut out = Vec::new();
            draw(&hir, &mut rng, &mut out);
            out
        };
        assert_eq!(run("a"), run("a"));
        assert_ne!(run("a"), run("b"));
    }
}
