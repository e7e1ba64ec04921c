//! Behaviour of the matcher on small hand-written rulesets: windows, chunk
//! edges, filters, validators, line/column.

use std::io::Cursor;

use strata_engine::{Match, Matcher, MatcherOptions};
use strata_rules::{validators::base62_six, Ruleset, Validation};

const RULES: &str = r#"
[[rules]]
id = "demo-token"
name = "Demo token"
keywords = ["dmo_"]
regex = '''\b(dmo_[A-Za-z0-9]{24})\b'''
min_entropy = 3.0
examples = ["x dmo_k3JxQ9vT2mWp8ZrL5nYb7cHd"]
counterexamples = ["dmo_aaaaaaaaaaaaaaaaaaaaaaaa"]

[[rules]]
id = "github-pat-classic"
name = "GitHub PAT"
keywords = ["ghp_"]
regex = '''\b(ghp_[A-Za-z0-9]{36})\b'''
validator = "github-checksum"
examples = []
counterexamples = []

[[rules]]
id = "generic-secret"
name = "Generic secret"
keywords = ["secret"]
regex = '''(?i)secret\s*=\s*"?([A-Za-z0-9_]{16,64})"?'''
min_entropy = 3.0
tags = ["generic"]
examples = []
counterexamples = []

[[rules]]
id = "pem-block"
name = "PEM block"
keywords = ["-----begin demo key-----"]
regex = '''-----BEGIN DEMO KEY-----\s*([A-Za-z0-9+/=\s]{20,6000}?)\s*-----END DEMO KEY-----'''
window = 8000
examples = []
counterexamples = []
"#;

fn matcher() -> Matcher {
    matcher_from("test.toml", RULES)
}

/// A matcher with default options for the rules in `toml`, named `file`.
fn matcher_from(file: &str, toml: &str) -> Matcher {
    let mut set = Ruleset::default();
    set.add_file(file, toml).unwrap();
    Matcher::new(&set, MatcherOptions::default()).unwrap()
}

fn scan(m: &Matcher, hay: &[u8]) -> Vec<Match> {
    let mut out = Vec::new();
    let mut scratch = m.new_scratch();
    m.scan_bytes(hay, &mut scratch, &mut |x| out.push(x));
    out
}

fn scan_chunked(m: &Matcher, hay: &[u8], chunk: usize) -> Vec<Match> {
    let mut out = Vec::new();
    let mut scratch = m.new_scratch();
    m.scan_reader(&mut Cursor::new(hay), chunk, &mut scratch, &mut |x| {
        out.push(x)
    })
    .unwrap();
    out
}

fn github_token(random: &str) -> String {
    format!(
        "ghp_{random}{}",
        std::str::from_utf8(&base62_six(crc32fast_hash(random))).unwrap()
    )
}

fn crc32fast_hash(s: &str) -> u32 {
    // CRC-32/ISO-HDLC, bitwise: keeps the test independent of the crate under test.
    let mut crc = !0u32;
    for &b in s.as_bytes() {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn finds_secret_with_line_and_column() {
    let m = matcher();
    let hits = scan(&m, b"first line\n  token: dmo_k3JxQ9vT2mWp8ZrL5nYb7cHd\n");
    assert_eq!(hits.len(), 1);
    let hit = &hits[0];
    assert_eq!(m.rule(hit.rule_index).id, "demo-token");
    assert_eq!((hit.line, hit.column, hit.end_line), (2, 10, 2));
    assert_eq!(hit.secret, b"dmo_k3JxQ9vT2mWp8ZrL5nYb7cHd");
    assert!(!hit.inline_allow);
}

#[test]
fn keywords_are_case_insensitive_but_regex_decides() {
    let m = matcher();
    assert!(scan(&m, b"DMO_k3JxQ9vT2mWp8ZrL5nYb7cHd").is_empty());
    assert_eq!(scan(&m, b"\"dmo_k3JxQ9vT2mWp8ZrL5nYb7cHd\"").len(), 1);
}

#[test]
fn low_entropy_and_placeholders_are_dropped() {
    let m = matcher();
    assert!(scan(&m, b"dmo_aaaaaaaaaaaaaaaaaaaaaaaa").is_empty());
    assert!(scan(&m, b"dmo_EXAMPLEk3JxQ9vT2mWp8ZrL5").is_empty());
}

#[test]
fn github_checksum_gates_reporting() {
    let m = matcher();
    let good = github_token("k3JxQ9vT2mWp8ZrL5nYb7cHd4fGs1a");
    let hits = scan(&m, good.as_bytes());
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].validation, Validation::ChecksumValid);
    let mut bad = good.clone().into_bytes();
    bad[39] = if bad[39] == b'Q' { b'R' } else { b'Q' };
    assert!(scan(&m, &bad).is_empty());
    let mut set = Ruleset::default();
    set.add_file("test.toml", RULES).unwrap();
    let lenient = Matcher::new(
        &set,
        MatcherOptions {
            report_invalid: true,
            ..Default::default()
        },
    )
    .unwrap();
    let hits = scan(&lenient, &bad);
    assert_eq!(hits[0].validation, Validation::ChecksumInvalid);
}

#[test]
fn generic_rule_yields_to_specific_rule_on_same_secret() {
    let m = matcher();
    let hits = scan(
        &m,
        b"secret = dmo_k3JxQ9vT2mWp8ZrL5nYb7cHd\nsecret = \"Zq8LmW3xT9vB2nK7pR4s\"\n",
    );
    let ids: Vec<&str> = hits
        .iter()
        .map(|h| m.rule(h.rule_index).id.as_str())
        .collect();
    assert_eq!(ids, ["demo-token", "generic-secret"]);
}

#[test]
fn inline_allow_is_flagged() {
    let m = matcher();
    let hits = scan(&m, b"a = dmo_k3JxQ9vT2mWp8ZrL5nYb7cHd # strata:allow\n");
    assert!(hits[0].inline_allow);
}

#[test]
fn chunk_edges_find_each_secret_once() {
    let m = matcher();
    let secret = b"dmo_k3JxQ9vT2mWp8ZrL5nYb7cHd";
    let chunk = 64 * 1024;
    // Place the secret at every offset around the first chunk edge.
    let overlap = m.max_match_len() + 64;
    let chunk_used = chunk.max(overlap * 2);
    for delta in [
        0usize,
        1,
        5,
        13,
        27,
        28,
        29,
        40,
        overlap - 1,
        overlap,
        overlap + 3,
    ] {
        let mut hay = vec![b'.'; chunk_used + overlap * 3];
        let at = chunk_used - delta;
        hay[at - 1] = b' ';
        hay[at..at + secret.len()].copy_from_slice(secret);
        hay[at + secret.len()] = b' ';
        let hits = scan_chunked(&m, &hay, chunk);
        assert_eq!(hits.len(), 1, "delta {delta}");
        assert_eq!(hits[0].secret_start, at as u64, "delta {delta}");
        assert_eq!(hits[0].column, at as u64 + 1);
    }
}

#[test]
fn chunked_and_whole_scans_agree_with_lines() {
    let m = matcher();
    let mut hay = Vec::new();
    for i in 0..40_000 {
        if i % 997 == 0 {
            hay.extend_from_slice(
                format!("line {i} dmo_k3JxQ9vT2mWp8ZrL5nYb{:04}\n", i % 10000).as_bytes(),
            );
        } else {
            hay.extend_from_slice(b"nothing to see here, move along please\n");
        }
    }
    let whole = scan(&m, &hay);
    let chunked = scan_chunked(&m, &hay, 100_000);
    assert!(whole.len() > 30);
    let key = |h: &Match| (h.secret_start, h.line, h.column, h.secret.clone());
    assert_eq!(
        whole.iter().map(key).collect::<Vec<_>>(),
        chunked.iter().map(key).collect::<Vec<_>>()
    );
    assert_eq!(whole[1].line, 998);
}

#[test]
fn multi_line_block_reports_end_line() {
    let m = matcher();
    let hay = b"x\n-----BEGIN DEMO KEY-----\nQUJDREVGR0hJSktMTU5PUFFSU1RVVldY\nWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2\n-----END DEMO KEY-----\n";
    let hits = scan(&m, hay);
    assert_eq!(hits.len(), 1);
    assert_eq!((hits[0].line, hits[0].end_line), (3, 4));
}

#[test]
fn utf16_input_is_decoded() {
    let m = matcher();
    let mut bytes = vec![0xFF, 0xFE];
    for unit in "k = dmo_k3JxQ9vT2mWp8ZrL5nYb7cHd\r\n".encode_utf16() {
        bytes.extend_from_slice(&unit.to_le_bytes());
    }
    assert_eq!(scan(&m, &bytes).len(), 1);
    assert_eq!(scan_chunked(&m, &bytes, 1 << 20).len(), 1);
}

/// Rules listing the same allowlist regexes share one compiled allowlist;
/// each rule must still apply its own list and only its own.
#[test]
fn shared_and_distinct_allowlists_apply_per_rule() {
    let shared = r"['''^fake''', '''^(?:dummy)+[0-9]*$''']";
    let lists = [
        ("alpha", shared),
        ("beta", shared),
        ("gamma", r"['''^other''']"),
    ];
    let rules: String = lists
        .iter()
        .map(|(name, allow)| {
            format!(
                "[[rules]]\nid = \"{name}-key\"\nname = \"{name}\"\nkeywords = [\"{name}_key\"]\n\
                 regex = '''{name}_key=([a-z0-9]{{12,40}})'''\nexamples = []\ncounterexamples = []\n\
                 [rules.allowlist]\nregexes = {allow}\n\n"
            )
        })
        .collect();
    let m = matcher_from("allow.toml", &rules);
    let ids = |hay: &str| -> Vec<String> {
        scan(&m, hay.as_bytes())
            .iter()
            .map(|x| m.rule(x.rule_index).id.clone())
            .collect()
    };
    // Both lists of the shared allowlist suppress in both rules.
    assert!(ids("alpha_key=fakeq8w7e6r5t4y3\n").is_empty());
    assert!(ids("beta_key=dummydummy42\n").is_empty());
    // A value the shared list does not cover is reported.
    assert_eq!(ids("beta_key=q8w7e6r5t4y3u2\n"), ["beta-key"]);
    // gamma's own list applies to gamma, not the shared one.
    assert!(ids("gamma_key=otherq8w7e6r5t4\n").is_empty());
    assert_eq!(ids("gamma_key=fakeq8w7e6r5t4y3\n"), ["gamma-key"]);
    assert_eq!(ids("alpha_key=otherq8w7e6r5t4\n"), ["alpha-key"]);
}

/// A rule whose matches start a few known bytes before its keyword runs
/// anchored at those starts: each match is found once, from its leftmost
/// start, with no second match from the keyword inside it, also where the
/// lead-in straddles a chunk edge; and a keyword without a lead-in before
/// it is tried at the keyword itself.
#[test]
fn matches_starting_before_their_keyword_are_found_once() {
    let rules = r#"
[[rules]]
id = "lead-in-token"
name = "Token with a lead-in"
keywords = ["tkn"]
regex = '''(?i)(?:\b|_)(?:(?:next|page)[_-]?)?tkn\s*=\s*([A-Za-z0-9]{12,40})\b'''
min_entropy = 2.5
examples = ["next_tkn = Q7vX2mPz9LkR4tWb"]
counterexamples = ["next_tkn = short"]
"#;
    let m = matcher_from("lead-in.toml", rules);
    let hay = b"a NEXT_TKN = Q7vX2mPz9LkR4tWb\nMY_TKN=H3kP9zQ2xV7mL4nR\ntkn = Z8bN4cQ1wE6rT3yU\nobtkn = Z8bN4cQ1wE6rT3yA\n";
    let starts_and_secrets = |matches: Vec<Match>| -> Vec<(u64, Vec<u8>)> {
        matches.into_iter().map(|x| (x.start, x.secret)).collect()
    };
    let found = starts_and_secrets(scan(&m, hay));
    assert_eq!(
        found,
        vec![
            (2, b"Q7vX2mPz9LkR4tWb".to_vec()),
            (32, b"H3kP9zQ2xV7mL4nR".to_vec()),
            (54, b"Z8bN4cQ1wE6rT3yU".to_vec()),
        ]
    );
    for chunk in [64, 80, 100] {
        let chunked = starts_and_secrets(scan_chunked(&m, hay, chunk));
        assert_eq!(chunked, found, "chunk size {chunk}");
    }
}
