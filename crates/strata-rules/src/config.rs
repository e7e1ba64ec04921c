//! The user's `strata.toml`: extra rules, rules to disable, and a global
//! allowlist. A config is only ever read from a path the user names with
//! `--config`; one lying inside a scanned tree is never picked up, so scanned
//! code cannot allowlist its own secrets.

use std::{fs, path::Path};

use globset::GlobSet;
use serde::Deserialize;

use crate::{
    error::RuleError,
    rule::{build_globset, RuleSpec},
    Ruleset,
};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigSpec {
    #[serde(default)]
    rules: Vec<RuleSpec>,
    #[serde(default)]
    disable: Vec<String>,
    #[serde(default)]
    allowlist: GlobalAllowlistSpec,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct GlobalAllowlistSpec {
    #[serde(default)]
    paths: Vec<String>,
    #[serde(default)]
    regexes: Vec<String>,
    #[serde(default)]
    stopwords: Vec<String>,
}

/// Allowlist entries applying to every rule.
#[derive(Debug, Clone, Default)]
pub struct GlobalAllowlist {
    pub path_globs: Vec<String>,
    pub paths: GlobSet,
    pub regexes: Vec<String>,
    pub stopwords: Vec<String>,
}

/// A parsed `strata.toml`.
#[derive(Debug, Default)]
pub struct Config {
    file: String,
    rules: Vec<RuleSpec>,
    disable: Vec<String>,
    pub allowlist: GlobalAllowlist,
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, RuleError> {
        let text = fs::read_to_string(path).map_err(|source| RuleError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(&path.display().to_string(), &text)
    }

    pub fn parse(file: &str, text: &str) -> Result<Config, RuleError> {
        let spec: ConfigSpec = toml::from_str(text).map_err(|e| RuleError::Toml {
            file: file.to_string(),
            message: e.to_string(),
        })?;
        let paths = build_globset(&spec.allowlist.paths).map_err(|problem| RuleError::Rule {
            file: file.to_string(),
            id: "[allowlist]".into(),
            problem,
        })?;
        Ok(Config {
            file: file.to_string(),
            rules: spec.rules,
            disable: spec.disable,
            allowlist: GlobalAllowlist {
                path_globs: spec.allowlist.paths,
                paths,
                regexes: spec.allowlist.regexes,
                stopwords: spec
                    .allowlist
                    .stopwords
                    .iter()
                    .map(|s| s.to_ascii_lowercase())
                    .collect(),
            },
        })
    }

    /// Adds the config's rules to `set` (replacing same-id rules) and drops the
    /// disabled ones.
    pub fn apply(&self, set: &mut Ruleset) -> Result<(), RuleError> {
        set.add_specs(&self.file, self.rules.clone())?;
        set.disable(&self.disable, &self.file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_adds_and_disables_rules() {
        let mut set = Ruleset::default();
        set.add_file(
            "base.toml",
            "[[rules]]\nid='a-one'\nname='A'\nkeywords=['aaa_']\nregex='aaa_[0-9]+'\n",
        )
        .unwrap();
        let config = Config::parse(
            "strata.toml",
            "disable=['a-one']\n[[rules]]\nid='b-two'\nname='B'\nkeywords=['bbb_']\nregex='bbb_[0-9]+'\n[allowlist]\npaths=['**/vendor/**']\n",
        )
        .unwrap();
        config.apply(&mut set).unwrap();
        let ids: Vec<&str> = set.rules().iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["b-two"]);
        assert!(config.allowlist.paths.is_match("x/vendor/y.js"));
    }

    #[test]
    fn disabling_an_unknown_rule_is_an_error() {
        let config = Config::parse("strata.toml", "disable=['nope']").unwrap();
        let err = config
            .apply(&mut Ruleset::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("strata.toml") && err.contains("nope"), "{err}");
    }
}
