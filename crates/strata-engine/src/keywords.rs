//! Finding every occurrence of every rule keyword, ASCII case-insensitively.
//!
//! This is the one pass over every input byte, so it sets strata's speed.
//! An aho-corasick DFA over ~600 case-insensitive keywords ran ~350 MB/s per
//! core here: its transition table does not fit in L1, and the crate's SIMD
//! prefilter does not apply above 64 patterns or with case folding.
//!
//! Instead each position's next five bytes go through a 32 KB filter
//! (L1-resident): the first three bytes, case-folded and hashed, pick one of
//! 2^13 32-bit words; the fourth byte's low four bits (the same for both
//! cases of a letter) pick a bit in the word's low half and the fifth
//! byte's a bit in its high half, and both must be set. A keyword of five
//! bytes or more sets one bit in each half, a four-byte keyword fills the
//! high half and a three-byte keyword its whole word, so it costs 1/8192 of
//! the positions. Only positions that pass are checked exactly against the
//! keywords with that prefix, eight bytes in one masked compare. On a 72 MB
//! sample of the benchmark corpus 0.47% of positions pass; a filter testing
//! only the fourth byte's five low bits passed 0.84% (most of them start
//! with a keyword's first four bytes: `toke`, `data`, `http`), and the mask
//! loop that handles each passing position cost more than the extra bit
//! test. The real keyword hits are 0.08%.
//!
//! Most positions that pass start with the first bytes of a longer
//! keyword (`pack` of `packagist`, `data` of `datadog`), so before the
//! exact check a second, 8 KB bit filter tests the position's first three
//! bytes against the three-byte keywords, its first four against the four-
//! and five-byte ones, and its first six against the rest: about 0.2% of
//! positions pass both, and the exact check's table probes and compares run
//! only for those.
//!
//! Where the CPU has AVX2 (detected at run time) eight positions are tested
//! at once: one shuffle builds their three-byte prefixes, one multiply hashes
//! them, one gather fetches their filter words and two variable shifts move
//! each lane's two tested bits to its sign bit. Elsewhere a scalar loop
//! does the same test one position at a time. The result is the same set of
//! (keyword, start, end) an overlapping aho-corasick search reports; the
//! tests compare both paths with it.

const WORD_BITS: u32 = 13;
const WORDS: usize = 1 << WORD_BITS;
const MULTIPLIER: u32 = 0x9E37_79B1;
const PREFIX_FOLD: u32 = 0x0020_2020;
/// log2 of the second filter's size in bits.
const SECOND_BITS: u32 = 16;

/// The second filter: one bit per hashed (length class, folded prefix).
/// The prefix is folded by OR-ing 0x20 into every byte, on both sides, so
/// a keyword's bytes and the same bytes in the haystack in any letter case
/// give the same key.
struct SecondFilter {
    bits: Box<[u64; 1 << (SECOND_BITS - 6)]>,
}

impl SecondFilter {
    /// The key of a prefix of `len` bytes (3, 4 or 6) of folded `eight`.
    #[inline(always)]
    fn slot(eight: u64, len: u32) -> usize {
        let prefix = eight & (u64::MAX >> (64 - 8 * len));
        let key = (prefix ^ (u64::from(len) << 56)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (key >> (64 - SECOND_BITS)) as usize
    }

    #[inline(always)]
    fn test(&self, slot: usize) -> bool {
        self.bits[slot >> 6] & (1 << (slot & 63)) != 0
    }

    /// Records a keyword (at least three bytes; folding makes case moot).
    fn insert(&mut self, keyword: &[u8]) {
        let len = match keyword.len() {
            3 => 3,
            4 | 5 => 4,
            _ => 6,
        };
        let mut eight = [0x20u8; 8];
        for (to, &from) in eight.iter_mut().zip(keyword) {
            *to = from | 0x20;
        }
        let slot = Self::slot(u64::from_le_bytes(eight), len);
        self.bits[slot >> 6] |= 1 << (slot & 63);
    }

    /// False when no keyword can start at `hay[at..]`; true when one may
    /// (and always when fewer than eight bytes remain).
    #[inline(always)]
    fn may_start(&self, hay: &[u8], at: usize) -> bool {
        let Some(eight) = hay.get(at..at + 8) else {
            return true;
        };
        let eight = u64::from_le_bytes(eight.try_into().unwrap()) | 0x2020_2020_2020_2020;
        self.test(Self::slot(eight, 3))
            || self.test(Self::slot(eight, 4))
            || self.test(Self::slot(eight, 6))
    }
}

/// Folds ASCII upper case to lower case in each of four bytes (and, harmlessly
/// for hashing, a few punctuation bytes onto others: the exact check decides).
#[inline(always)]
fn fold4(word: u32) -> u32 {
    word | 0x2020_2020
}

/// The first three bytes folded; the top byte is zero, so these keys never
/// collide with four-byte keys (a folded byte always has bit 5 set).
#[inline(always)]
fn fold3(word: u32) -> u32 {
    (word | PREFIX_FOLD) & 0x00FF_FFFF
}

/// The filter word for the window `word` (four haystack bytes, little-endian).
#[inline(always)]
fn bucket(word: u32) -> usize {
    (fold3(word).wrapping_mul(MULTIPLIER) >> (32 - WORD_BITS)) as usize
}

/// The low half of a filter word holds the bits of keywords' fourth bytes,
/// the high half those of their fifth bytes.
const LOW_HALF: u32 = 0x0000_FFFF;
const HIGH_HALF: u32 = 0xFFFF_0000;

/// A byte's bit in either half of a filter word: its low four bits. They do
/// not depend on letter case (0x20 is bit five); letters sixteen apart share
/// a bit, which only the exact check tells apart.
#[inline(always)]
fn selector(byte: u8) -> u32 {
    u32::from(byte & 15)
}

/// The filter bits a keyword sets in its word: its fourth byte's in the low
/// half and its fifth byte's in the high half, a whole half where the
/// keyword has no such byte (a three-byte keyword fills its word).
fn keyword_bits(keyword: &[u8]) -> u32 {
    let low = keyword.get(3).map_or(LOW_HALF, |&b| 1 << selector(b));
    let high = keyword
        .get(4)
        .map_or(HIGH_HALF, |&b| 1 << (16 + selector(b)));
    low | high
}

/// True when filter word `word` lets a keyword start at a position whose
/// fourth and fifth bytes are `fourth` and `fifth` (`None` past the end of
/// the input, where only a keyword of four bytes or fewer can end).
#[inline(always)]
fn passes(word: u32, fourth: u8, fifth: Option<u8>) -> bool {
    let high = match fifth {
        Some(b) => word & (1 << (16 + selector(b))) != 0,
        None => word & HIGH_HALF == HIGH_HALF,
    };
    word & (1 << selector(fourth)) != 0 && high
}

/// Hash of a group key, for the open-addressed group index (its top bits:
/// the low bits of a product depend on the low bits of the key only).
#[inline(always)]
fn hash(key: u32) -> usize {
    (key.wrapping_mul(MULTIPLIER) >> 14) as usize
}

/// The keywords sharing one folded prefix: `keywords[first..first + count]`.
/// Key 0 marks an empty slot (a folded key is never 0: folding sets bit 5
/// of every byte it keeps).
#[derive(Clone, Copy, Default)]
struct Slot {
    key: u32,
    first: u32,
    count: u32,
}

/// One keyword, laid out for a one-load check of its first eight bytes.
struct Keyword {
    index: u32,
    /// The keyword's first (up to) eight bytes, lower case, little-endian.
    head: u64,
    /// 0xFF for each of those bytes, 0 past the keyword's end.
    mask: u64,
    /// 0x20 for each ASCII letter among them: OR-ed into the haystack's
    /// bytes it folds their case (and leaves every other byte exact).
    fold: u64,
    /// The whole keyword, lower case.
    bytes: Box<[u8]>,
}

impl Keyword {
    fn new(index: u32, keyword: &[u8]) -> Keyword {
        let bytes = keyword.to_ascii_lowercase().into_boxed_slice();
        let (mut head, mut mask, mut fold) = ([0u8; 8], [0u8; 8], [0u8; 8]);
        for (i, &b) in bytes.iter().take(8).enumerate() {
            head[i] = b;
            mask[i] = 0xFF;
            fold[i] = if b.is_ascii_lowercase() { 0x20 } else { 0 };
        }
        Keyword {
            index,
            head: u64::from_le_bytes(head),
            mask: u64::from_le_bytes(mask),
            fold: u64::from_le_bytes(fold),
            bytes,
        }
    }

    /// True when `hay[at..]` starts with this keyword, ignoring ASCII case.
    #[inline(always)]
    fn matches(&self, hay: &[u8], at: usize) -> bool {
        let end = at + self.bytes.len();
        if end > hay.len() {
            return false;
        }
        match hay.get(at..at + 8) {
            Some(eight) => {
                let eight = u64::from_le_bytes(eight.try_into().unwrap());
                (eight | self.fold) & self.mask == self.head
                    && (self.bytes.len() <= 8
                        || hay[at + 8..end].eq_ignore_ascii_case(&self.bytes[8..]))
            }
            None => hay[at..end].eq_ignore_ascii_case(&self.bytes),
        }
    }
}

/// All keywords, bucketed by their folded first four bytes (three for
/// three-byte keywords).
pub struct KeywordFinder {
    /// The position filter: see the module comment.
    filter: Box<[u32; WORDS]>,
    /// The check between the position filter and the exact one.
    second: SecondFilter,
    has_short: bool,
    /// Every keyword, those sharing a prefix next to each other.
    keywords: Vec<Keyword>,
    /// Open-addressed table of prefixes, at most a quarter full.
    slots: Vec<Slot>,
    /// Use the AVX2 loop (the CPU has AVX2 and it was not turned off).
    simd: bool,
}

impl KeywordFinder {
    /// `keywords` are ASCII, at least 3 bytes each (the rule loader ensures it).
    pub fn new(keywords: &[String]) -> KeywordFinder {
        let mut filter = Box::new([0u32; WORDS]);
        let mut second = SecondFilter {
            bits: Box::new([0; 1 << (SECOND_BITS - 6)]),
        };
        let mut groups: Vec<(u32, Vec<Keyword>)> = Vec::new();
        let mut has_short = false;
        for (index, keyword) in keywords.iter().enumerate() {
            let b = keyword.as_bytes();
            assert!(b.len() >= 3, "keyword {keyword:?} shorter than 3 bytes");
            second.insert(b);
            let word = u32::from_le_bytes([b[0], b[1], b[2], b.get(3).copied().unwrap_or(0)]);
            filter[bucket(word)] |= keyword_bits(b);
            let key = if b.len() >= 4 {
                fold4(word)
            } else {
                has_short = true;
                fold3(word)
            };
            let entry = Keyword::new(index as u32, b);
            match groups.iter_mut().find(|g| g.0 == key) {
                Some(group) => group.1.push(entry),
                None => groups.push((key, vec![entry])),
            }
        }
        let size = (groups.len() * 4).next_power_of_two().max(16);
        let mut slots = vec![Slot::default(); size];
        let mut flat = Vec::with_capacity(keywords.len());
        for (key, group) in groups {
            let mut slot = hash(key) & (size - 1);
            while slots[slot].key != 0 {
                slot = (slot + 1) & (size - 1);
            }
            slots[slot] = Slot {
                key,
                first: flat.len() as u32,
                count: group.len() as u32,
            };
            flat.extend(group);
        }
        KeywordFinder {
            filter,
            second,
            has_short,
            keywords: flat,
            slots,
            simd: simd_available(),
        }
    }

    /// Turns the SIMD loop off (tests of the scalar loop; comparisons).
    #[doc(hidden)]
    pub fn set_simd(&mut self, on: bool) {
        self.simd = on && simd_available();
    }

    /// Reports `(keyword index, start, end)` for every occurrence in `hay`,
    /// in order of start.
    pub fn find_all(&self, hay: &[u8], mut report: impl FnMut(u32, usize, usize)) {
        if hay.len() < 3 {
            return;
        }
        #[cfg(target_arch = "x86_64")]
        if self.simd {
            // SAFETY: `simd` is only true when the CPU reports AVX2
            // (`simd_available`), the one requirement of `find_avx2`.
            let next = unsafe { self.find_avx2(hay, &mut report) };
            return self.find_scalar(hay, next, &mut report);
        }
        self.find_scalar(hay, 0, &mut report);
    }

    /// Tests every position from `from` on, one at a time.
    fn find_scalar(&self, hay: &[u8], from: usize, report: &mut impl FnMut(u32, usize, usize)) {
        let filter = &*self.filter;
        let mut i = from;
        // Eight bytes loaded once give the five-byte windows of four positions.
        while i + 8 <= hay.len() {
            let wide = u64::from_le_bytes(hay[i..i + 8].try_into().unwrap());
            for shift in 0..4 {
                let word = (wide >> (8 * shift)) as u32;
                let fifth = (wide >> (8 * shift + 32)) as u8;
                if passes(filter[bucket(word)], (word >> 24) as u8, Some(fifth))
                    && self.second.may_start(hay, i + shift)
                {
                    self.candidate(hay, i + shift, word, report);
                }
            }
            i += 4;
        }
        while i + 4 <= hay.len() {
            let word = u32::from_le_bytes(hay[i..i + 4].try_into().unwrap());
            let fifth = hay.get(i + 4).copied();
            if passes(filter[bucket(word)], (word >> 24) as u8, fifth)
                && self.second.may_start(hay, i)
            {
                self.candidate(hay, i, word, report);
            }
            i += 1;
        }
        // The last three bytes can only start a three-byte keyword.
        if self.has_short && i + 3 == hay.len() {
            let word = u32::from_le_bytes([hay[i], hay[i + 1], hay[i + 2], 0]);
            self.verify(hay, i, fold3(word), report);
        }
    }

    /// Tests eight positions per step with AVX2 while sixteen bytes remain;
    /// returns the first position it did not test.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn find_avx2(&self, hay: &[u8], report: &mut impl FnMut(u32, usize, usize)) -> usize {
        use std::arch::x86_64::*;
        const Z: i8 = -128; // a shuffle index with the top bit set writes zero
                            // Position p (0..8) of a step: bytes p, p+1, p+2 and a zero top byte
                            // (the prefix), and byte p+3 alone (the bit). Each 128-bit lane
                            // shuffles its own copy of the same 16 loaded bytes.
        let prefix_shuffle = _mm256_setr_epi8(
            0, 1, 2, Z, 1, 2, 3, Z, 2, 3, 4, Z, 3, 4, 5, Z, //
            4, 5, 6, Z, 5, 6, 7, Z, 6, 7, 8, Z, 7, 8, 9, Z,
        );
        let fourth_shuffle = _mm256_setr_epi8(
            3, Z, Z, Z, 4, Z, Z, Z, 5, Z, Z, Z, 6, Z, Z, Z, //
            7, Z, Z, Z, 8, Z, Z, Z, 9, Z, Z, Z, 10, Z, Z, Z,
        );
        let fifth_shuffle = _mm256_setr_epi8(
            4, Z, Z, Z, 5, Z, Z, Z, 6, Z, Z, Z, 7, Z, Z, Z, //
            8, Z, Z, Z, 9, Z, Z, Z, 10, Z, Z, Z, 11, Z, Z, Z,
        );
        let fold = _mm256_set1_epi32(PREFIX_FOLD as i32);
        let multiplier = _mm256_set1_epi32(MULTIPLIER as i32);
        let low4 = _mm256_set1_epi32(15);
        let sixteen = _mm256_set1_epi32(16);
        let filter = self.filter.as_ptr() as *const i32;
        let ptr = hay.as_ptr();
        let mut i = 0;
        while i + 16 <= hay.len() {
            // SAFETY: i + 16 <= hay.len(), so the 16 bytes read are in `hay`
            // (an unaligned load).
            let bytes = _mm256_broadcastsi128_si256(_mm_loadu_si128(ptr.add(i) as *const __m128i));
            let prefix = _mm256_or_si256(_mm256_shuffle_epi8(bytes, prefix_shuffle), fold);
            let index = _mm256_srli_epi32::<{ 32 - WORD_BITS as i32 }>(_mm256_mullo_epi32(
                prefix, multiplier,
            ));
            // SAFETY: each index is a u32 shifted right by 32 - WORD_BITS, so
            // below WORDS, and `filter` holds WORDS u32s: every lane reads
            // inside it (scale 4 = size of u32).
            let words = _mm256_i32gather_epi32::<4>(filter, index);
            // Shift each lane's two tested bits into its sign bit: 31 -
            // selector is ((!byte) & 15) | 16 for the fourth byte's bit, 15 -
            // selector is (!byte) & 15 for the fifth byte's.
            let fourth = _mm256_shuffle_epi8(bytes, fourth_shuffle);
            let fifth = _mm256_shuffle_epi8(bytes, fifth_shuffle);
            let fourth_shift = _mm256_or_si256(_mm256_andnot_si256(fourth, low4), sixteen);
            let fifth_shift = _mm256_andnot_si256(fifth, low4);
            let tested = _mm256_and_si256(
                _mm256_sllv_epi32(words, fourth_shift),
                _mm256_sllv_epi32(words, fifth_shift),
            );
            let mut mask = _mm256_movemask_ps(_mm256_castsi256_ps(tested)) as u32;
            while mask != 0 {
                let p = i + mask.trailing_zeros() as usize;
                mask &= mask - 1;
                if self.second.may_start(hay, p) {
                    let word = u32::from_le_bytes(hay[p..p + 4].try_into().unwrap());
                    self.candidate(hay, p, word, report);
                }
            }
            i += 8;
        }
        i
    }

    /// A position whose window passed the filter: look up keywords of
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
        // A three-byte keyword fills its filter word; no full word, no
        // three-byte keyword with this start.
        if self.has_short && self.filter[bucket(word)] == u32::MAX {
            self.verify(hay, at, fold3(word), report);
        }
    }

    #[inline]
    fn verify(&self, hay: &[u8], at: usize, key: u32, report: &mut impl FnMut(u32, usize, usize)) {
        let mask = self.slots.len() - 1;
        let mut slot = hash(key) & mask;
        loop {
            let entry = self.slots[slot];
            if entry.key == key {
                let first = entry.first as usize;
                for keyword in &self.keywords[first..first + entry.count as usize] {
                    if keyword.matches(hay, at) {
                        report(keyword.index, at, at + keyword.bytes.len());
                    }
                }
                return;
            }
            if entry.key == 0 {
                return;
            }
            slot = (slot + 1) & mask;
        }
    }
}

/// True when the AVX2 loop can run on this CPU.
fn simd_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
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

    /// Both loops must report the same; the SIMD one where the CPU has it.
    fn ours(keywords: &[String], hay: &[u8]) -> Vec<(u32, usize, usize)> {
        let mut finder = KeywordFinder::new(keywords);
        let mut out = Vec::new();
        finder.find_all(hay, |k, s, e| out.push((k, s, e)));
        finder.set_simd(false);
        let mut scalar = Vec::new();
        finder.find_all(hay, |k, s, e| scalar.push((k, s, e)));
        assert_eq!(out, scalar, "SIMD and scalar loops disagree");
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

    #[test]
    fn finds_keywords_at_every_offset_around_the_simd_steps() {
        let keywords: Vec<String> = ["pat", "Token", "ghp_", "-----begin rsa"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for len in 3..48 {
            for keyword in &keywords {
                for at in 0..len {
                    let mut hay = vec![b'x'; len];
                    let end = (at + keyword.len()).min(len);
                    hay[at..end].copy_from_slice(&keyword.as_bytes()[..end - at]);
                    hay[at] = hay[at].to_ascii_uppercase();
                    assert_eq!(
                        ours(&keywords, &hay),
                        reference(&keywords, &hay),
                        "{keyword:?} at {at} of {len}"
                    );
                }
            }
        }
    }
}
