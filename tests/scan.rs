//! End-to-end tests of `strata scan`: generated trees with planted secrets
//! and decoys, every file kind the foundation issue names, exit codes,
//! baselines, inline allow, configs, formats. Assertions are on the JSON.

mod util;

use std::collections::BTreeSet;

use serde_json::Value;
use util::*;

fn rule_ids(findings: &[Value]) -> BTreeSet<String> {
    findings
        .iter()
        .map(|f| f["rule_id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn planted_secrets_in_every_file_kind_are_found_with_lines() {
    let tree = Tree::new();
    let t = |seed| github_token(seed);
    tree.write(
        "crlf.env",
        format!("A=1\r\nB=2\r\nGITHUB_TOKEN={}\r\n", t(1)),
    );
    let mut minified = "var a=function(){return 1};".repeat(4000);
    minified.push_str(&format!("var k=\"{}\";", t(2)));
    minified.push_str(&"x.y=z;".repeat(4000));
    tree.write("dist/app.min.js", minified);
    tree.write(
        "utf8.txt",
        format!("# café — naïve résumé\nclé = \"{}\"\n", t(3)),
    );
    let mut latin1 = b"# caf\xe9 na\xefve\n".to_vec();
    latin1.extend_from_slice(format!("token={}\n", t(4)).as_bytes());
    tree.write("latin1.txt", latin1);
    let mut utf16 = vec![0xFF, 0xFE];
    for unit in format!("line one\r\ntoken = {}\r\n", t(5)).encode_utf16() {
        utf16.extend_from_slice(&unit.to_le_bytes());
    }
    tree.write("utf16.txt", utf16);
    let mut big = "2026-11-22T10:00:00Z INFO request served in 12ms\n".repeat(110_000);
    big.push_str(&format!("export GH={}\n", t(6)));
    assert!(big.len() > 5 << 20);
    tree.write("big.log", &big);
    let mut binary: Vec<u8> = (0..300_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let binary_line = binary.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
    binary.extend_from_slice(format!("\0{}\0", t(7)).as_bytes());
    tree.write("lib/libapp.so", binary);
    tree.write(
        "bundle.zip",
        zip_bytes(&[("config/.env", format!("T={}\n", t(8)).as_bytes())]),
    );
    let jar = zip_bytes(&[(
        "BOOT-INF/classes/application.properties",
        format!("\n\ngh.token={}\n", t(9)).as_bytes(),
    )]);
    tree.write(
        "release.tar.gz",
        gzip(&tar_bytes(&[
            ("app/app.jar", &jar),
            ("app/README", b"nothing"),
        ])),
    );
    // Decoys: documentation values, broken checksums, placeholders.
    tree.write(
        "decoys.md",
        format!(
            "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\nGITHUB_TOKEN={}\npassword = \"changeme\"\napi_key = ${{API_KEY}}\ntoken: <your-token-here>\nghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
            github_token_bad_checksum(10)
        ),
    );
    let run = scan_json(&tree, &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let findings = run.findings();
    let found: BTreeSet<(String, u64)> = findings
        .iter()
        .filter(|f| f["rule_id"] == "github-pat-classic")
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected: BTreeSet<(String, u64)> = [
        ("crlf.env", 3),
        ("dist/app.min.js", 1),
        ("utf8.txt", 2),
        ("latin1.txt", 2),
        ("utf16.txt", 2),
        ("big.log", 110_001),
        ("lib/libapp.so", binary_line),
        ("bundle.zip!config/.env", 1),
        (
            "release.tar.gz!app/app.jar!BOOT-INF/classes/application.properties",
            3,
        ),
    ]
    .iter()
    .map(|(p, l)| (p.to_string(), *l))
    .collect();
    assert_eq!(found, expected);
    assert!(
        findings.iter().all(|f| f["path"] != "decoys.md"),
        "decoys reported: {:?}",
        findings
            .iter()
            .filter(|f| f["path"] == "decoys.md")
            .collect::<Vec<_>>()
    );
    let crlf = findings.iter().find(|f| f["path"] == "crlf.env").unwrap();
    assert_eq!(crlf["column"], 14);
    assert_eq!(crlf["validation"], "checksum-valid");
    assert_eq!(run.json()["summary"]["errors"], 0);
}

#[test]
fn secrets_near_chunk_edges_are_found_exactly_once() {
    // The engine reads 1 MiB chunks that overlap by the longest possible
    // match. Plant distinct tokens every ~1.5 KiB across both edges of the
    // first chunk, so some straddle each edge.
    let tree = Tree::new();
    let mut text = Vec::new();
    let mut planted = BTreeSet::new();
    let mut seed = 100;
    while text.len() < (1 << 20) + 80_000 {
        let near_edge = text.len() > (1 << 20) - 60_000;
        if near_edge {
            let token = github_token(seed);
            seed += 1;
            text.extend_from_slice(format!("k{seed}={token} ").as_bytes());
            planted.insert(token);
            text.extend_from_slice(&vec![b'.'; 1400 + (seed as usize * 37) % 200]);
            text.push(b'\n');
        } else {
            text.extend_from_slice(b"filler filler filler filler filler filler filler\n");
        }
    }
    tree.write("edges.txt", &text);
    let run = scan_json(&tree, &["--show-secrets"]);
    let findings = run.findings();
    let secrets: Vec<String> = findings
        .iter()
        .map(|f| f["secret"].as_str().unwrap().to_string())
        .collect();
    let unique: BTreeSet<String> = secrets.iter().cloned().collect();
    assert_eq!(secrets.len(), unique.len(), "a secret was reported twice");
    assert_eq!(unique, planted);
}

#[test]
fn exit_codes_are_0_clean_1_findings_2_incomplete() {
    let tree = Tree::new();
    tree.write("clean.txt", "nothing here\n");
    assert_eq!(scan_json(&tree, &[]).code, 0);
    tree.write("leak.env", format!("GH={}\n", github_token(20)));
    assert_eq!(scan_json(&tree, &[]).code, 1);
    // A missing input makes the scan incomplete: 2 wins over 1, the path is
    // named, and the findings from what could be read are still reported.
    let run = strata_in(
        tree.path(),
        &["scan", ".", "does-not-exist.txt", "--format", "json"],
        None,
    );
    assert_eq!(run.code, 2);
    let report = run.json();
    assert_eq!(report["summary"]["complete"], false);
    assert_eq!(report["errors"][0]["path"], "does-not-exist.txt");
    assert_eq!(run.findings().len(), 1);
}

#[test]
fn corrupt_archive_is_an_error_naming_it_and_the_scan_goes_on() {
    let tree = Tree::new();
    let mut broken = zip_bytes(&[("a.env", format!("T={}\n", github_token(30)).as_bytes())]);
    let cut = broken.len() - 30;
    broken.truncate(cut);
    tree.write("broken.zip", broken);
    tree.write("ok.env", format!("T={}\n", github_token(31)));
    let mut gz = gzip(format!("T={}\n", github_token(32)).repeat(2000).as_bytes());
    let cut = gz.len() / 2;
    gz.truncate(cut);
    tree.write("truncated.log.gz", gz);
    let run = scan_json(&tree, &[]);
    assert_eq!(run.code, 2);
    let report = run.json();
    let error_paths: BTreeSet<&str> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert!(error_paths.contains("broken.zip"), "{error_paths:?}");
    assert!(error_paths.contains("truncated.log.gz"), "{error_paths:?}");
    assert!(run.findings().iter().any(|f| f["path"] == "ok.env"));
}

#[test]
fn unreadable_file_fails_closed() {
    let tree = Tree::new();
    let secret = tree.write("locked.env", format!("T={}\n", github_token(40)));
    tree.write("open.env", format!("T={}\n", github_token(41)));
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::read(&secret).is_ok() {
        // Running as root: permissions do not stop us. A dangling symlink
        // named on the command line is unreadable for everyone.
        std::os::unix::fs::symlink("gone", tree.path().join("dangling")).unwrap();
        let run = strata_in(
            tree.path(),
            &["scan", ".", "dangling", "--format", "json"],
            None,
        );
        assert_eq!(run.code, 2);
        assert_eq!(run.json()["errors"][0]["path"], "dangling");
        return;
    }
    let run = scan_json(&tree, &[]);
    assert_eq!(run.code, 2);
    assert_eq!(run.json()["errors"][0]["path"], "locked.env");
    assert_eq!(run.findings().len(), 1);
}

#[test]
fn baseline_round_trip_survives_moved_lines_and_catches_new_secrets() {
    let tree = Tree::new();
    tree.write("a.env", format!("T={}\n", github_token(50)));
    let baseline = tree.path().join(".strata-baseline.json");
    let run = strata_in(
        tree.path(),
        &[
            "scan",
            ".",
            "--format",
            "json",
            "--write-baseline",
            ".strata-baseline.json",
        ],
        None,
    );
    assert_eq!(
        run.code, 0,
        "writing a baseline accepts what it found: {}",
        run.stderr
    );
    let text = std::fs::read_to_string(&baseline).unwrap();
    assert!(
        !text.contains(&github_token(50)),
        "the baseline must not hold the secret"
    );
    let run = scan_json(
        &tree,
        &[
            "--baseline",
            ".strata-baseline.json",
            "--exclude",
            ".strata-baseline.json",
        ],
    );
    assert_eq!(run.code, 0);
    assert_eq!(run.json()["summary"]["baselined"], 1);
    // Moving the secret down keeps it accepted; a new one fails the gate.
    tree.write(
        "a.env",
        format!(
            "\n\n# moved\nT={}\nU={}\n",
            github_token(50),
            github_token(51)
        ),
    );
    let run = scan_json(
        &tree,
        &[
            "--baseline",
            ".strata-baseline.json",
            "--exclude",
            ".strata-baseline.json",
        ],
    );
    assert_eq!(run.code, 1);
    let findings = run.findings();
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0]["line"], 5);
}

#[test]
fn inline_allow_suppresses_unless_strict() {
    let tree = Tree::new();
    tree.write(
        "a.py",
        format!(
            "TOKEN = \"{}\"  # strata:allow test fixture\n",
            github_token(60)
        ),
    );
    let run = scan_json(&tree, &[]);
    assert_eq!(run.code, 0);
    assert_eq!(run.json()["summary"]["suppressed"], 1);
    let run = scan_json(&tree, &["--no-inline-allow"]);
    assert_eq!(run.code, 1);
    assert_eq!(run.findings().len(), 1);
}

#[test]
fn stdin_is_scanned_as_dash() {
    let tree = Tree::new();
    let input = format!("log line\nAuthorization: token {}\n", github_token(70));
    let run = strata_in(
        tree.path(),
        &["scan", "-", "--format", "json"],
        Some(input.as_bytes()),
    );
    assert_eq!(run.code, 1);
    assert_eq!(
        summary_of(&run.findings()),
        [("-".to_string(), "github-pat-classic".to_string(), 2)]
    );
}

#[test]
fn dotfiles_and_ignored_files_are_scanned_but_not_git_internals() {
    let tree = Tree::new();
    tree.write(".gitignore", ".env\nbuild/\n");
    tree.write(".env", format!("T={}\n", github_token(80)));
    tree.write("build/out.js", format!("T=\"{}\"\n", github_token(81)));
    tree.write(
        ".git/config",
        format!("[remote]\nurl = x\ntoken = {}\n", github_token(82)),
    );
    tree.write(
        ".github/workflows/ci.yml",
        format!("env:\n  T: {}\n", github_token(83)),
    );
    let paths: BTreeSet<String> = summary_of(&scan_json(&tree, &[]).findings())
        .into_iter()
        .map(|x| x.0)
        .collect();
    let expected: BTreeSet<String> = [".env", "build/out.js", ".github/workflows/ci.yml"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(paths, expected);
}

#[test]
fn exclude_globs_and_max_file_size() {
    let tree = Tree::new();
    tree.write("vendor/lib/x.js", format!("T=\"{}\"\n", github_token(90)));
    tree.write("src/app.env", format!("T={}\n", github_token(91)));
    tree.write("huge.bin", vec![b'a'; 3 << 20]);
    let run = scan_json(&tree, &["--exclude", "vendor/**", "--max-file-size", "1M"]);
    assert_eq!(
        summary_of(&run.findings()),
        [("src/app.env".into(), "github-pat-classic".into(), 1)]
    );
    let report = run.json();
    assert_eq!(report["skipped"][0]["path"], "huge.bin");
    assert!(report["skipped"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("max-file-size"));
    assert_eq!(run.code, 1, "a skipped file is listed, not an error");
}

#[test]
fn symlink_loops_do_not_hang_and_targets_are_not_followed() {
    let tree = Tree::new();
    tree.write("real/a.env", format!("T={}\n", github_token(95)));
    std::os::unix::fs::symlink("..", tree.path().join("real/loop")).unwrap();
    std::os::unix::fs::symlink("real", tree.path().join("alias")).unwrap();
    let run = scan_json(&tree, &[]);
    assert_eq!(
        summary_of(&run.findings()),
        [("real/a.env".into(), "github-pat-classic".into(), 1)]
    );
}

#[test]
fn gzip_files_are_read_to_their_last_member() {
    let tree = Tree::new();
    // Small gzip files are decoded whole in memory; a file of two members
    // (of the same length, so the trailer's length fits the first) must
    // still be read to its end.
    let second = format!("T={}\n", github_token(50));
    let first = format!("{}\n", "-".repeat(second.len() - 1));
    let mut log = gzip(first.as_bytes());
    log.extend_from_slice(&gzip(second.as_bytes()));
    tree.write("logs/app.log.1.gz", log);
    tree.write(
        "logs/app.log.2.gz",
        gzip(format!("x\nT={}\n", github_token(51)).as_bytes()),
    );
    let run = scan_json(&tree, &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let mut found: Vec<(String, u64)> = run
        .findings()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
            )
        })
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            ("logs/app.log.1.gz".to_string(), 2),
            ("logs/app.log.2.gz".to_string(), 2)
        ]
    );
}

#[test]
fn decompression_bomb_is_cut_off_and_listed() {
    let tree = Tree::new();
    let zeros = vec![0u8; 8 << 20];
    tree.write("bomb.gz", gzip(&zeros));
    let run = scan_json(&tree, &["--max-file-size", "1M"]);
    let report = run.json();
    let skipped = report["skipped"].as_array().unwrap();
    assert!(
        skipped.iter().any(|s| s["path"] == "bomb.gz"
            && s["reason"].as_str().unwrap().contains("decompression bomb")),
        "{skipped:?}"
    );
}

#[test]
fn json_contract_fields_are_present() {
    let tree = Tree::new();
    tree.write("a.env", format!("T={}\n", github_token(100)));
    let findings = scan_json(&tree, &[]).findings();
    let f = &findings[0];
    for field in [
        "rule_id",
        "rule_name",
        "path",
        "line",
        "column",
        "end_line",
        "secret",
        "fingerprint",
        "finding_id",
        "entropy",
        "validation",
    ] {
        assert!(f.get(field).is_some(), "missing {field} in {f}");
    }
    assert_eq!(f["secret"], "ghp_*****", "secrets are redacted by default");
    assert_eq!(f["fingerprint"].as_str().unwrap().len(), 64);
    // The same secret elsewhere: same fingerprint, different finding id.
    tree.write("b/c.env", format!("T={}\n", github_token(100)));
    let findings = scan_json(&tree, &[]).findings();
    assert_eq!(findings.len(), 2);
    assert_eq!(findings[0]["fingerprint"], findings[1]["fingerprint"]);
    assert_ne!(findings[0]["finding_id"], findings[1]["finding_id"]);
    // A keyed fingerprint differs from the plain one.
    let keyed = std::process::Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["scan", "a.env", "--format", "json"])
        .current_dir(tree.path())
        .env("STRATA_FINGERPRINT_KEY", "team-secret")
        .output()
        .unwrap();
    let keyed: Value = serde_json::from_slice(&keyed.stdout).unwrap();
    assert_ne!(
        keyed["findings"][0]["fingerprint"],
        findings[0]["fingerprint"]
    );
}

#[test]
fn show_secrets_reveals_only_when_asked() {
    let tree = Tree::new();
    tree.write("a.env", format!("T={}\n", github_token(110)));
    let text = strata_in(tree.path(), &["scan", "."], None);
    assert!(!text.stdout.contains(&github_token(110)));
    assert!(text.stdout.contains("github-pat-classic"));
    let shown = scan_json(&tree, &["--show-secrets"]);
    assert_eq!(shown.findings()[0]["secret"], github_token(110));
}

#[test]
fn jsonl_is_one_finding_per_line_then_a_summary() {
    let tree = Tree::new();
    tree.write(
        "a.env",
        format!("T={}\nU={}\n", github_token(120), github_token(121)),
    );
    let run = strata_in(tree.path(), &["scan", ".", "--format", "jsonl"], None);
    let lines: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["kind"], "finding");
    assert_eq!(lines[1]["line"], 2);
    assert_eq!(lines[2]["kind"], "summary");
    assert_eq!(lines[2]["summary"]["findings"], 2);
}

#[test]
fn output_file_and_sarif_validate_against_the_schema() {
    let tree = Tree::new();
    tree.write("dir with space/a.env", format!("T={}\n", github_token(130)));
    tree.write(
        "pkg.zip",
        zip_bytes(&[("in/b.env", format!("T={}\n", github_token(131)).as_bytes())]),
    );
    let run = strata_in(
        tree.path(),
        &["scan", ".", "--format", "sarif", "--output", "report.sarif"],
        None,
    );
    assert_eq!(run.code, 1);
    let sarif: Value =
        serde_json::from_str(&std::fs::read_to_string(tree.path().join("report.sarif")).unwrap())
            .unwrap();
    let schema_path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/sarif-schema-2.1.0.json"
    );
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path).expect("vendored SARIF schema"))
            .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(errors.is_empty(), "SARIF invalid:\n{}", errors.join("\n"));
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    let uris: BTreeSet<&str> = results
        .iter()
        .map(|r| {
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert!(
        uris.contains("dir%20with%20space/a.env") && uris.contains("pkg.zip!in/b.env"),
        "{uris:?}"
    );
    let index = results[0]["ruleIndex"].as_u64().unwrap() as usize;
    assert_eq!(
        sarif["runs"][0]["tool"]["driver"]["rules"][index]["id"],
        results[0]["ruleId"]
    );
    // The schema check itself can fail: a log without `runs` is rejected.
    assert!(!validator.is_valid(&serde_json::json!({"version": "2.1.0"})));
}

#[test]
fn config_allowlist_applies_but_a_config_inside_the_tree_is_not_trusted() {
    let tree = Tree::new();
    tree.write("fixtures/a.env", format!("T={}\n", github_token(140)));
    tree.write("src/b.env", format!("T={}\n", github_token(141)));
    // A config planted in the scanned tree must not allowlist anything.
    tree.write("strata.toml", "[allowlist]\npaths = [\"**\"]\n");
    assert_eq!(scan_json(&tree, &[]).findings().len(), 2);
    let config = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(config.path(), "[allowlist]\npaths = [\"fixtures/**\"]\n").unwrap();
    let run = scan_json(&tree, &["--config", config.path().to_str().unwrap()]);
    assert_eq!(
        summary_of(&run.findings()),
        [("src/b.env".into(), "github-pat-classic".into(), 1)]
    );
}

#[test]
fn config_adds_and_disables_rules() {
    let tree = Tree::new();
    tree.write(
        "a.txt",
        format!(
            "internal: ACME-{}\nT={}\n",
            "Zq8LmW3xT9vB2nK7pR4s",
            github_token(150)
        ),
    );
    let config = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        config.path(),
        "disable = [\"github-pat-classic\"]\n[[rules]]\nid = \"acme-internal\"\nname = \"ACME internal token\"\nkeywords = [\"acme-\"]\nregex = '''ACME-([A-Za-z0-9]{20})'''\nexamples = [\"ACME-Zq8LmW3xT9vB2nK7pR4s\"]\ncounterexamples = [\"ACME-short\"]\n",
    )
    .unwrap();
    let run = scan_json(&tree, &["--config", config.path().to_str().unwrap()]);
    let ids = rule_ids(&run.findings());
    assert!(
        ids.contains("acme-internal") && !ids.contains("github-pat-classic"),
        "{ids:?}"
    );
}

#[test]
fn rules_list_and_check() {
    let tree = Tree::new();
    let run = strata_in(tree.path(), &["rules", "list", "--json"], None);
    assert_eq!(run.code, 0);
    let rules: Vec<Value> = serde_json::from_str(&run.stdout).unwrap();
    assert!(rules.len() >= 250);
    let run = strata_in(tree.path(), &["rules", "check"], None);
    assert_eq!(run.code, 0, "{}", run.stdout);
    // A rules dir with a rule whose counterexample matches: exit 1, named.
    tree.write(
        "rules/demo.toml",
        "[[rules]]\nid = \"demo-token\"\nname = \"Demo\"\ndescription = \"d\"\nkeywords = [\"dmo_\"]\nregex = '''dmo_[a-z0-9]{8}'''\nexamples = [\"dmo_k3jx9vt2\"]\ncounterexamples = [\"dmo_q8lmw3xt\"]\n",
    );
    let run = strata_in(tree.path(), &["rules", "check", "rules"], None);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains("demo-token") && run.stdout.contains("counterexample matched"),
        "{}",
        run.stdout
    );
    // A rule without keywords does not load: exit 2 with file and rule named.
    tree.write(
        "bad/x.toml",
        "[[rules]]\nid = \"no-kw\"\nname = \"N\"\nregex = 'abc'\n",
    );
    let run = strata_in(tree.path(), &["rules", "check", "bad"], None);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("x.toml")
            && run.stderr.contains("no-kw")
            && run.stderr.contains("keyword"),
        "{}",
        run.stderr
    );
}

// ---- issue 13: hostile names, --timeout -------------------------------------

#[test]
fn control_characters_in_names_never_reach_the_terminal_raw() {
    // Issue 13: an ESC sequence in a file name cleared the screen, and a
    // newline forged a `0 findings…` summary line.
    let tree = Tree::new();
    let name = "evil\x1b[2J\n0 findings, 0 skipped, 0 errors; all clear.env";
    tree.write(name, format!("GITHUB_TOKEN={}\n", github_token(1301)));
    let run = strata_in(tree.path(), &["scan", "."], None);
    assert_eq!(run.code, 1, "{}", run.stderr);
    for text in [&run.stdout, &run.stderr] {
        assert!(!text.contains('\x1b'), "raw ESC in:\n{text}");
        assert!(
            !text.lines().any(|l| l.starts_with("0 findings")),
            "a forged summary line:\n{text}"
        );
    }
    assert!(
        run.stdout.contains("evil\\x1b[2J\\n0 findings"),
        "{}",
        run.stdout
    );
    // JSON keeps the name as it is (serde escapes it).
    let json = scan_json(&tree, &[]);
    assert_eq!(json.findings()[0]["path"], name);
}

#[test]
fn a_timeout_writes_the_partial_report_and_exits_2() {
    // Issue 13: a run killed by the pipeline lost every finding. Here
    // standard input never closes; the file before it holds a secret.
    use std::{
        process::{Command, Stdio},
        time::{Duration, Instant},
    };
    let tree = Tree::new();
    let token = github_token(1302);
    tree.write("found.env", format!("GITHUB_TOKEN={token}\n"));
    let report = tree.path().join("report.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args([
            "scan",
            "found.env",
            "-",
            "--timeout",
            "2s",
            "--format",
            "json",
        ])
        .arg("--output")
        .arg(&report)
        .current_dir(tree.path())
        .env_remove("STRATA_FINGERPRINT_KEY")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run strata");
    // Kept open (and so never at end of file) until strata is done.
    let stdin = child.stdin.take().unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("strata did not stop at its --timeout");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    drop(stdin);
    assert_eq!(status.code(), Some(2));
    let json: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let findings = json["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{json:#}");
    assert_eq!(findings[0]["path"], "found.env");
    assert_eq!(json["summary"]["complete"], false);
    let errors = json["errors"].as_array().unwrap();
    assert!(
        errors
            .iter()
            .any(|e| e["path"] == "-" && e["message"] == "not finished: --timeout 2s expired"),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e["path"] == "--timeout"
                && e["message"].as_str().unwrap().contains("timed out")),
        "{errors:?}"
    );
    assert!(
        !errors.iter().any(|e| e["path"] == "found.env"),
        "a finished input is not listed: {errors:?}"
    );
}
