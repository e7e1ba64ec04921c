//! Compiling a ruleset and matching one buffer: the keyword pass, the regex
//! windows and the per-match filters.

use std::{ops::Range, sync::OnceLock};

use regex_automata::{
    meta::{self, Regex},
    util::captures::{Captures, GroupInfo},
    Anchored, Input, PatternID,
};
use strata_rules::{GlobalAllowlist, Rule, Ruleset, SecretGroup, Validation};

use crate::{
    anchored::{AnchoredCache, AnchoredRegex},
    compile::{compile_any_of, compile_hirs, parse},
    filters::{is_placeholder, shannon_entropy},
    keywords::KeywordFinder,
    prefix::MatchStarts,
};

/// A rule that could not be compiled; names the rule and where it came from.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error("{source_file}: rule {rule_id}: {problem}")]
    Rule {
        source_file: String,
        rule_id: String,
        problem: String,
    },
    #[error("allowlist regex {pattern:?}: {problem}")]
    Allowlist { pattern: String, problem: String },
    #[error("building the keyword automaton: {0}")]
    Keywords(String),
}

/// Knobs that change what the matcher reports.
#[derive(Debug, Clone, Default)]
pub struct MatcherOptions {
    /// Report matches whose validator failed (checksum-invalid), marked so.
    pub report_invalid: bool,
    /// Allowlist entries that apply to every rule (from the user's config).
    pub global_allowlist: GlobalAllowlist,
    /// Build every rule's regex now, not on its first keyword hit. Rules
    /// not from the embedded set are always built now, so their errors
    /// surface at start-up.
    pub eager: bool,
}

/// Source prefix of the rules embedded in the binary.
const EMBEDDED_PREFIX: &str = "<embedded>/";

struct CompiledRule {
    rule: Rule,
    /// Built on first use: most rules never see a keyword hit in a given
    /// scan, and building every regex up front dominated start-up.
    regex: OnceLock<Built>,
    generic: bool,
    /// Index of the rule's allowlist regexes in [`Matcher::allowlists`].
    allowlist: Option<usize>,
}

/// One distinct list of allowlist regexes, compiled into one regex on first
/// use. Most rules share a handful of lists (placeholders, template
/// syntax), so each is built once, not once per rule.
struct SharedAllowlist {
    patterns: Vec<String>,
    regex: OnceLock<Regex>,
}

impl SharedAllowlist {
    fn regex(&self) -> &Regex {
        self.regex.get_or_init(|| {
            build_allowlist(&self.patterns).unwrap_or_else(|e| {
                // Checked like the rule regexes: see `CompiledRule::built`.
                panic!("{e}")
            })
        })
    }
}

fn build_allowlist(patterns: &[String]) -> Result<Regex, String> {
    match compile_any_of(patterns) {
        Ok(Some(regex)) => Ok(regex),
        Ok(None) => Err("an empty allowlist is never built".to_string()),
        Err((pattern, e)) => Err(format!("allowlist regex {pattern:?}: {e}")),
    }
}

/// The parts of a rule built from its regexes.
struct Built {
    regex: RuleRegex,
    /// Capture group index of the secret (0 = whole match).
    secret_group: usize,
    /// The regex of the rule's pair (group `pair`), if it has one.
    pair: Option<Regex>,
}

/// A rule's regex, in the form its searches need.
enum RuleRegex {
    /// Every match provably starts at a keyword or a few known bytes
    /// before one (each prefix literal of the regex holds a keyword; see
    /// `prefix.rs`), so the regex runs anchored at those positions instead
    /// of over a window around each keyword hit.
    AnchoredAtKeyword {
        regex: Box<AnchoredRegex>,
        starts: MatchStarts,
    },
    /// Matches may start anywhere in the window around a keyword hit.
    Windowed(Regex),
}

impl RuleRegex {
    fn group_info(&self) -> &GroupInfo {
        match self {
            RuleRegex::AnchoredAtKeyword { regex, .. } => regex.group_info(),
            RuleRegex::Windowed(regex) => regex.group_info(),
        }
    }

    fn create_captures(&self) -> Captures {
        match self {
            RuleRegex::AnchoredAtKeyword { regex, .. } => regex.create_captures(),
            RuleRegex::Windowed(regex) => regex.create_captures(),
        }
    }

    /// Fills `caps` with the groups of the match spanning exactly `span`.
    fn captures(&self, cache: &mut RuleCache, hay: &[u8], span: Range<usize>, caps: &mut Captures) {
        match (self, cache) {
            (RuleRegex::AnchoredAtKeyword { regex, .. }, RuleCache::AnchoredAtKeyword(cache)) => {
                regex.captures(cache, hay, span, caps)
            }
            (RuleRegex::Windowed(regex), RuleCache::Windowed(cache)) => {
                let anchored = Input::new(hay).range(span).anchored(Anchored::Yes);
                regex.search_captures_with(cache, &anchored, caps);
            }
            _ => unreachable!("a rule's cache is made by its own regex"),
        }
    }
}

/// Per-thread mutable state of one [`RuleRegex`].
enum RuleCache {
    AnchoredAtKeyword(Box<AnchoredCache>),
    Windowed(Box<meta::Cache>),
}

impl CompiledRule {
    fn built(&self) -> &Built {
        self.regex.get_or_init(|| {
            build_rule(&self.rule).unwrap_or_else(|e| {
                // Rules are syntax-checked at load, user rules are built
                // eagerly in `Matcher::new`, and the embedded set is built in
                // full by the test suite: reaching this is a bug.
                panic!("{}: rule {}: {e}", self.rule.source, self.rule.id)
            })
        })
    }
}

fn build_rule(rule: &Rule) -> Result<Built, String> {
    let hir = parse(&rule.regex).map_err(|e| format!("regex: {e}"))?;
    let regex = if let Some(starts) = MatchStarts::of(&hir, &rule.keywords) {
        AnchoredRegex::new(hir).map(|regex| RuleRegex::AnchoredAtKeyword {
            regex: Box::new(regex),
            starts,
        })
    } else {
        compile_hirs(vec![hir]).map(RuleRegex::Windowed)
    }
    .map_err(|e| format!("regex: {e}"))?;
    let group_info = regex.group_info();
    let groups = group_info.group_len(PatternID::ZERO);
    let secret_group = match &rule.secret_group {
        SecretGroup::Default => group_info
            .to_index(PatternID::ZERO, "secret")
            .unwrap_or(if groups > 1 { 1 } else { 0 }),
        SecretGroup::Index(i) => {
            let i = *i as usize;
            if i >= groups {
                return Err(format!(
                    "secret_group {i} but the regex has {} groups",
                    groups - 1
                ));
            }
            i
        }
        SecretGroup::Name(name) => group_info
            .to_index(PatternID::ZERO, name)
            .ok_or_else(|| format!("secret_group {name:?} is not a group of the regex"))?,
    };
    let pair = match &rule.pair {
        None => None,
        Some(pair) => {
            let hir = parse(&pair.regex).map_err(|e| format!("context pair: {e}"))?;
            Some(compile_hirs(vec![hir]).map_err(|e| format!("context pair: {e}"))?)
        }
    };
    Ok(Built {
        regex,
        secret_group,
        pair,
    })
}

/// The match of `pair` nearest to `secret` within `distance` bytes on
/// either side, not overlapping it.
fn find_pair(
    pair: &Regex,
    distance: usize,
    hay: &[u8],
    secret: &Range<usize>,
) -> Option<Range<usize>> {
    let from = secret.start.saturating_sub(distance);
    let to = (secret.end + distance).min(hay.len());
    let mut caps = pair.create_captures();
    let mut input = Input::new(hay).range(from..to);
    let mut best: Option<(usize, Range<usize>)> = None;
    loop {
        pair.search_captures(&input, &mut caps);
        let (Some(whole), Some(group)) = (caps.get_match(), caps.get_group_by_name("pair")) else {
            break;
        };
        let found = group.range();
        if found.end <= secret.start || found.start >= secret.end {
            let gap = if found.end <= secret.start {
                secret.start - found.end
            } else {
                found.start - secret.end
            };
            if best.as_ref().is_none_or(|(g, _)| gap < *g) {
                best = Some((gap, found.clone()));
            }
        }
        // The boundary byte after a value may begin the next one.
        let next = found.end.max(whole.start() + 1);
        if next >= to {
            break;
        }
        input.set_start(next);
    }
    best.map(|(_, range)| range)
}

/// The cache of rule `rule_index`, made by `make` on the rule's first
/// search with this scratch.
fn rule_cache(
    caches: &mut [Option<RuleCache>],
    rule_index: u32,
    make: impl FnOnce() -> RuleCache,
) -> &mut RuleCache {
    caches[rule_index as usize].get_or_insert_with(make)
}

/// A compiled ruleset, shareable across threads (`&Matcher` is `Sync`).
pub struct Matcher {
    rules: Vec<CompiledRule>,
    keywords: KeywordFinder,
    /// For each keyword pattern, the rules that listed it.
    keyword_rules: Vec<Vec<u32>>,
    max_window: usize,
    max_keyword_len: usize,
    /// The distinct allowlists of the rules.
    allowlists: Vec<SharedAllowlist>,
    /// The user's global allowlist regexes as one regex.
    global_allow: Option<Regex>,
    options: MatcherOptions,
}

/// Per-thread mutable state for scanning: reuse one per thread.
pub struct Scratch {
    /// Keyword hits `(start, end)` of each rule in the current buffer.
    hits: Vec<Vec<(usize, usize)>>,
    /// The rules with hits in the current buffer.
    hit_rules: Vec<u32>,
    /// Possible match starts of an anchored rule whose matches may start
    /// before its keyword, with their search limits.
    starts: Vec<(usize, usize)>,
    caches: Vec<Option<RuleCache>>,
    lowered: Vec<u8>,
    pub(crate) buf: Vec<u8>,
    pub(crate) raw: Vec<RawMatch>,
}

/// A match inside one buffer, before line/column resolution.
#[derive(Debug, Clone)]
pub(crate) struct RawMatch {
    pub rule: u32,
    pub span: Range<usize>,
    pub secret: Range<usize>,
    pub entropy: f64,
    pub validation: Validation,
    /// Recognised by a provider rule but rejected by its validator: not
    /// reported, yet it keeps generic rules from reporting the same value.
    pub claimed_only: bool,
    /// The other half of an id + secret pair, when the rule has one and it
    /// was found near the secret.
    pub pair: Option<Range<usize>>,
}

/// A reported match: the rule, where it is and what it found.
#[derive(Debug, Clone)]
pub struct Match {
    /// Index of the rule in [`Matcher::rules`].
    pub rule_index: usize,
    /// Byte offsets of the whole regex match in the scanned input.
    pub start: u64,
    pub end: u64,
    /// Byte offset of the secret in the scanned input.
    pub secret_start: u64,
    /// The secret itself. Callers must keep it out of logs and default output.
    pub secret: Vec<u8>,
    /// 1-based line and column (in bytes) of the secret's first byte.
    pub line: u64,
    pub column: u64,
    /// 1-based line of the secret's last byte.
    pub end_line: u64,
    pub entropy: f64,
    pub validation: Validation,
    /// The line holding the secret carries a `strata:allow` marker.
    pub inline_allow: bool,
    /// The id half of an id + secret pair (the rule's `pair`), when found
    /// near the secret. Not secret by itself; still shortened in reports.
    pub pair: Option<Vec<u8>>,
}

impl Matcher {
    /// Compiles every rule of `ruleset`.
    pub fn new(ruleset: &Ruleset, options: MatcherOptions) -> Result<Matcher, CompileError> {
        let mut rules = Vec::with_capacity(ruleset.len());
        let mut keyword_index: std::collections::HashMap<String, usize> = Default::default();
        let mut keyword_list: Vec<String> = Vec::new();
        let mut keyword_rules: Vec<Vec<u32>> = Vec::new();
        let mut allowlists: Vec<SharedAllowlist> = Vec::new();
        for (index, rule) in ruleset.rules().iter().enumerate() {
            let patterns = &rule.allowlist.regexes;
            let allowlist = (!patterns.is_empty()).then(|| {
                allowlists
                    .iter()
                    .position(|a| &a.patterns == patterns)
                    .unwrap_or_else(|| {
                        allowlists.push(SharedAllowlist {
                            patterns: patterns.clone(),
                            regex: OnceLock::new(),
                        });
                        allowlists.len() - 1
                    })
            });
            let compiled = CompiledRule {
                generic: rule.tags.iter().any(|t| t == "generic")
                    || rule.id.starts_with("generic-"),
                rule: rule.clone(),
                regex: OnceLock::new(),
                allowlist,
            };
            if !rule.source.starts_with(EMBEDDED_PREFIX) || options.eager {
                let error = |problem| CompileError::Rule {
                    source_file: rule.source.clone(),
                    rule_id: rule.id.clone(),
                    problem,
                };
                let _ = compiled.regex.set(build_rule(rule).map_err(error)?);
                if let Some(shared) = allowlist.map(|i| &allowlists[i]) {
                    if shared.regex.get().is_none() {
                        let _ = shared.regex.set(build_allowlist(patterns).map_err(error)?);
                    }
                }
            }
            for keyword in &rule.keywords {
                let slot = *keyword_index.entry(keyword.clone()).or_insert_with(|| {
                    keyword_list.push(keyword.clone());
                    keyword_rules.push(Vec::new());
                    keyword_list.len() - 1
                });
                keyword_rules[slot].push(index as u32);
            }
            rules.push(compiled);
        }
        let keywords = KeywordFinder::new(&keyword_list);
        let global_allow = compile_any_of(&options.global_allowlist.regexes)
            .map_err(|(pattern, problem)| CompileError::Allowlist { pattern, problem })?;
        Ok(Matcher {
            max_window: rules.iter().map(|r| r.rule.window).max().unwrap_or(0),
            max_keyword_len: keyword_list.iter().map(String::len).max().unwrap_or(0),
            rules,
            keywords,
            keyword_rules,
            allowlists,
            global_allow,
            options,
        })
    }

    /// The rule behind a match's `rule_index`.
    pub fn rule(&self, index: usize) -> &Rule {
        &self.rules[index].rule
    }

    pub fn rules(&self) -> impl ExactSizeIterator<Item = &Rule> {
        self.rules.iter().map(|r| &r.rule)
    }

    pub fn options(&self) -> &MatcherOptions {
        &self.options
    }

    /// The longest match any rule can report: chunk overlap must exceed it.
    pub fn max_match_len(&self) -> usize {
        2 * self.max_window + self.max_keyword_len
    }

    /// True when the user's config or the rule's own allowlist exempts `path`.
    pub fn path_allowed(&self, rule_index: usize, path: &str) -> bool {
        self.options.global_allowlist.paths.is_match(path)
            || self.rules[rule_index].rule.allowlist.paths.is_match(path)
    }

    /// Counts keyword occurrences in `hay` without running any regex: the
    /// cost of the one pass over every byte, for benchmarks.
    #[doc(hidden)]
    pub fn count_keyword_hits(&self, hay: &[u8]) -> usize {
        let mut count = 0;
        self.keywords.find_all(hay, |_, _, _| count += 1);
        count
    }

    /// Turns the keyword pass's SIMD loop on or off (for benchmarks; it is
    /// on by default wherever the CPU supports it).
    #[doc(hidden)]
    pub fn set_keyword_simd(&mut self, on: bool) {
        self.keywords.set_simd(on);
    }

    pub fn new_scratch(&self) -> Scratch {
        Scratch {
            hits: vec![Vec::new(); self.rules.len()],
            hit_rules: Vec::new(),
            starts: Vec::new(),
            caches: (0..self.rules.len()).map(|_| None).collect(),
            lowered: Vec::new(),
            buf: Vec::new(),
            raw: Vec::new(),
        }
    }

    /// Finds every match in `hay` whose start lies in `accept`, appending them
    /// to `scratch.raw` sorted by start. Offsets are relative to `hay`.
    pub(crate) fn scan_buffer(&self, hay: &[u8], accept: Range<usize>, scratch: &mut Scratch) {
        scratch.raw.clear();
        let Scratch {
            hits, hit_rules, ..
        } = scratch;
        // Hits go straight to their rule's list (no sort of every hit by
        // rule afterwards). They come in order of start; two keywords of one
        // rule starting together may come in either order of end, and each
        // list is kept in (start, end) order.
        self.keywords.find_all(hay, |keyword, start, end| {
            for &rule in &self.keyword_rules[keyword as usize] {
                let list = &mut hits[rule as usize];
                match list.last() {
                    None => {
                        hit_rules.push(rule);
                        list.push((start, end));
                    }
                    Some(&(s, e)) if s == start && e > end => {
                        let at = list.partition_point(|&h| h < (start, end));
                        list.insert(at, (start, end));
                    }
                    Some(_) => list.push((start, end)),
                }
            }
        });
        if scratch.hit_rules.is_empty() {
            return;
        }
        scratch.hit_rules.sort_unstable();
        for r in 0..scratch.hit_rules.len() {
            let rule_index = scratch.hit_rules[r];
            let mut list = std::mem::take(&mut scratch.hits[rule_index as usize]);
            self.search_hits(rule_index, &list, hay, &accept, scratch);
            list.clear();
            scratch.hits[rule_index as usize] = list;
        }
        scratch.hit_rules.clear();
        scratch.raw.sort_unstable_by_key(|m| (m.span.start, m.rule));
        self.drop_generic_duplicates(&mut scratch.raw);
    }

    /// Runs one rule's regex where its keyword hits (in (start, end) order)
    /// say a match may be.
    fn search_hits(
        &self,
        rule_index: u32,
        hits: &[(usize, usize)],
        hay: &[u8],
        accept: &Range<usize>,
        scratch: &mut Scratch,
    ) {
        let window = self.rules[rule_index as usize].rule.window;
        let regex = match &self.rules[rule_index as usize].built().regex {
            RuleRegex::Windowed(regex) => regex,
            RuleRegex::AnchoredAtKeyword { regex, starts } => {
                self.search_starts(rule_index, regex, starts, hits, hay, accept, scratch);
                return;
            }
        };
        let (first_start, first_end) = hits[0];
        let mut region = first_start.saturating_sub(window)..(first_end + window).min(hay.len());
        for &(s, e) in &hits[1..] {
            let next = s.saturating_sub(window)..(e + window).min(hay.len());
            if next.start <= region.end {
                region.end = region.end.max(next.end);
            } else {
                self.search_region(rule_index, regex, hay, region, accept, scratch);
                region = next;
            }
        }
        self.search_region(rule_index, regex, hay, region, accept, scratch);
    }

    /// Runs an anchored rule's regex at each position a match may start
    /// (`starts`, from the rule's keyword hits), in order, skipping those
    /// inside a match already found, as a leftmost-first search over the
    /// window would.
    #[allow(clippy::too_many_arguments)]
    fn search_starts(
        &self,
        rule_index: u32,
        regex: &AnchoredRegex,
        starts: &MatchStarts,
        hits: &[(usize, usize)],
        hay: &[u8],
        accept: &Range<usize>,
        scratch: &mut Scratch,
    ) {
        // A match never extends past 2 * window + keyword bytes from its
        // keyword.
        let window = self.rules[rule_index as usize].rule.window;
        let limit = |end: usize| (end + 2 * window).min(hay.len());
        let mut covered_to = 0;
        if starts.at_keyword_only() {
            // Each hit's start is a possible match start, in order.
            for &(start, end) in hits {
                if start < covered_to {
                    continue;
                }
                if let Some(found_end) =
                    self.search_anchored(rule_index, regex, hay, start..limit(end), accept, scratch)
                {
                    covered_to = found_end;
                }
            }
            return;
        }
        // Starts from different hits interleave: gather, then sort.
        let mut candidates = std::mem::take(&mut scratch.starts);
        candidates.clear();
        for &(start, end) in hits {
            starts.each_start(hay, start, |at| candidates.push((at, limit(end))));
        }
        // By start, and for one start the farthest limit first.
        candidates.sort_unstable_by_key(|&(at, limit)| (at, std::cmp::Reverse(limit)));
        let mut previous = None;
        for &(at, limit) in &candidates {
            if at < covered_to || previous == Some(at) {
                continue;
            }
            previous = Some(at);
            if let Some(found_end) =
                self.search_anchored(rule_index, regex, hay, at..limit, accept, scratch)
            {
                covered_to = found_end;
            }
        }
        scratch.starts = candidates;
    }

    /// Runs a rule's regex anchored at `region.start`; returns the end of
    /// the match it found, if any.
    fn search_anchored(
        &self,
        rule_index: u32,
        regex: &AnchoredRegex,
        hay: &[u8],
        region: Range<usize>,
        accept: &Range<usize>,
        scratch: &mut Scratch,
    ) -> Option<usize> {
        let start = region.start;
        let cache = rule_cache(&mut scratch.caches, rule_index, || {
            RuleCache::AnchoredAtKeyword(Box::new(regex.create_cache()))
        });
        let RuleCache::AnchoredAtKeyword(anchored_cache) = cache else {
            unreachable!("a rule's cache is made by its own regex")
        };
        let end = regex.match_end(anchored_cache, hay, region)?;
        if accept.contains(&start) {
            self.keep_match(rule_index, hay, start..end, scratch, None);
        }
        Some(end)
    }

    fn search_region(
        &self,
        rule_index: u32,
        regex: &Regex,
        hay: &[u8],
        region: Range<usize>,
        accept: &Range<usize>,
        scratch: &mut Scratch,
    ) {
        let mut input = Input::new(hay).range(region.clone());
        let mut caps: Option<Captures> = None;
        loop {
            let cache = rule_cache(&mut scratch.caches, rule_index, || {
                RuleCache::Windowed(Box::new(regex.create_cache()))
            });
            let RuleCache::Windowed(meta_cache) = cache else {
                unreachable!("a rule's cache is made by its own regex")
            };
            let Some(found) = regex.search_with(meta_cache, &input) else {
                break;
            };
            let span = found.range();
            let next_start = if span.is_empty() {
                span.end + 1
            } else {
                span.end
            };
            if accept.contains(&span.start) {
                self.keep_match(rule_index, hay, span.clone(), scratch, Some(&mut caps));
            }
            if next_start > region.end {
                break;
            }
            input.set_start(next_start);
        }
    }

    /// Extracts the secret of a regex match and keeps the match if it
    /// passes the filters. `caps` lets a caller reuse one `Captures` across
    /// the matches of a region.
    fn keep_match(
        &self,
        rule_index: u32,
        hay: &[u8],
        span: Range<usize>,
        scratch: &mut Scratch,
        caps: Option<&mut Option<Captures>>,
    ) {
        let compiled = &self.rules[rule_index as usize];
        let built = compiled.built();
        let secret = if built.secret_group == 0 {
            Some(span.clone())
        } else {
            let mut local = None;
            let caps = caps
                .unwrap_or(&mut local)
                .get_or_insert_with(|| built.regex.create_captures());
            let cache = scratch.caches[rule_index as usize]
                .as_mut()
                .expect("a match was found with this cache");
            built.regex.captures(cache, hay, span.clone(), caps);
            caps.get_group(built.secret_group).map(|s| s.range())
        };
        if let Some(secret) = secret.filter(|s| !s.is_empty()) {
            if let Some(kept) = self.filter(
                compiled,
                rule_index,
                hay,
                span,
                secret,
                &mut scratch.lowered,
            ) {
                scratch.raw.push(kept);
            }
        }
    }

    /// Applies the filters that every match must pass; `None` drops it.
    fn filter(
        &self,
        compiled: &CompiledRule,
        rule_index: u32,
        hay: &[u8],
        span: Range<usize>,
        secret: Range<usize>,
        lowered: &mut Vec<u8>,
    ) -> Option<RawMatch> {
        let rule = &compiled.rule;
        lowered.clear();
        lowered.extend(hay[span.clone()].iter().map(u8::to_ascii_lowercase));
        if !rule
            .keywords
            .iter()
            .any(|k| memchr::memmem::find(lowered, k.as_bytes()).is_some())
        {
            return None;
        }
        let value = &hay[secret.clone()];
        if is_placeholder(value) {
            return None;
        }
        let entropy = shannon_entropy(value);
        if rule.min_entropy.is_some_and(|min| entropy < min) {
            return None;
        }
        let validation = rule
            .validator
            .map_or(Validation::None, |v| v.validate(value));
        if validation.is_failure() && !self.options.report_invalid {
            // A provider rule recognised the shape and the checksum said no:
            // a generic rule must not report the same value instead.
            return Some(RawMatch {
                rule: rule_index,
                span,
                secret,
                entropy,
                validation,
                claimed_only: true,
                pair: None,
            });
        }
        let rule_allows = compiled
            .allowlist
            .is_some_and(|i| self.allowlists[i].regex().is_match(value));
        if rule_allows
            || self
                .global_allow
                .as_ref()
                .is_some_and(|re| re.is_match(value))
        {
            return None;
        }
        let stopwords = rule
            .allowlist
            .stopwords
            .iter()
            .chain(&self.options.global_allowlist.stopwords);
        let mut stopwords = stopwords.peekable();
        if stopwords.peek().is_some() {
            let lower_secret: Vec<u8> = value.iter().map(u8::to_ascii_lowercase).collect();
            if stopwords
                .into_iter()
                .any(|w| memchr::memmem::find(&lower_secret, w.as_bytes()).is_some())
            {
                return None;
            }
        }
        let pair = match (&rule.pair, &compiled.built().pair) {
            (Some(spec), Some(regex)) => find_pair(regex, spec.distance, hay, &secret),
            _ => None,
        };
        Some(RawMatch {
            rule: rule_index,
            span,
            secret,
            entropy,
            validation,
            claimed_only: false,
            pair,
        })
    }

    /// A generic rule (`password = …`) that reports the same secret as a
    /// provider rule adds nothing: keep the provider rule's finding only.
    fn drop_generic_duplicates(&self, raw: &mut Vec<RawMatch>) {
        if raw.len() < 2 || !raw.iter().any(|m| self.rules[m.rule as usize].generic) {
            raw.retain(|m| !m.claimed_only);
            return;
        }
        let specific: Vec<Range<usize>> = raw
            .iter()
            .filter(|m| !self.rules[m.rule as usize].generic)
            .map(|m| m.secret.clone())
            .collect();
        raw.retain(|m| {
            !m.claimed_only
                && (!self.rules[m.rule as usize].generic
                    || !specific
                        .iter()
                        .any(|s| s.start < m.secret.end && m.secret.start < s.end))
        });
    }
}
