//! Offline validators: checks on a candidate secret that need no network.
//!
//! Several token formats carry their own integrity check. GitHub's
//! `gh[pousr]_` tokens and npm's `npm_` tokens end in six base62 digits of the
//! CRC32 of the 30 random characters before them, so a token that fails the
//! check is a typo or a made-up string, not a leaked credential. Other formats
//! have a decodable structure (a JWT's header is base64url JSON; a PyPI token
//! is a base64 macaroon naming pypi.org) that a random look-alike lacks.

use base64::Engine as _;

/// What an offline validator concluded about a candidate secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Validation {
    /// The rule has no validator.
    None,
    /// The embedded checksum matches.
    ChecksumValid,
    /// The embedded checksum does not match.
    ChecksumInvalid,
    /// The value decodes to the structure the format prescribes.
    StructureValid,
    /// The value does not decode to that structure.
    StructureInvalid,
}

impl Validation {
    /// The name used in reports (`checksum-valid`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Validation::None => "none",
            Validation::ChecksumValid => "checksum-valid",
            Validation::ChecksumInvalid => "checksum-invalid",
            Validation::StructureValid => "structure-valid",
            Validation::StructureInvalid => "structure-invalid",
        }
    }

    /// True for the outcomes that say the candidate is not a real secret.
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            Validation::ChecksumInvalid | Validation::StructureInvalid
        )
    }
}

/// A named offline check, chosen per rule with `validator = "…"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Validator {
    GithubChecksum,
    NpmChecksum,
    Jwt,
    PypiMacaroon,
}

impl Validator {
    pub const NAMES: &'static [&'static str] =
        &["github-checksum", "npm-checksum", "jwt", "pypi-macaroon"];

    pub fn from_name(name: &str) -> Option<Validator> {
        Some(match name {
            "github-checksum" => Validator::GithubChecksum,
            "npm-checksum" => Validator::NpmChecksum,
            "jwt" => Validator::Jwt,
            "pypi-macaroon" => Validator::PypiMacaroon,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Validator::GithubChecksum => "github-checksum",
            Validator::NpmChecksum => "npm-checksum",
            Validator::Jwt => "jwt",
            Validator::PypiMacaroon => "pypi-macaroon",
        }
    }

    /// Runs the check on the secret's bytes.
    pub fn validate(self, secret: &[u8]) -> Validation {
        match self {
            Validator::GithubChecksum => checksum(prefixed_base62_crc(secret, |p| {
                p.len() == 4 && p.starts_with(b"gh") && b"pousr".contains(&p[2]) && p[3] == b'_'
            })),
            Validator::NpmChecksum => checksum(prefixed_base62_crc(secret, |p| p == b"npm_")),
            Validator::Jwt => structure(jwt_is_well_formed(secret)),
            Validator::PypiMacaroon => structure(pypi_macaroon_is_well_formed(secret)),
        }
    }
}

fn checksum(ok: bool) -> Validation {
    if ok {
        Validation::ChecksumValid
    } else {
        Validation::ChecksumInvalid
    }
}

fn structure(ok: bool) -> Validation {
    if ok {
        Validation::StructureValid
    } else {
        Validation::StructureInvalid
    }
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `value` in base62, left-padded with `0` to six digits (a u32 always fits).
pub fn base62_six(mut value: u32) -> [u8; 6] {
    let mut out = [b'0'; 6];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(value % 62) as usize];
        value /= 62;
    }
    out
}

/// `PREFIX` (4 bytes) + 30 base62 + 6 base62 digits of CRC32 of the 30.
fn prefixed_base62_crc(token: &[u8], prefix_ok: impl Fn(&[u8]) -> bool) -> bool {
    if token.len() != 40 || !prefix_ok(&token[..4]) {
        return false;
    }
    let (random, check) = (&token[4..34], &token[34..]);
    if !token[4..].iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    base62_six(crc32fast::hash(random)) == check
}

fn decode_base64url(part: &[u8]) -> Option<Vec<u8>> {
    let trimmed: &[u8] = match part.iter().rposition(|&b| b != b'=') {
        Some(last) => &part[..=last],
        None => return None,
    };
    let normalized: Vec<u8> = trimmed
        .iter()
        .map(|&b| match b {
            b'+' => b'-',
            b'/' => b'_',
            other => other,
        })
        .collect();
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(normalized)
        .ok()
}

/// Header and payload decode to JSON objects, the header names an `alg`, and
/// a signature is present unless (never accepted) `alg` is `none`.
fn jwt_is_well_formed(token: &[u8]) -> bool {
    let parts: Vec<&[u8]> = token.split(|&b| b == b'.').collect();
    if parts.len() != 3 {
        return false;
    }
    let Some(header) = decode_base64url(parts[0]) else {
        return false;
    };
    let Ok(serde_json::Value::Object(header)) =
        serde_json::from_slice::<serde_json::Value>(&header)
    else {
        return false;
    };
    let Some(alg) = header.get("alg").and_then(|a| a.as_str()) else {
        return false;
    };
    if alg.eq_ignore_ascii_case("none") || parts[2].is_empty() {
        return false;
    }
    matches!(
        decode_base64url(parts[1])
            .and_then(|p| serde_json::from_slice::<serde_json::Value>(&p).ok()),
        Some(serde_json::Value::Object(_))
    )
}

/// `pypi-` + base64url of a binary macaroon whose location field names PyPI.
fn pypi_macaroon_is_well_formed(token: &[u8]) -> bool {
    let Some(body) = token.strip_prefix(b"pypi-") else {
        return false;
    };
    let Some(decoded) = decode_base64url(body) else {
        return false;
    };
    let head = &decoded[..decoded.len().min(48)];
    memfind(head, b"pypi.org").is_some()
}

fn memfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn make(prefix: &str, random: &str) -> String {
        let check = base62_six(crc32fast::hash(random.as_bytes()));
        format!("{prefix}{random}{}", std::str::from_utf8(&check).unwrap())
    }

    #[test]
    fn github_checksum_accepts_valid_and_rejects_flipped() {
        let token = make("ghp_", "k3JxQ9vT2mWp8ZrL5nYb7cHd4fGs1a");
        assert_eq!(
            Validator::GithubChecksum.validate(token.as_bytes()),
            Validation::ChecksumValid
        );
        let mut flipped = token.into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            Validator::GithubChecksum.validate(&flipped),
            Validation::ChecksumInvalid
        );
    }

    #[test]
    fn npm_checksum_checks_prefix_and_length() {
        let token = make("npm_", "Q2w3E4r5T6y7U8i9O0pAsDfGhJkLzX");
        assert_eq!(
            Validator::NpmChecksum.validate(token.as_bytes()),
            Validation::ChecksumValid
        );
        assert_eq!(
            Validator::NpmChecksum.validate(&token.as_bytes()[..39]),
            Validation::ChecksumInvalid
        );
        let as_github = token.replacen("npm_", "ghp_", 1);
        assert_eq!(
            Validator::NpmChecksum.validate(as_github.as_bytes()),
            Validation::ChecksumInvalid
        );
    }

    #[test]
    fn base62_pads_to_six() {
        assert_eq!(&base62_six(0), b"000000");
        assert_eq!(&base62_six(61), b"00000z");
        assert_eq!(&base62_six(u32::MAX), b"4gfFC3");
    }

    #[test]
    fn jwt_needs_json_header_with_alg_and_signature() {
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let good = format!(
            "{}.{}.c2lnbmF0dXJl",
            b64(r#"{"alg":"HS256","typ":"JWT"}"#),
            b64(r#"{"sub":"1"}"#)
        );
        assert_eq!(
            Validator::Jwt.validate(good.as_bytes()),
            Validation::StructureValid
        );
        let none = format!("{}.{}.", b64(r#"{"alg":"none"}"#), b64(r#"{"sub":"1"}"#));
        assert_eq!(
            Validator::Jwt.validate(none.as_bytes()),
            Validation::StructureInvalid
        );
        assert_eq!(
            Validator::Jwt.validate(b"eyJhbGciOi.eyJzdWIi.sig"),
            Validation::StructureInvalid
        );
    }

    #[test]
    fn pypi_macaroon_decodes() {
        let mut raw = vec![2u8, 1, 8];
        raw.extend_from_slice(b"pypi.org");
        raw.extend_from_slice(&[2, 0x25, 0x10, 0x33, 0x44, 0x55]);
        let token = format!(
            "pypi-{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&raw)
        );
        assert_eq!(
            Validator::PypiMacaroon.validate(token.as_bytes()),
            Validation::StructureValid
        );
        assert_eq!(
            Validator::PypiMacaroon.validate(b"pypi-AAAAAAAAAAAAAAAAAAAAAAAA"),
            Validation::StructureInvalid
        );
    }
}
