//! Offline validators: checks on a candidate secret that need no network.
//!
//! Several token formats carry their own integrity check. GitHub's
//! `gh[pousr]_` tokens and npm's `npm_` tokens end in six base62 digits of the
//! CRC32 of the 30 random characters before them, so a token that fails the
//! check is a typo or a made-up string, not a leaked credential. Other formats
//! have a decodable structure (a JWT's header is base64url JSON; a PyPI token
//! is a base64 macaroon naming pypi.org) that a random look-alike lacks.
//!
//! More formats carry one: GitLab's routable tokens end in the base36 CRC32
//! of everything before it and name their own payload length; bech32 keys
//! (age) and base58check keys (Bitcoin WIF) have checksums by construction;
//! an AWS access key id is base32 and encodes a 12-digit account id.
//!
//! A validator may also say [`Validation::None`]: the value has no
//! checksum to check (a legacy GitLab token of 20 random characters).

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
    GitlabRoutable,
    AwsKeyId,
    Bech32,
    Base58Check,
}

impl Validator {
    pub const NAMES: &'static [&'static str] = &[
        "github-checksum",
        "npm-checksum",
        "jwt",
        "pypi-macaroon",
        "gitlab-routable",
        "aws-key-id",
        "bech32",
        "base58check",
    ];

    pub fn from_name(name: &str) -> Option<Validator> {
        Some(match name {
            "github-checksum" => Validator::GithubChecksum,
            "npm-checksum" => Validator::NpmChecksum,
            "jwt" => Validator::Jwt,
            "pypi-macaroon" => Validator::PypiMacaroon,
            "gitlab-routable" => Validator::GitlabRoutable,
            "aws-key-id" => Validator::AwsKeyId,
            "bech32" => Validator::Bech32,
            "base58check" => Validator::Base58Check,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Validator::GithubChecksum => "github-checksum",
            Validator::NpmChecksum => "npm-checksum",
            Validator::Jwt => "jwt",
            Validator::PypiMacaroon => "pypi-macaroon",
            Validator::GitlabRoutable => "gitlab-routable",
            Validator::AwsKeyId => "aws-key-id",
            Validator::Bech32 => "bech32",
            Validator::Base58Check => "base58check",
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
            Validator::GitlabRoutable => gitlab_routable(secret),
            Validator::AwsKeyId => structure(aws_account_of_key_id(secret).is_some()),
            Validator::Bech32 => checksum(bech32_checksum_ok(secret)),
            Validator::Base58Check => checksum(base58check_ok(secret)),
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

/// GitLab routable tokens: `PREFIX BASE64URL . VV . LL CCCCCCC`, where
/// `VV` is the base36 format version, `LL` the base36 length of the
/// payload and `CCCCCCC` the base36 CRC32 (zero-padded) of everything
/// before it. A token without the `.VV.` tail is the legacy form, which
/// carries no checksum: `None`.
fn gitlab_routable(token: &[u8]) -> Validation {
    let dots: Vec<usize> = token
        .iter()
        .enumerate()
        .filter(|(_, &b)| b == b'.')
        .map(|(i, _)| i)
        .collect();
    if dots.is_empty() {
        return Validation::None;
    }
    if dots.len() != 2 || token.len() < dots[1] + 1 + 2 + 7 {
        return Validation::ChecksumInvalid;
    }
    let (first, second) = (dots[0], dots[1]);
    let tail = &token[second + 1..];
    let is_base36 = |b: &u8| b.is_ascii_digit() || b.is_ascii_lowercase();
    if second - first != 3 || tail.len() != 9 || !tail.iter().all(is_base36) {
        return Validation::ChecksumInvalid;
    }
    let Some(length) = parse_base36(&tail[..2]) else {
        return Validation::ChecksumInvalid;
    };
    // The payload is the base64url run that ends at the first dot.
    let payload_start = token[..first]
        .iter()
        .rposition(|b| !(b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_'))
        .map_or(0, |i| i + 1);
    if (first as u64) < length || first as u64 - (payload_start as u64) < length {
        return Validation::ChecksumInvalid;
    }
    let expected = base36_padded(crc32fast::hash(&token[..token.len() - 7]), 7);
    checksum(expected.as_bytes() == &tail[2..])
}

fn parse_base36(digits: &[u8]) -> Option<u64> {
    std::str::from_utf8(digits)
        .ok()
        .and_then(|d| u64::from_str_radix(d, 36).ok())
}

/// `value` in lower-case base36, left-padded with `0` to `width`.
pub fn base36_padded(mut value: u32, width: usize) -> String {
    let mut digits = Vec::new();
    while value > 0 {
        digits.push(b"0123456789abcdefghijklmnopqrstuvwxyz"[(value % 36) as usize]);
        value /= 36;
    }
    while digits.len() < width {
        digits.push(b'0');
    }
    digits.reverse();
    String::from_utf8(digits).expect("ASCII digits")
}

/// The 12-digit AWS account id an access key id encodes, if it is one.
///
/// After the 4-letter type prefix (`AKIA`, `ASIA`, ...), an access key id
/// is 16 base32 characters (`A-Z`, `2-7`). Their first 6 decoded bytes,
/// shifted right by 7 and masked to 40 bits, are the account id. A value
/// with a `0`, `1`, `8` or `9`, or whose decoded number is over 12 digits,
/// is not a key AWS issued.
pub fn aws_account_of_key_id(key_id: &[u8]) -> Option<u64> {
    if key_id.len() != 20 || !key_id[..4].iter().all(u8::is_ascii_uppercase) {
        return None;
    }
    let mut bits: u128 = 0;
    for &c in &key_id[4..] {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        bits = (bits << 5) | value as u128;
    }
    // 16 characters are 80 bits; the first 48 of them are the 6 bytes.
    let first_six = (bits >> 32) as u64;
    let account = (first_six & 0x7fff_ffff_ff80) >> 7;
    (account <= 999_999_999_999).then_some(account)
}

const BECH32_CHARSET: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";

/// A bech32 (or bech32m) string's checksum holds: `HRP 1 DATA`, with the
/// last six data characters a BCH checksum over the human-readable part
/// and the data. Case-insensitive, as age writes its keys upper-case.
fn bech32_checksum_ok(value: &[u8]) -> bool {
    let lower = value.to_ascii_lowercase();
    let Some(separator) = lower.iter().rposition(|&b| b == b'1') else {
        return false;
    };
    let (hrp, data) = (&lower[..separator], &lower[separator + 1..]);
    if hrp.is_empty() || data.len() < 6 {
        return false;
    }
    let mut values: Vec<u8> = hrp.iter().map(|b| b >> 5).collect();
    values.push(0);
    values.extend(hrp.iter().map(|b| b & 31));
    for &c in data {
        match BECH32_CHARSET.iter().position(|&x| x == c) {
            Some(v) => values.push(v as u8),
            None => return false,
        }
    }
    let polymod = bech32_polymod(&values);
    polymod == 1 || polymod == 0x2bc8_30a3
}

fn bech32_polymod(values: &[u8]) -> u32 {
    const GENERATOR: [u32; 5] = [
        0x3b6a_57b2,
        0x2650_8e6d,
        0x1ea1_19fa,
        0x3d42_33dd,
        0x2a14_62b3,
    ];
    let mut check: u32 = 1;
    for &v in values {
        let top = check >> 25;
        check = ((check & 0x1ff_ffff) << 5) ^ v as u32;
        for (i, g) in GENERATOR.iter().enumerate() {
            if (top >> i) & 1 == 1 {
                check ^= g;
            }
        }
    }
    check
}

const BASE58: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// A base58check string (Bitcoin WIF keys, addresses): the last 4 decoded
/// bytes are the first 4 of SHA-256(SHA-256(the rest)).
fn base58check_ok(value: &[u8]) -> bool {
    if value.len() > 128 {
        return false;
    }
    // Big-endian base-256 digits of the base58 number.
    let mut bytes: Vec<u8> = Vec::new();
    for &c in value {
        let Some(mut carry) = BASE58.iter().position(|&x| x == c).map(|v| v as u32) else {
            return false;
        };
        for byte in bytes.iter_mut().rev() {
            carry += (*byte as u32) * 58;
            *byte = (carry & 0xff) as u8;
            carry >>= 8;
        }
        while carry > 0 {
            bytes.insert(0, (carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    let leading_zeros = value.iter().take_while(|&&c| c == b'1').count();
    let mut decoded = vec![0u8; leading_zeros];
    decoded.extend(bytes);
    if decoded.len() < 5 {
        return false;
    }
    use sha2::{Digest, Sha256};
    let (payload, check) = decoded.split_at(decoded.len() - 4);
    let digest = Sha256::digest(Sha256::digest(payload));
    &digest[..4] == check
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

    /// A routable token built the way GitLab documents it.
    fn routable(prefix: &str, payload: &str) -> String {
        let length = format!("{:0>2}", {
            let mut n = payload.len() as u32;
            let mut d = String::new();
            while n > 0 {
                d.insert(
                    0,
                    "0123456789abcdefghijklmnopqrstuvwxyz".as_bytes()[(n % 36) as usize] as char,
                );
                n /= 36;
            }
            d
        });
        let body = format!("{prefix}{payload}.01.{length}");
        format!(
            "{body}{}",
            base36_padded(crc32fast::hash(body.as_bytes()), 7)
        )
    }

    #[test]
    fn gitlab_routable_checks_length_and_crc() {
        let token = routable("glpat-", "b3JnOjEyMwp1OjQ1Ngp2ZXJ5cmFuZG9tYnl0ZXMQ");
        assert_eq!(
            Validator::GitlabRoutable.validate(token.as_bytes()),
            Validation::ChecksumValid
        );
        let mut flipped = token.clone().into_bytes();
        flipped[8] = if flipped[8] == b'a' { b'b' } else { b'a' };
        assert_eq!(
            Validator::GitlabRoutable.validate(&flipped),
            Validation::ChecksumInvalid
        );
        // Legacy tokens have nothing to check.
        assert_eq!(
            Validator::GitlabRoutable.validate(b"glpat-T7aaxAL4tJ3UNWXocF0f"),
            Validation::None
        );
        assert_eq!(
            Validator::GitlabRoutable.validate(b"glpat-abc.01.zz0000000"),
            Validation::ChecksumInvalid
        );
    }

    #[test]
    fn aws_key_ids_decode_to_an_account() {
        // Encode account 123456789012 the way the format does, then decode.
        let account: u64 = 123_456_789_012;
        let first_six = (account << 7) | 0x8000_0000_0000 | 0x5a;
        let bits: u128 = ((first_six as u128) << 32) | 0x1234_5678;
        let mut id = String::from("AKIA");
        for i in (0..16).rev() {
            let v = ((bits >> (i * 5)) & 31) as u8;
            id.push(if v < 26 {
                (b'A' + v) as char
            } else {
                (b'2' + v - 26) as char
            });
        }
        assert_eq!(aws_account_of_key_id(id.as_bytes()), Some(account));
        assert_eq!(
            Validator::AwsKeyId.validate(id.as_bytes()),
            Validation::StructureValid
        );
        // 0, 1, 8 and 9 are not base32.
        assert_eq!(
            Validator::AwsKeyId.validate(b"AKIA0123456789ABCDEF"),
            Validation::StructureInvalid
        );
    }

    #[test]
    fn bech32_and_base58check_checksums() {
        let key = bech32_encode(
            "age-secret-key-",
            &[7, 1, 30, 22, 0, 9, 31, 12, 3, 3, 18, 27],
        );
        assert!(bech32_checksum_ok(key.to_ascii_uppercase().as_bytes()));
        let mut broken = key.into_bytes();
        let at = broken.len() - 3;
        broken[at] = if broken[at] == b'q' { b'p' } else { b'q' };
        assert!(!bech32_checksum_ok(&broken));
        // base58check of version 0x80 + 32 bytes, built here.
        use sha2::{Digest, Sha256};
        let mut payload = vec![0x80u8];
        payload.extend((0..32).map(|i| (i * 7 + 3) as u8));
        let digest = Sha256::digest(Sha256::digest(&payload));
        payload.extend_from_slice(&digest[..4]);
        let encoded = base58_encode(&payload);
        assert!(base58check_ok(encoded.as_bytes()));
        let mut broken = encoded.into_bytes();
        broken[10] = if broken[10] == b'a' { b'b' } else { b'a' };
        assert!(!base58check_ok(&broken));
    }

    /// `hrp 1 data checksum` with the bech32 checksum computed here.
    fn bech32_encode(hrp: &str, data: &[u8]) -> String {
        let mut values: Vec<u8> = hrp.bytes().map(|b| b >> 5).collect();
        values.push(0);
        values.extend(hrp.bytes().map(|b| b & 31));
        values.extend_from_slice(data);
        values.extend_from_slice(&[0; 6]);
        let polymod = bech32_polymod(&values) ^ 1;
        let mut out = format!("{hrp}1");
        for &d in data {
            out.push(BECH32_CHARSET[d as usize] as char);
        }
        for i in 0..6 {
            out.push(BECH32_CHARSET[((polymod >> (5 * (5 - i))) & 31) as usize] as char);
        }
        out
    }

    fn base58_encode(bytes: &[u8]) -> String {
        let mut digits: Vec<u8> = Vec::new();
        for &b in bytes {
            let mut carry = b as u32;
            for d in digits.iter_mut() {
                carry += (*d as u32) << 8;
                *d = (carry % 58) as u8;
                carry /= 58;
            }
            while carry > 0 {
                digits.push((carry % 58) as u8);
                carry /= 58;
            }
        }
        let zeros = bytes.iter().take_while(|&&b| b == 0).count();
        let mut out = "1".repeat(zeros);
        out.extend(digits.iter().rev().map(|&d| BASE58[d as usize] as char));
        out
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
