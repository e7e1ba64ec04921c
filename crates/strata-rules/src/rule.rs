//! One rule: its schema as written in TOML and its checked, ready-to-compile form.

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::Deserialize;

use crate::{
    context::{self, ContextSpec, Pair},
    error::RuleError,
    metadata::{Confidence, Severity},
    validators::Validator,
};

/// Default number of bytes searched on each side of a keyword hit.
pub const DEFAULT_WINDOW: usize = 256;
/// Largest window a rule may ask for; the engine's chunk overlap is derived from it.
pub const MAX_WINDOW: usize = 16 * 1024;

/// A rule as written in a TOML file (`[[rules]]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RuleSpec {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Exactly one of `regex` and `context`.
    #[serde(default)]
    pub regex: Option<String>,
    #[serde(default)]
    pub context: Option<ContextSpec>,
    #[serde(default)]
    pub secret_group: Option<SecretGroupSpec>,
    #[serde(default)]
    pub min_entropy: Option<f64>,
    #[serde(default)]
    pub validator: Option<String>,
    #[serde(default)]
    pub window: Option<usize>,
    #[serde(default)]
    pub severity: Option<Severity>,
    #[serde(default)]
    pub confidence: Option<Confidence>,
    #[serde(default)]
    pub references: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub examples: Vec<String>,
    #[serde(default)]
    pub counterexamples: Vec<String>,
    #[serde(default)]
    pub allowlist: AllowlistSpec,
    /// Names of shared allowlists (`[allowlists.NAME]`) applied as well.
    #[serde(default)]
    pub allowlists: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum SecretGroupSpec {
    Index(u32),
    Name(String),
}

/// The per-rule allowlist as written in TOML; also a shared, named one.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AllowlistSpec {
    #[serde(default)]
    pub regexes: Vec<String>,
    #[serde(default)]
    pub paths: Vec<String>,
    #[serde(default)]
    pub stopwords: Vec<String>,
}

/// Named allowlists (`[allowlists.NAME]`) that rules reference by name.
pub(crate) type SharedAllowlists = std::collections::BTreeMap<String, AllowlistSpec>;

/// Which capture group of a rule's regex holds the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretGroup {
    /// Group `secret` if the regex has it, else group 1 if any, else the match.
    Default,
    Index(u32),
    Name(String),
}

/// Matches that a rule drops although its regex matched.
#[derive(Debug, Clone, Default)]
pub struct Allowlist {
    /// Regexes (same dialect as rule regexes) tested against the secret.
    pub regexes: Vec<String>,
    /// Globs tested against the reported path.
    pub path_globs: Vec<String>,
    pub paths: GlobSet,
    /// Lower-cased words; a secret containing one is dropped.
    pub stopwords: Vec<String>,
}

impl AllowlistSpec {
    /// Adds `other`'s entries after this one's, skipping repeats.
    pub(crate) fn extend(&mut self, other: &AllowlistSpec) {
        fn add(into: &mut Vec<String>, from: &[String]) {
            for item in from {
                if !into.contains(item) {
                    into.push(item.clone());
                }
            }
        }
        add(&mut self.regexes, &other.regexes);
        add(&mut self.paths, &other.paths);
        add(&mut self.stopwords, &other.stopwords);
    }
}

impl Allowlist {
    pub(crate) fn from_spec(
        spec: AllowlistSpec,
        file: &str,
        id: &str,
    ) -> Result<Allowlist, RuleError> {
        for re in &spec.regexes {
            check_regex_syntax(re)
                .map_err(|e| RuleError::rule(file, id, format!("allowlist regex {re:?}: {e}")))?;
        }
        let paths = build_globset(&spec.paths).map_err(|e| RuleError::rule(file, id, e))?;
        Ok(Allowlist {
            regexes: spec.regexes,
            path_globs: spec.paths,
            paths,
            stopwords: spec
                .stopwords
                .iter()
                .map(|w| w.to_ascii_lowercase())
                .collect(),
        })
    }

    /// True when nothing is allowlisted.
    pub fn is_empty(&self) -> bool {
        self.regexes.is_empty() && self.path_globs.is_empty() && self.stopwords.is_empty()
    }
}

pub(crate) fn build_globset(globs: &[String]) -> Result<GlobSet, String> {
    let mut builder = GlobSetBuilder::new();
    for glob in globs {
        builder.add(Glob::new(glob).map_err(|e| format!("path glob {glob:?}: {e}"))?);
    }
    builder.build().map_err(|e| format!("path globs: {e}"))
}

/// A checked rule, ready for `strata-engine` to compile.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub name: String,
    pub description: String,
    /// Lower-cased, ASCII, deduplicated; never empty.
    pub keywords: Vec<String>,
    /// The regex as written, or the one built from a `[rules.context]`.
    pub regex: String,
    /// A context rule (keyword + value shape): its regex was built.
    pub is_context: bool,
    /// The id half of an id + secret pair, searched for near each secret.
    pub pair: Option<Pair>,
    pub secret_group: SecretGroup,
    pub min_entropy: Option<f64>,
    pub validator: Option<Validator>,
    /// Bytes searched on each side of a keyword hit.
    pub window: usize,
    pub severity: Severity,
    pub confidence: Confidence,
    /// Links to the provider's documentation of the credential.
    pub references: Vec<String>,
    /// The rule file gave severity, confidence and references itself
    /// (every default rule must; `strata rules check` says which do not).
    pub metadata_given: bool,
    pub tags: Vec<String>,
    pub examples: Vec<String>,
    pub counterexamples: Vec<String>,
    pub allowlist: Allowlist,
    /// Where the rule came from (a file name, `<embedded>/x.toml`, a config path).
    pub source: String,
}

impl Rule {
    pub(crate) fn from_spec(
        spec: RuleSpec,
        file: &str,
        shared: &SharedAllowlists,
    ) -> Result<Rule, RuleError> {
        let rule = Rule::from_spec_unchecked_regex(spec, file, shared)?;
        check_regex_syntax(&rule.regex)
            .map_err(|e| RuleError::rule(file, &rule.id, format!("regex: {e}")))?;
        if let Some(pair) = &rule.pair {
            check_regex_syntax(&pair.regex)
                .map_err(|e| RuleError::rule(file, &rule.id, format!("context pair: {e}")))?;
        }
        Ok(rule)
    }

    /// Like `from_spec`, without parsing the regex (the engine builds it).
    pub(crate) fn from_spec_unchecked_regex(
        spec: RuleSpec,
        file: &str,
        shared: &SharedAllowlists,
    ) -> Result<Rule, RuleError> {
        let id = spec.id.trim().to_string();
        let err = |problem: String| RuleError::rule(file, &id, problem);
        if id.is_empty()
            || !id.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.' || b == b'_'
            })
        {
            return Err(err(
                "id must be non-empty lower-case ASCII letters, digits, '-', '_' or '.'".into(),
            ));
        }
        if spec.name.trim().is_empty() {
            return Err(err("name is empty".into()));
        }
        let mut keywords = Vec::new();
        for keyword in &spec.keywords {
            if keyword.len() < 3 {
                return Err(err(format!(
                    "keyword {keyword:?} is shorter than 3 bytes; it would fire everywhere"
                )));
            }
            if !keyword.is_ascii() {
                return Err(err(format!("keyword {keyword:?} is not ASCII")));
            }
            let lower = keyword.to_ascii_lowercase();
            if !keywords.contains(&lower) {
                keywords.push(lower);
            }
        }
        if keywords.is_empty() {
            return Err(err(
                "a rule needs at least one keyword (the engine only runs a rule's regex near one)"
                    .into(),
            ));
        }
        let secret_group = match spec.secret_group {
            None => SecretGroup::Default,
            Some(SecretGroupSpec::Index(i)) => SecretGroup::Index(i),
            Some(SecretGroupSpec::Name(n)) => SecretGroup::Name(n),
        };
        let validator = match spec.validator.as_deref() {
            None => None,
            Some(name) => Some(Validator::from_name(name).ok_or_else(|| {
                err(format!(
                    "unknown validator {name:?} (known: {})",
                    Validator::NAMES.join(", ")
                ))
            })?),
        };
        let window = spec.window.unwrap_or(DEFAULT_WINDOW);
        if window == 0 || window > MAX_WINDOW {
            return Err(err(format!("window must be between 1 and {MAX_WINDOW}")));
        }
        if let Some(e) = spec.min_entropy {
            if !(0.0..=8.0).contains(&e) {
                return Err(err(
                    "min_entropy must be between 0 and 8 bits per byte".into()
                ));
            }
        }
        let is_context = spec.context.is_some();
        let (regex, pair, min_entropy) = match (spec.regex, spec.context) {
            (Some(regex), None) => (regex, None, spec.min_entropy),
            (None, Some(context)) => {
                if secret_group != SecretGroup::Default {
                    return Err(err(
                        "a context rule's secret is its value; secret_group does not apply".into(),
                    ));
                }
                let regex = context::build_regex(&keywords, &context).map_err(&err)?;
                let pair = context
                    .pair
                    .as_ref()
                    .map(context::build_pair)
                    .transpose()
                    .map_err(&err)?;
                let entropy = spec.min_entropy.or(Some(context::DEFAULT_MIN_ENTROPY));
                (regex, pair, entropy)
            }
            (Some(_), Some(_)) => {
                return Err(err("give either regex or [rules.context], not both".into()))
            }
            (None, None) => return Err(err("needs a regex or a [rules.context] table".into())),
        };
        for reference in &spec.references {
            if !reference.starts_with("https://") && !reference.starts_with("http://") {
                return Err(err(format!(
                    "reference {reference:?} is not an http(s) URL"
                )));
            }
        }
        let metadata_given =
            spec.severity.is_some() && spec.confidence.is_some() && !spec.references.is_empty();
        let mut allowlist_spec = spec.allowlist;
        for name in &spec.allowlists {
            let named = shared
                .get(name)
                .ok_or_else(|| err(format!("shared allowlist {name:?} is not defined")))?;
            allowlist_spec.extend(named);
        }
        let allowlist = Allowlist::from_spec(allowlist_spec, file, &id)?;
        Ok(Rule {
            id,
            name: spec.name,
            description: spec.description,
            keywords,
            is_context,
            regex,
            pair,
            secret_group,
            min_entropy,
            validator,
            window,
            severity: spec.severity.unwrap_or(Severity::Medium),
            confidence: spec.confidence.unwrap_or(Confidence::Medium),
            references: spec.references,
            metadata_given,
            tags: spec.tags,
            examples: spec.examples,
            counterexamples: spec.counterexamples,
            allowlist,
            source: file.to_string(),
        })
    }
}

/// Parses `pattern` with the syntax settings the engine compiles with
/// (no Unicode, bytes allowed), so syntax errors surface at load time.
fn check_regex_syntax(pattern: &str) -> Result<(), String> {
    regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(pattern)
        .map(|_| ())
        .map_err(|e| e.to_string())
}
