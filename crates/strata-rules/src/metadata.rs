//! What a rule tells a report about its findings besides where they are:
//! how bad a leak is ([`Severity`]) and how sure a match is a real
//! credential ([`Confidence`]). Both are ordered so filters such as
//! `--min-severity high` are a comparison.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// What a leak of the credential lets an attacker do. Ordered from least
/// to most severe, so `severity >= Severity::High` reads as it should.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    #[default]
    Medium,
    High,
    Critical,
}

/// How sure a match of the rule is a real credential: a distinctive prefix
/// or checksum (high), a provider keyword and a value shape (medium), a
/// generic assignment (low). Ordered from least to most sure.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    Low,
    #[default]
    Medium,
    High,
}

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// The `security-severity` score GitHub code scanning reads from SARIF
    /// (>= 9.0 critical, >= 7.0 high, >= 4.0 medium, else low).
    pub fn sarif_score(self) -> &'static str {
        match self {
            Severity::Low => "3.0",
            Severity::Medium => "5.5",
            Severity::High => "8.0",
            Severity::Critical => "9.5",
        }
    }
}

impl Confidence {
    pub const ALL: [Confidence; 3] = [Confidence::High, Confidence::Medium, Confidence::Low];

    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Confidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Severity, String> {
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown severity {s:?} (critical, high, medium or low)"))
    }
}

impl FromStr for Confidence {
    type Err = String;
    fn from_str(s: &str) -> Result<Confidence, String> {
        Confidence::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown confidence {s:?} (high, medium or low)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_and_names_round_trip() {
        assert!(Severity::Critical > Severity::High && Severity::Medium > Severity::Low);
        assert!(Confidence::High > Confidence::Medium && Confidence::Medium > Confidence::Low);
        for s in Severity::ALL {
            assert_eq!(s.as_str().parse::<Severity>().unwrap(), s);
        }
        for c in Confidence::ALL {
            assert_eq!(c.as_str().parse::<Confidence>().unwrap(), c);
        }
        assert!("severe".parse::<Severity>().is_err());
        assert_eq!(serde_json::to_string(&Severity::High).unwrap(), "\"high\"");
    }
}
