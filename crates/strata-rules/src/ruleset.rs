//! A set of rules with unique ids: loaded from the embedded defaults, a rules
//! directory, or TOML text, and extended or trimmed by a user config.

use std::{collections::HashSet, fs, path::Path};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::{
    error::RuleError,
    rule::{Rule, RuleSpec},
    DEFAULT_RULE_FILES,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default)]
    rules: Vec<RuleSpec>,
}

/// Rules with unique ids, in load order.
#[derive(Debug, Clone, Default)]
pub struct Ruleset {
    rules: Vec<Rule>,
}

impl Ruleset {
    /// The ruleset embedded in the binary at build time (`rules/*.toml`).
    pub fn embedded() -> Result<Ruleset, RuleError> {
        let mut set = Ruleset::default();
        for (name, json) in DEFAULT_RULE_FILES {
            let file = format!("<embedded>/{name}");
            let parsed: RuleFile = serde_json::from_str(json).map_err(|e| RuleError::Toml {
                file: file.clone(),
                message: e.to_string(),
            })?;
            for spec in parsed.rules {
                // Embedded regexes are built in full by the test suite, so
                // the separate syntax pass is skipped for them.
                set.push(Rule::from_spec_unchecked_regex(spec, &file)?, false)?;
            }
        }
        Ok(set)
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
        for path in paths {
            let text = fs::read_to_string(&path).map_err(|source| RuleError::Io {
                path: path.clone(),
                source,
            })?;
            set.add_file(&path.display().to_string(), &text)?;
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
        let parsed: RuleFile = toml::from_str(text).map_err(|e| RuleError::Toml {
            file: file.to_string(),
            message: e.to_string(),
        })?;
        for spec in parsed.rules {
            self.push(Rule::from_spec(spec, file)?, false)?;
        }
        Ok(())
    }

    pub(crate) fn add_specs(&mut self, file: &str, specs: Vec<RuleSpec>) -> Result<(), RuleError> {
        for spec in specs {
            self.push(Rule::from_spec(spec, file)?, true)?;
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

    /// A SHA-256 over everything that changes what the rules report, so a
    /// cache of scan results can tell it was made with the same rules.
    pub fn fingerprint(&self) -> String {
        let mut hasher = Sha256::new();
        for rule in &self.rules {
            let parts = [
                rule.id.as_str(),
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
