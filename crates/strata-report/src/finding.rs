//! Findings: what a report says about one match.
//!
//! A finding never holds the secret in clear unless the user asked for it
//! (`--show-secrets`); by default only a short prefix survives redaction.
//! Two identities make findings trackable across runs:
//! - the *secret fingerprint*, SHA-256 over the rule id and the secret (an
//!   HMAC-SHA-256 when `STRATA_FINGERPRINT_KEY` is set, so a shared report
//!   gives nothing to brute-force a short secret against): the same leaked
//!   value is one identity wherever it appears, and survives moved lines;
//! - the *finding id*: the fingerprint plus the location.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use strata_engine::Matcher;
use strata_rules::{Confidence, Severity};
use strata_sources::Hit;

/// Environment variable holding the key for fingerprints, if any.
pub const FINGERPRINT_KEY_ENV: &str = "STRATA_FINGERPRINT_KEY";

/// Computes secret fingerprints, keyed or not.
#[derive(Clone, Default)]
pub struct Fingerprinter {
    key: Option<Vec<u8>>,
}

impl std::fmt::Debug for Fingerprinter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fingerprinter")
            .field("keyed", &self.key.is_some())
            .finish()
    }
}

impl Fingerprinter {
    pub fn new(key: Option<Vec<u8>>) -> Fingerprinter {
        Fingerprinter {
            key: key.filter(|k| !k.is_empty()),
        }
    }

    /// Reads the key from [`FINGERPRINT_KEY_ENV`].
    pub fn from_env() -> Fingerprinter {
        Fingerprinter::new(std::env::var_os(FINGERPRINT_KEY_ENV).map(|k| k.into_encoded_bytes()))
    }

    pub fn is_keyed(&self) -> bool {
        self.key.is_some()
    }

    /// Names how fingerprints are made, for cache keys: `sha256`, or
    /// `hmac-sha256:` and a short hash of the key (which does not reveal
    /// it, but tells two keys apart).
    pub fn mode(&self) -> String {
        match &self.key {
            None => "sha256".into(),
            Some(key) => {
                let mut hasher = Sha256::new();
                hasher.update(b"strata fingerprint key id\0");
                hasher.update(key);
                format!("hmac-sha256:{}", &hex::encode(hasher.finalize())[..16])
            }
        }
    }

    /// Hex fingerprint of `secret` as found by rule `rule_id`.
    pub fn secret(&self, rule_id: &str, secret: &[u8]) -> String {
        match &self.key {
            Some(key) => {
                let mut mac =
                    Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
                mac.update(rule_id.as_bytes());
                mac.update(&[0]);
                mac.update(secret);
                hex::encode(mac.finalize().into_bytes())
            }
            None => {
                let mut hasher = Sha256::new();
                hasher.update(rule_id.as_bytes());
                hasher.update([0]);
                hasher.update(secret);
                hex::encode(hasher.finalize())
            }
        }
    }
}

/// Most fingerprints [`Fingerprinter::mask_sealed`] computes for one text
/// before it gives up and withholds the text instead.
const MASK_HASH_BUDGET: usize = 1 << 20;

/// What [`Fingerprinter::mask_sealed`] shows instead of a text it could not
/// check within its budget.
pub const WITHHELD: &str = "<withheld: too many findings to check this text for their secrets>";

impl Fingerprinter {
    /// `text` with every secret behind `sealed` masked (replaced by its
    /// redacted preview), although a sealed match no longer holds its
    /// secret: each window of `text` as long as a secret, whose redacted
    /// form is that secret's preview, is fingerprinted and compared. Used
    /// for build commands of images whose layer results come from the
    /// cache. A text too costly to check is withheld whole ([`WITHHELD`]),
    /// never shown unchecked.
    pub fn mask_sealed(&self, text: &str, sealed: &[&SealedMatch]) -> String {
        let bytes = text.as_bytes();
        let mut wanted: Vec<(&str, &str, usize, &str)> = sealed
            .iter()
            .filter(|m| m.secret_len > 0 && m.secret_len as usize <= bytes.len())
            .map(|m| {
                (
                    m.rule_id.as_str(),
                    m.fingerprint.as_str(),
                    m.secret_len as usize,
                    m.secret.as_str(),
                )
            })
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        let mut hashed = 0usize;
        let mut masked: Vec<(usize, usize, &str)> = Vec::new();
        for &(rule_id, fingerprint, len, preview) in &wanted {
            for start in 0..=bytes.len() - len {
                let window = &bytes[start..start + len];
                if redact(window) != preview {
                    continue;
                }
                hashed += 1;
                if hashed > MASK_HASH_BUDGET {
                    return WITHHELD.to_string();
                }
                if self.secret(rule_id, window) == fingerprint {
                    masked.push((start, start + len, preview));
                }
            }
        }
        if masked.is_empty() {
            return text.to_string();
        }
        masked.sort_unstable();
        let mut out: Vec<u8> = Vec::with_capacity(bytes.len());
        let mut at = 0;
        for (start, end, preview) in masked {
            if end <= at {
                continue;
            }
            if start >= at {
                out.extend_from_slice(&bytes[at..start]);
                out.extend_from_slice(preview.as_bytes());
            }
            at = end;
        }
        out.extend_from_slice(&bytes[at..]);
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// Hex finding id: the secret fingerprint bound to a location.
pub fn finding_id(fingerprint: &str, location: &[&str]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(fingerprint.as_bytes());
    for part in location {
        hasher.update([0]);
        hasher.update(part.as_bytes());
    }
    hex::encode(&hasher.finalize()[..16])
}

pub use strata_engine::redact;

/// The image a finding was found in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageField {
    pub reference: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest_digest: Option<String>,
}

/// The layer a finding was found in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerField {
    pub index: usize,
    pub digest: String,
    pub diff_id: Option<String>,
    pub created_by: Option<String>,
}

/// What later layers did to the file holding the finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FateField {
    /// `present`, `deleted` or `overwritten`.
    pub status: String,
    pub layer_index: Option<usize>,
    pub layer_digest: Option<String>,
}

/// The id half of an id + secret pair found beside a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairField {
    /// What the rule calls it (`app-id`, `account-sid`).
    pub name: String,
    /// Redacted like the secret unless the user asked for `--show-secrets`.
    pub value: String,
}

/// Which findings a report keeps: those at or above both thresholds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Threshold {
    pub min_severity: Option<Severity>,
    pub min_confidence: Option<Confidence>,
}

impl Threshold {
    pub fn keeps(&self, severity: Severity, confidence: Confidence) -> bool {
        self.min_severity.is_none_or(|min| severity >= min)
            && self.min_confidence.is_none_or(|min| confidence >= min)
    }
}

/// One reported secret. Field names are the JSON contract (README).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub rule_id: String,
    pub rule_name: String,
    #[serde(default)]
    pub severity: Severity,
    #[serde(default)]
    pub confidence: Confidence,
    pub path: String,
    pub line: u64,
    pub column: u64,
    pub end_line: u64,
    /// Redacted unless the user asked for `--show-secrets`.
    pub secret: String,
    pub fingerprint: String,
    pub finding_id: String,
    pub entropy: f64,
    /// `checksum-valid`, `checksum-invalid`, `structure-valid`, `structure-invalid` or `none`.
    pub validation: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageField>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<LayerField>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fate: Option<FateField>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_field: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pair: Option<PairField>,
}

impl Finding {
    /// A one-line location: `path:line:col`, prefixed by the layer for images.
    pub fn location(&self) -> String {
        let mut out = String::new();
        if let Some(field) = &self.config_field {
            out.push_str("config ");
            out.push_str(field);
            return out;
        }
        if let Some(layer) = &self.layer {
            out.push_str(&format!(
                "layer {} ({}) ",
                layer.index,
                short_digest(&layer.digest)
            ));
        }
        out.push_str(&format!("{}:{}:{}", self.path, self.line, self.column));
        out
    }
}

/// `sha256:0123456789ab` from a full digest.
pub fn short_digest(digest: &str) -> String {
    match digest.split_once(':') {
        Some((algo, hex)) => format!("{algo}:{}", &hex[..hex.len().min(12)]),
        None => digest[..digest.len().min(12)].to_string(),
    }
}

/// Builds findings from hits.
pub struct FindingBuilder<'a> {
    pub matcher: &'a Matcher,
    pub fingerprinter: Fingerprinter,
    pub show_secrets: bool,
    /// Honour `strata:allow` markers (off with `--no-inline-allow`).
    pub inline_allow: bool,
    /// Findings below it are left out (`--min-severity`, `--min-confidence`).
    pub threshold: Threshold,
}

/// A match with its secret sealed away: everything a finding needs except
/// where the blob sits (image, layer, fate). This is what the layer result
/// cache stores, so it never holds the secret: `secret` is the redacted
/// preview (the full value only under `--show-secrets`, which bypasses the
/// cache).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SealedMatch {
    pub rule_id: String,
    pub rule_name: String,
    #[serde(default)]
    pub severity: Severity,
    #[serde(default)]
    pub confidence: Confidence,
    pub path: String,
    pub line: u64,
    pub column: u64,
    pub end_line: u64,
    /// Byte offset of the secret in the scanned blob.
    pub offset: u64,
    /// Byte length of the secret: with the fingerprint, enough to find the
    /// secret again in a build command and mask it there
    /// ([`Fingerprinter::mask_sealed`]), without holding it.
    #[serde(default)]
    pub secret_len: u64,
    pub secret: String,
    pub fingerprint: String,
    pub entropy: f64,
    pub validation: String,
    /// The line carries a `strata:allow` marker.
    pub inline_allow: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_field: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pair: Option<PairField>,
}

impl FindingBuilder<'_> {
    /// The finding for `hit`, or `None` when an inline `strata:allow` suppresses it.
    pub fn build(&self, hit: &Hit) -> Option<Finding> {
        let image = hit.origin.image.as_ref().map(|i| ImageField {
            reference: i.reference.clone(),
            manifest_digest: i.manifest_digest.clone(),
        });
        let layer = hit.origin.layer.as_ref().map(|l| LayerField {
            index: l.index,
            digest: l.digest.clone(),
            diff_id: l.diff_id.clone(),
            created_by: l.created_by.clone(),
        });
        let fate = hit.fate.as_ref().map(|f| FateField {
            status: f.status.as_str().to_string(),
            layer_index: f.layer_index,
            layer_digest: f.layer_digest.clone(),
        });
        self.place(&self.seal(hit), image, layer, fate)
    }

    /// Seals `hit`: fingerprint and redacted preview, no secret (unless
    /// the builder was asked to show secrets).
    pub fn seal(&self, hit: &Hit) -> SealedMatch {
        let rule = self.matcher.rule(hit.found.rule_index);
        let shown = |value: &[u8]| {
            if self.show_secrets {
                String::from_utf8_lossy(value).into_owned()
            } else {
                redact(value)
            }
        };
        SealedMatch {
            rule_id: rule.id.clone(),
            rule_name: rule.name.clone(),
            severity: rule.severity,
            confidence: rule.confidence,
            path: hit.origin.path.clone(),
            line: hit.found.line,
            column: hit.found.column,
            end_line: hit.found.end_line,
            offset: hit.found.secret_start,
            secret_len: hit.found.secret.len() as u64,
            secret: shown(&hit.found.secret),
            fingerprint: self.fingerprinter.secret(&rule.id, &hit.found.secret),
            entropy: (hit.found.entropy * 100.0).round() / 100.0,
            validation: hit.found.validation.as_str().to_string(),
            inline_allow: hit.found.inline_allow,
            config_field: hit.origin.config_field.clone(),
            pair: match (&rule.pair, &hit.found.pair) {
                (Some(pair), Some(value)) => Some(PairField {
                    name: pair.name.clone(),
                    value: shown(value),
                }),
                _ => None,
            },
        }
    }

    /// The finding for a sealed match placed in an image and layer, or
    /// `None` when an inline `strata:allow` suppresses it or it is below
    /// the threshold.
    pub fn place(
        &self,
        sealed: &SealedMatch,
        image: Option<ImageField>,
        layer: Option<LayerField>,
        fate: Option<FateField>,
    ) -> Option<Finding> {
        if self.inline_allow && sealed.inline_allow
            || !self.threshold.keeps(sealed.severity, sealed.confidence)
        {
            return None;
        }
        let line = sealed.line.to_string();
        let column = sealed.column.to_string();
        let mut location: Vec<&str> = Vec::new();
        if let Some(image) = &image {
            location.push(&image.reference);
        }
        if let Some(layer) = &layer {
            location.push(&layer.digest);
        }
        if let Some(field) = &sealed.config_field {
            location.push(field);
        }
        location.extend([sealed.path.as_str(), &line, &column]);
        Some(Finding {
            rule_id: sealed.rule_id.clone(),
            rule_name: sealed.rule_name.clone(),
            severity: sealed.severity,
            confidence: sealed.confidence,
            path: sealed.path.clone(),
            line: sealed.line,
            column: sealed.column,
            end_line: sealed.end_line,
            secret: sealed.secret.clone(),
            finding_id: finding_id(&sealed.fingerprint, &location),
            fingerprint: sealed.fingerprint.clone(),
            entropy: sealed.entropy,
            validation: sealed.validation.clone(),
            image,
            layer,
            fate,
            config_field: sealed.config_field.clone(),
            pair: sealed.pair.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_keeps_a_short_prefix_only() {
        assert_eq!(
            redact(b"ghp_k3JxQ9vT2mWp8ZrL5nYb7cHd4fGs1a000000"),
            "ghp_*****"
        );
        assert_eq!(redact(b"short"), "s*****");
        assert_eq!(redact(b"abc"), "*****");
    }

    fn sealed(fingerprinter: &Fingerprinter, secret: &[u8]) -> SealedMatch {
        SealedMatch {
            rule_id: "rule".into(),
            rule_name: "Rule".into(),
            path: "/app/creds".into(),
            line: 1,
            column: 1,
            end_line: 1,
            offset: 0,
            secret_len: secret.len() as u64,
            secret: redact(secret),
            fingerprint: fingerprinter.secret("rule", secret),
            entropy: 4.0,
            validation: "none".into(),
            inline_allow: false,
            config_field: None,
            pair: None,
            severity: Default::default(),
            confidence: Default::default(),
        }
    }

    #[test]
    fn sealed_secrets_are_masked_in_text_without_being_held() {
        for fingerprinter in [
            Fingerprinter::new(None),
            Fingerprinter::new(Some(b"key".to_vec())),
        ] {
            let secret = b"Tr0ub4dor&3x!QzPq";
            let a = sealed(&fingerprinter, secret);
            let other = sealed(&fingerprinter, b"k3JxQ9vT2mWp8ZrL5nYb");
            let text = "RUN |1 K=Tr0ub4dor&3x!QzPq sh -c 'echo Tr0ub4dor&3x!QzPq > /app/creds'";
            let masked = fingerprinter.mask_sealed(text, &[&a, &other, &a]);
            assert_eq!(
                masked,
                "RUN |1 K=Tr0u***** sh -c 'echo Tr0u***** > /app/creds'"
            );
            // A different value of the same length and preview stays.
            let near = "K=Tr0ub4dor&3x!QzPX";
            assert_eq!(fingerprinter.mask_sealed(near, &[&a]), near);
            assert_eq!(fingerprinter.mask_sealed("short", &[&a]), "short");
        }
    }

    #[test]
    fn a_text_too_costly_to_check_is_withheld() {
        let fingerprinter = Fingerprinter::new(None);
        // Every window of a long run of one byte has the preview `aaaa*****`.
        let a = sealed(&fingerprinter, b"aaaaaaaaaaaaaaab");
        let text = "a".repeat(MASK_HASH_BUDGET + 100);
        assert_eq!(fingerprinter.mask_sealed(&text, &[&a]), WITHHELD);
    }

    #[test]
    fn fingerprints_are_stable_and_keyable() {
        let plain = Fingerprinter::new(None);
        let a = plain.secret("rule", b"value");
        assert_eq!(a, plain.secret("rule", b"value"));
        assert_ne!(a, plain.secret("other-rule", b"value"));
        let keyed = Fingerprinter::new(Some(b"k".to_vec()));
        assert_ne!(a, keyed.secret("rule", b"value"));
        assert_eq!(a.len(), 64);
        assert!(!format!("{keyed:?}").contains('k') || format!("{keyed:?}").contains("keyed"));
    }
}
