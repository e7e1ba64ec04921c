//! Finding every occurrence of every rule keyword, ASCII case-insensitively.
//!
//! This is the one pass over every input byte, so it sets strata's speed.
//! An aho-corasick DFA over ~600 case-insensitive keywords ran ~350 MB/s per
//! core here: its transition table does not fit in L1, and the crate's SIMD
//! prefilter does not apply above 64 patterns or with case folding.
//!
//! Instead each position's next four bytes, case-folded, are hashed into a
//! 2^18-bit set (32 KB, L1-resident) of the keywords' first four bytes. Only positions
//! that pass are checked exactly against the keywords with that prefix. On
//! a 1.2 GB corpus of code, packages and binaries 0.8% of positions pass
//! (3.7% with three-byte prefixes for every keyword). The result is the same set of (keyword, start, end) an overlapping
//! aho-corasick search reports; the tests compare the two.

const HASH_BITS: u32 = 18;
const SET_WORDS: usize = (1 << HASH_BITS) / 64;

/// Folds ASCII upper case to lower case in each of four bytes (and, harmlessly
/// for hashing, a few punctuation bytes onto others: the exact check decides).
/// A folded byte always has bit 5 set, so it is never zero.
#[inline(always)]
fn fold4(word: u32) -> u32 {
    word | 0x2020_2020
}

/// The first three bytes folded; the top byte is zero, so these keys never
/// collide with four-byte keys.
#[inline(always)]
fn fold3(word: u32) -> u32 {
    (word | 0x0020_2020) & 0x00FF_FFFF
}

#[inline(always)]
fn hash(folded: u32) -> usize {
    (folded.wrapping_mul(0x9E37_79B1) >> (32 - HASH_BITS)) as usize
}

#[inline(always)]
fn test(set: &[u64; SET_WORDS], h: usize) -> bool {
    set[h / 64] & (1 << (h % 64)) != 0
}

/// Keywords sharing one folded prefix.
struct Group {
    key: u32,
    keywords: Vec<(u32, Box<[u8]>)>,
}

/// All keywords, bucketed by their folded first four bytes (three for
/// three-byte keywords).
pub struct KeywordFinder {
    /// Hashes of the folded four-byte prefixes of the keywords. A three-byte
    /// keyword enters once per possible fourth byte: folding sets bit 5 of
    /// every byte, so that is 128 entries, and one hash per position serves
    /// both lengths (a second set for them cost 8 instructions a byte).
    set4: Box<[u64; SET_WORDS]>,
    has_short: bool,
    groups: Vec<Group>,
    /// Open-addressed index into `groups` by key (0 = empty, else index + 1).
    slots: Vec<u32>,
}

impl KeywordFinder {
    /// `keywords` are ASCII, at least 3 bytes each (the rule loader ensures it).
    pub fn new(keywords: &[String]) -> KeywordFinder {
        let mut set4 = Box::new([0u64; SET_WORDS]);
        let mut groups: Vec<Group> = Vec::new();
        let mut has_short = false;
        for (index, keyword) in keywords.iter().enumerate() {
            let b = keyword.as_bytes();
            assert!(b.len() >= 3, "keyword {keyword:?} shorter than 3 bytes");
            let key = if b.len() >= 4 {
                let key = fold4(u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
                let h = hash(key);
                set4[h / 64] |= 1 << (h % 64);
                key
            } else {
                has_short = true;
                for fourth in 0..=255u8 {
                    let h = hash(fold4(u32::from_le_bytes([b[0], b[1], b[2], fourth])));
                    set4[h / 64] |= 1 << (h % 64);
                }
                fold3(u32::from_le_bytes([b[0], b[1], b[2], 0]))
            };
            let entry = (index as u32, b.to_ascii_lowercase().into_boxed_slice());
            match groups.iter_mut().find(|g| g.key == key) {
                Some(group) => group.keywords.push(entry),
                None => groups.push(Group {
                    key,
                    keywords: vec![entry],
                }),
            }
        }
        let size = (groups.len() * 2).next_power_of_two().max(16);
        let mut slots = vec![0u32; size];
        for (i, group) in groups.iter().enumerate() {
            let mut slot = hash(group.key) & (size - 1);
            while slots[slot] != 0 {
                slot = (slot + 1) & (size - 1);
            }
            slots[slot] = i as u32 + 1;
        }
        KeywordFinder {
            set4,
            has_short,
            groups,
            slots,
        }
    }

    /// Reports `(keyword index, start, end)` for every occurrence in `hay`,
    /// in order of start.
    pub fn find_all(&self, hay: &[u8], mut report: impl FnMut(u32, usize, usize)) {
        if hay.len() < 3 {
            return;
        }
        let set4 = &*self.set4;
        let mut i = 0;
        // Eight bytes loaded once give the four-byte windows of four positions.
        while i + 8 <= hay.len() {
            let wide = u64::from_le_bytes(hay[i..i + 8].try_into().unwrap());
            for shift in 0..4 {
                let word = (wide >> (8 * shift)) as u32;
                if test(set4, hash(fold4(word))) {
                    self.candidate(hay, i + shift, word, &mut report);
                }
            }
            i += 4;
        }
        while i + 4 <= hay.len() {
            let word = u32::from_le_bytes(hay[i..i + 4].try_into().unwrap());
            if test(set4, hash(fold4(word))) {
                self.candidate(hay, i, word, &mut report);
            }
            i += 1;
        }
        // The last three bytes can only start a three-byte keyword.
        if self.has_short {
            let word = u32::from_le_bytes([hay[i], hay[i + 1], hay[i + 2], 0]);
            self.verify(hay, i, fold3(word), &mut report);
        }
    }

    /// A position whose four-byte window passed the set: look up keywords of
    /// four bytes or more by the whole window, three-byte ones by its start.
    #[cold]
    #[inline(never)]
    fn candidate(
        &self,
        hay: &[u8],
        at: usize,
        word: u32,
        report: &mut impl FnMut(u32, usize, usize),
    ) {
        self.verify(hay, at, fold4(word), report);
        if self.has_short {
            self.verify(hay, at, fold3(word), report);
        }
    }

    #[inline]
    fn verify(&self, hay: &[u8], at: usize, key: u32, report: &mut impl FnMut(u32, usize, usize)) {
        let mask = self.slots.len() - 1;
        let mut slot = hash(key) & mask;
        loop {
            let entry = self.slots[slot];
            if entry == 0 {
                return;
            }
            let group = &self.groups[entry as usize - 1];
            if group.key == key {
                for (index, keyword) in &group.keywords {
                    let end = at + keyword.len();
                    if end <= hay.len() && hay[at..end].eq_ignore_ascii_case(keyword) {
                        report(*index, at, end);
                    }
                }
                return;
            }
            slot = (slot + 1) & mask;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aho_corasick::{AhoCorasick, MatchKind};

    fn reference(keywords: &[String], hay: &[u8]) -> Vec<(u32, usize, usize)> {
        let ac = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(keywords)
            .unwrap();
        let mut out: Vec<_> = ac
            .find_overlapping_iter(hay)
            .map(|m| (m.pattern().as_u32(), m.start(), m.end()))
            .collect();
        out.sort();
        out
    }

    fn ours(keywords: &[String], hay: &[u8]) -> Vec<(u32, usize, usize)> {
        let finder = KeywordFinder::new(keywords);
        let mut out = Vec::new();
        finder.find_all(hay, |k, s, e| out.push((k, s, e)));
        out.sort();
        out
    }

    #[test]
    fn agrees_with_aho_corasick_on_random_input() {
        let keywords: Vec<String> = [
            "ghp_",
            "token",
            "api_key",
            "api-key",
            "key",
            "sk_live_",
            "xoxb-",
            "-----begin",
            "akia",
            "SG.",
            "pat",
            "tok",
            "-us",
            "y0_",
            "AIza",
            "@@@",
            "```",
            "___",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let alphabet = b"aAbBgGhHpPkKtToOeEnNyYiIsS_-.@`0123456789 \n\xff\x00?{}[]";
        let mut state = 0x1234_5678_9abc_def1u64;
        for round in 0..300 {
            let len = (round * 37) % 700;
            let mut hay = Vec::with_capacity(len);
            for _ in 0..len {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                hay.push(alphabet[(state % alphabet.len() as u64) as usize]);
                if state % 17 == 0 {
                    let k = &keywords[(state as usize / 17) % keywords.len()];
                    hay.extend(k.bytes().map(|b| {
                        if state % 2 == 0 {
                            b.to_ascii_uppercase()
                        } else {
                            b
                        }
                    }));
                }
            }
            assert_eq!(
                ours(&keywords, &hay),
                reference(&keywords, &hay),
                "round {round}"
            );
        }
    }

    #[test]
    fn finds_keywords_at_both_ends() {
        let keywords = vec!["abc".to_string(), "abcd".to_string()];
        assert_eq!(ours(&keywords, b"ABC"), vec![(0, 0, 3)]);
        assert_eq!(ours(&keywords, b"xxabcd"), vec![(0, 2, 5), (1, 2, 6)]);
        assert_eq!(ours(&keywords, b"ab"), vec![]);
    }
}
