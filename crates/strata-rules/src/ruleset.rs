//! A set of rules with unique ids: loaded from the embedded defaults, a rules
//! directory, or TOML text, and extended or trimmed by a user config.

use std::{
    collections::{BTreeMap, HashSet},
    fs,
    path::Path,
};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::{
    error::RuleError,
    rule::{AllowlistSpec, Rule, RuleSpec, SharedAllowlists},
    DEFAULT_RULE_FILES,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default)]
    rules: Vec<RuleSpec>,
    /// Shared allowlists, referenced by rules of any file by name.
    #[serde(default)]
    allowlists: BTreeMap<String, AllowlistSpec>,
}

/// Rules with unique ids, in load order.
#[derive(Debug, Clone, Default)]
pub struct Ruleset {
    rules: Vec<Rule>,
    /// Shared allowlists defined so far, with the file defining each.
    shared: SharedAllowlists,
    shared_from: BTreeMap<String, String>,
}

impl Ruleset {
    /// The ruleset embedded in the binary at build time (`rules/*.toml`).
    pub fn embedded() -> Result<Ruleset, RuleError> {
        let mut set = Ruleset::default();
        let mut files = Vec::new();
        for (name, json) in DEFAULT_RULE_FILES {
            let file = format!("<embedded>/{name}");
            let parsed: RuleFile = serde_json::from_str(json).map_err(|e| RuleError::Toml {
                file: file.clone(),
                message: e.to_string(),
            })?;
            set.add_shared(&file, &parsed)?;
            files.push((file, parsed.rules));
        }
        for (file, specs) in files {
            for spec in specs {
                // Embedded regexes are built in full by the test suite, so
                // the separate syntax pass is skipped for them.
                let rule = Rule::from_spec_unchecked_regex(spec, &file, &set.shared)?;
                set.push(rule, false)?;
            }
        }
        Ok(set)
    }

    /// Registers a file's shared allowlists; a name defined twice is an error.
    fn add_shared(&mut self, file: &str, parsed: &RuleFile) -> Result<(), RuleError> {
        for (name, spec) in &parsed.allowlists {
            if let Some(first) = self.shared_from.get(name) {
                return Err(RuleError::rule(
                    file,
                    &format!("[allowlists.{name}]"),
                    format!("shared allowlist defined twice (first in {first})"),
                ));
            }
            self.shared.insert(name.clone(), spec.clone());
            self.shared_from.insert(name.clone(), file.to_string());
        }
        Ok(())
    }

    /// Every `*.toml` file directly inside `dir`, in name order.
    pub fn from_dir(dir: &Path) -> Result<Ruleset, RuleError> {
        let io = |source| RuleError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let mut paths = Vec::new();
        for entry in fs::read_dir(dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            if path.extension().is_some_and(|e| e == "toml") {
                paths.push(path);
            }
        }
        paths.sort();
        let mut set = Ruleset::default();
        let mut files = Vec::new();
        for path in paths {
            let text = fs::read_to_string(&path).map_err(|source| RuleError::Io {
                path: path.clone(),
                source,
            })?;
            let file = path.display().to_string();
            let parsed = parse_rule_file(&file, &text)?;
            set.add_shared(&file, &parsed)?;
            files.push((file, parsed.rules));
        }
        for (file, specs) in files {
            set.add_rules(&file, specs, false)?;
        }
        if set.rules.is_empty() {
            return Err(RuleError::Empty {
                file: dir.display().to_string(),
            });
        }
        Ok(set)
    }

    /// Parses one rule file's text; `file` names it in errors.
    pub fn add_file(&mut self, file: &str, text: &str) -> Result<(), RuleError> {
        let parsed = parse_rule_file(file, text)?;
        self.add_shared(file, &parsed)?;
        self.add_rules(file, parsed.rules, false)
    }

    pub(crate) fn add_specs(&mut self, file: &str, specs: Vec<RuleSpec>) -> Result<(), RuleError> {
        self.add_rules(file, specs, true)
    }

    fn add_rules(
        &mut self,
        file: &str,
        specs: Vec<RuleSpec>,
        replace: bool,
    ) -> Result<(), RuleError> {
        for spec in specs {
            let rule = Rule::from_spec(spec, file, &self.shared)?;
            self.push(rule, replace)?;
        }
        Ok(())
    }

    /// Adds a rule. A duplicate id is an error unless `replace` is set, in which
    /// case the new rule takes the old one's place (a config overriding a default).
    fn push(&mut self, rule: Rule, replace: bool) -> Result<(), RuleError> {
        if let Some(existing) = self.rules.iter_mut().find(|r| r.id == rule.id) {
            if replace {
                *existing = rule;
                return Ok(());
            }
            return Err(RuleError::rule(
                &rule.source,
                &rule.id,
                format!("duplicate id (first defined in {})", existing.source),
            ));
        }
        self.rules.push(rule);
        Ok(())
    }

    /// Drops the rules whose ids are listed; unknown ids are an error so a typo
    /// does not silently leave a rule enabled.
    pub fn disable(&mut self, ids: &[String], file: &str) -> Result<(), RuleError> {
        let known: HashSet<&str> = self.rules.iter().map(|r| r.id.as_str()).collect();
        if let Some(unknown) = ids.iter().find(|id| !known.contains(id.as_str())) {
            return Err(RuleError::rule(
                file,
                unknown,
                "disabled rule id does not exist",
            ));
        }
        self.rules.retain(|r| !ids.contains(&r.id));
        Ok(())
    }

    /// Keeps only the rules whose ids are listed.
    pub fn retain_ids(&mut self, ids: &[String]) {
        self.rules.retain(|r| ids.contains(&r.id));
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The names of the shared allowlists, with the file defining each.
    pub fn shared_allowlists(&self) -> impl Iterator<Item = (&str, &str)> {
        self.shared_from
            .iter()
            .map(|(n, f)| (n.as_str(), f.as_str()))
    }

    /// A SHA-256 over everything that changes what the rules report, so a
    /// cache of scan results can tell it was made with the same rules.
    pub fn fingerprint(&self) -> String {
        let mut hasher = Sha256::new();
        for rule in &self.rules {
            let pair = rule
                .pair
                .as_ref()
                .map(|p| format!("{}\u{1}{}\u{1}{}", p.name, p.regex, p.distance));
            let parts = [
                rule.id.as_str(),
                rule.name.as_str(),
                &rule.tags.join("\u{1}"),
                rule.severity.as_str(),
                rule.confidence.as_str(),
                pair.as_deref().unwrap_or(""),
                rule.regex.as_str(),
                &rule.keywords.join("\u{1}"),
                &format!("{:?}", rule.secret_group),
                &format!("{:?}", rule.min_entropy),
                &format!("{:?}", rule.validator),
                &rule.window.to_string(),
                &rule.allowlist.regexes.join("\u{1}"),
                &rule.allowlist.path_globs.join("\u{1}"),
                &rule.allowlist.stopwords.join("\u{1}"),
            ];
            for part in parts {
                hasher.update(part.as_bytes());
                hasher.update([0u8]);
            }
        }
        hex::encode(hasher.finalize())
    }
}

fn parse_rule_file(file: &str, text: &str) -> Result<RuleFile, RuleError> {
    toml::from_str(text).map_err(|e| RuleError::Toml {
        file: file.to_string(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = r#"
[[rules]]
id = "demo-token"
name = "Demo token"
keywords = ["demo_"]
regex = '''\b(demo_[a-z0-9]{8})\b'''
examples = ["demo_a1b2c3d4"]
counterexamples = ["demo_short"]
"#;

    #[test]
    fn embedded_ruleset_loads() {
        let set = Ruleset::embedded().unwrap();
        assert!(!set.is_empty());
        let mut ids: Vec<&str> = set.rules().iter().map(|r| r.id.as_str()).collect();
        ids.sort();
        let before = ids.len();
        ids.dedup();
        assert_eq!(before, ids.len());
    }

    #[test]
    fn duplicate_ids_name_both_files() {
        let mut set = Ruleset::default();
        set.add_file("a.toml", ONE).unwrap();
        let err = set.add_file("b.toml", ONE).unwrap_err().to_string();
        assert!(
            err.contains("b.toml") && err.contains("demo-token") && err.contains("a.toml"),
            "{err}"
        );
    }

    #[test]
    fn rule_without_keyword_is_rejected() {
        let text = ONE.replace(r#"keywords = ["demo_"]"#, "keywords = []");
        let err = Ruleset::default()
            .add_file("x.toml", &text)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("x.toml: rule demo-token:") && err.contains("keyword"),
            "{err}"
        );
    }

    #[test]
    fn bad_regex_and_unknown_validator_are_named() {
        let text = ONE.replace("[a-z0-9]{8}", "[a-z0-9{8}");
        let err = Ruleset::default()
            .add_file("x.toml", &text)
            .unwrap_err()
            .to_string();
        assert!(err.contains("regex"), "{err}");
        let text = ONE.replace("\nexamples =", "\nvalidator = \"crc64\"\nexamples =");
        let err = Ruleset::default()
            .add_file("x.toml", &text)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown validator"), "{err}");
    }

    #[test]
    fn unknown_field_is_an_error() {
        let text = ONE.replace("\nexamples =", "\nregexx = 'a'\nexamples =");
        let err = Ruleset::default()
            .add_file("x.toml", &text)
            .unwrap_err()
            .to_string();
        assert!(err.contains("x.toml") && err.contains("regexx"), "{err}");
    }

    #[test]
    fn fingerprint_changes_with_rules() {
        let mut a = Ruleset::default();
        a.add_file("a.toml", ONE).unwrap();
        let mut b = Ruleset::default();
        b.add_file("a.toml", &ONE.replace("{8}", "{9}")).unwrap();
        assert_ne!(a.fingerprint(), b.fingerprint());
    }
}
