//! Filters applied to every candidate secret: Shannon entropy and the
//! placeholder test that keeps documentation values (`AKIAIOSFODNN7EXAMPLE`,
//! `${TOKEN}`, `<your-key>`, `xxxx…`) out of reports.

/// Shannon entropy of `bytes` in bits per byte (0 for empty input).
pub fn shannon_entropy(bytes: &[u8]) -> f64 {
    if bytes.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in bytes {
        counts[b as usize] += 1;
    }
    let len = bytes.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / len;
            -p * p.log2()
        })
        .sum()
}

/// Substrings (lower-case) that mark a value as a placeholder, not a secret.
const PLACEHOLDER_MARKERS: &[&[u8]] = &[
    b"example",
    b"${",
    b"{{",
    b"changeme",
    b"change_me",
    b"placeholder",
    b"your_",
    b"your-",
    b"xxxx",
    b"redacted",
    b"dummy",
    b"***",
    b"12345678",
    b"abcdefgh",
];

/// True when `secret` looks like a placeholder: it contains one of the
/// markers above (ASCII case-insensitive) or a `<template>` such as
/// `<your-key>`, or a single byte makes up more than half of a secret of 8
/// bytes or more (`0000…`, `aaaa…`).
pub fn is_placeholder(secret: &[u8]) -> bool {
    let lower: Vec<u8> = secret.iter().map(u8::to_ascii_lowercase).collect();
    if has_angle_template(secret)
        || PLACEHOLDER_MARKERS
            .iter()
            .any(|marker| memchr::memmem::find(&lower, marker).is_some())
    {
        return true;
    }
    if secret.len() >= 8 {
        let mut counts = [0u32; 256];
        for &b in secret {
            counts[b as usize] += 1;
        }
        let most = counts.iter().copied().max().unwrap_or(0) as usize;
        if most * 2 > secret.len() {
            return true;
        }
    }
    false
}

/// `<word>` with only letters, digits, `_`, `-`, `.` or spaces inside: a
/// template slot. A bare `<` or `>` is common in real random secrets.
fn has_angle_template(secret: &[u8]) -> bool {
    let mut rest = secret;
    while let Some(open) = memchr::memchr(b'<', rest) {
        let after = &rest[open + 1..];
        let inner_len = after
            .iter()
            .take_while(|&&b| b.is_ascii_alphanumeric() || b"_-. ".contains(&b))
            .count();
        if inner_len > 0 && after.get(inner_len) == Some(&b'>') {
            return true;
        }
        rest = after;
    }
    false
}

/// The redacted form of a secret: enough of its start to recognise the kind
/// of credential (at most 4 bytes, at most a quarter of it), never enough to
/// use it. Used wherever a report shows a secret the user did not ask to see.
pub fn redact(secret: &[u8]) -> String {
    let shown = (secret.len() / 4).min(4);
    let prefix: String = String::from_utf8_lossy(&secret[..shown])
        .chars()
        .map(|c| if c.is_control() { '.' } else { c })
        .collect();
    format!("{prefix}*****")
}

/// `text` with every occurrence of each of `secrets` replaced by its
/// redacted form (for echoing build commands that carried a secret).
pub fn mask_secrets(text: &str, secrets: &[Vec<u8>]) -> String {
    let mut out = text.to_string();
    for secret in secrets {
        if secret.is_empty() {
            continue;
        }
        let needle = String::from_utf8_lossy(secret);
        if out.contains(needle.as_ref()) {
            out = out.replace(needle.as_ref(), &redact(secret));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking_replaces_every_occurrence() {
        let masked = mask_secrets(
            "RUN |1 T=ghp_abcdefghXYZ123 sh -c 'use ghp_abcdefghXYZ123'",
            &[b"ghp_abcdefghXYZ123".to_vec()],
        );
        assert_eq!(masked, "RUN |1 T=ghp_***** sh -c 'use ghp_*****'");
        assert_eq!(redact(b"abc"), "*****");
    }

    #[test]
    fn entropy_of_known_strings() {
        assert_eq!(shannon_entropy(b""), 0.0);
        assert_eq!(shannon_entropy(b"aaaa"), 0.0);
        assert!((shannon_entropy(b"abcd") - 2.0).abs() < 1e-9);
        assert!(shannon_entropy(b"k3JxQ9vT2mWp8ZrL5nYb7cHd4fGs1a") > 4.0);
    }

    #[test]
    fn placeholders_are_recognised() {
        for p in [
            &b"AKIAIOSFODNN7EXAMPLE"[..],
            b"${GITHUB_TOKEN}",
            b"<your-api-key>",
            b"ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            b"0000000000000000",
            b"{{ secrets.TOKEN }}",
            b"********",
        ] {
            assert!(is_placeholder(p), "{}", String::from_utf8_lossy(p));
        }
        assert!(!is_placeholder(b"k3JxQ9vT2mWp8ZrL5nYb7cHd4fGs1a"));
        assert!(!is_placeholder(b"Tr0ub4dor&3x!Qz"));
        assert!(is_placeholder(b"<password>"));
        assert!(
            !is_placeholder(b"k<3J!x>Q9!vT2m<Wp8"),
            "bare angle brackets are real characters"
        );
    }
}
