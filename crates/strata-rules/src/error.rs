//! Errors from loading and checking rules. Each names the file and, where one
//! is involved, the rule id, so a broken rule file is fixed in one look.

use std::path::PathBuf;

/// Something wrong with a rule file or a rule in it.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("{path}: cannot read rule file: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: invalid TOML: {message}")]
    Toml { file: String, message: String },
    #[error("{file}: rule {id}: {problem}")]
    Rule {
        file: String,
        id: String,
        problem: String,
    },
    #[error("{file}: no rules found")]
    Empty { file: String },
}

impl RuleError {
    pub(crate) fn rule(file: &str, id: &str, problem: impl Into<String>) -> RuleError {
        RuleError::Rule {
            file: file.to_string(),
            id: id.to_string(),
            problem: problem.into(),
        }
    }
}
