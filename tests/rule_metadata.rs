//! End-to-end: what rules tell reports besides where a secret is.
//! Severity and confidence on every finding and filters on them, context
//! rules (keyword + value shape) with an id + secret pair, the SARIF fields
//! GitHub code scanning reads, and `strata rules check` proving keywords.

mod util;

use serde_json::Value;
use util::*;

/// A user config with one context rule that has a pair.
const CONTEXT_CONFIG: &str = r#"
[[rules]]
id = "acme-api-key"
name = "Acme API key"
description = "Acme API key: 32 hex next to the word acme, with its 10-character app id."
keywords = ["acme_"]
severity = "high"
confidence = "medium"
references = ["https://docs.acme.invalid/auth"]
examples = ['ACME_KEY=9c4f1ab27e3d50c8f6a2b1d7e4c9083f']
counterexamples = ['ACME_KEY=9c4f1ab27e3d50c8']

[rules.context]
value = '''[a-f0-9]{32}'''

[rules.context.pair]
name = "app-id"
value = '''[A-Z0-9]{10}'''
"#;

fn finding_of<'a>(findings: &'a [Value], rule: &str) -> &'a Value {
    findings
        .iter()
        .find(|f| f["rule_id"] == rule)
        .unwrap_or_else(|| panic!("no {rule} finding in {findings:#?}"))
}

#[test]
fn findings_carry_severity_and_confidence_and_filters_use_them() {
    let tree = Tree::new();
    tree.write("deploy.env", format!("GITHUB_TOKEN={}\n", github_token(7)));
    tree.write("app.ini", "[db]\npassword = Vq8#rT2!mKz9wLp4\n");
    let all = scan_json(&tree, &[]).findings();
    let github = finding_of(&all, "github-pat-classic");
    assert_eq!(github["confidence"], "high");
    assert!(
        ["critical", "high"].contains(&github["severity"].as_str().unwrap()),
        "{github}"
    );
    let generic = all
        .iter()
        .find(|f| f["rule_id"].as_str().unwrap().starts_with("generic-"))
        .expect("a generic finding");
    assert_eq!(generic["confidence"], "low");

    let confident = scan_json(&tree, &["--min-confidence", "high"]);
    assert_eq!(confident.code, 1);
    let ids: Vec<String> = confident
        .findings()
        .iter()
        .map(|f| f["rule_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, ["github-pat-classic"]);

    // Above every rule's severity: nothing is reported, and the gate passes.
    let severe = scan_json(&tree, &["--min-severity", "critical"]);
    let left = severe.findings();
    assert!(left.iter().all(|f| f["severity"] == "critical"), "{left:?}");
    assert_eq!(severe.code, if left.is_empty() { 0 } else { 1 });

    let bad = scan_json(&tree, &["--min-severity", "severe"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
}

#[test]
fn a_context_rule_reports_its_pair_redacted() {
    let tree = Tree::new();
    let config_dir = Tree::new();
    let config = config_dir.write("strata.toml", CONTEXT_CONFIG);
    tree.write(
        "settings.py",
        "ACME_APP_ID = 'QW7E2R9T4Y'\nACME_API_KEY = '9c4f1ab27e3d50c8f6a2b1d7e4c9083f'\n",
    );
    // The same value without the keyword, and a longer hex run: not findings.
    tree.write(
        "other.txt",
        "checksum = 9c4f1ab27e3d50c8f6a2b1d7e4c9083f\nACME_HASH=9c4f1ab27e3d50c8f6a2b1d7e4c9083f00\n",
    );
    let run = scan_json(&tree, &["--config", config.to_str().unwrap()]);
    let findings = run.findings();
    let acme: Vec<&Value> = findings
        .iter()
        .filter(|f| f["rule_id"] == "acme-api-key")
        .collect();
    assert_eq!(acme.len(), 1, "{findings:#?}");
    assert_eq!(acme[0]["path"], "settings.py");
    assert_eq!(acme[0]["line"], 2);
    assert_eq!(acme[0]["severity"], "high");
    assert_eq!(acme[0]["pair"]["name"], "app-id");
    let pair = acme[0]["pair"]["value"].as_str().unwrap();
    assert!(pair.contains('*') && !pair.contains("QW7E2R9T4Y"), "{pair}");

    let shown = scan_json(
        &tree,
        &["--config", config.to_str().unwrap(), "--show-secrets"],
    );
    let shown = shown.findings();
    assert_eq!(
        finding_of(&shown, "acme-api-key")["pair"]["value"],
        "QW7E2R9T4Y"
    );
}

#[test]
fn sarif_rules_carry_what_code_scanning_reads() {
    let tree = Tree::new();
    tree.write("deploy.env", format!("GITHUB_TOKEN={}\n", github_token(8)));
    let run = strata_in(tree.path(), &["scan", ".", "--format", "sarif"], None);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let sarif: Value = serde_json::from_str(&run.stdout).unwrap();
    let rules = sarif["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap();
    let github = rules
        .iter()
        .find(|r| r["id"] == "github-pat-classic")
        .expect("rule in driver");
    let score: f64 = github["properties"]["security-severity"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(score >= 7.0, "{github}");
    assert_eq!(github["properties"]["precision"], "very-high");
    assert!(github["properties"]["tags"]
        .as_array()
        .unwrap()
        .contains(&Value::from("security")));
    assert!(github["helpUri"].as_str().unwrap().starts_with("https://"));
    assert!(github["help"]["text"].as_str().unwrap().contains("rotate"));
    let result = &sarif["runs"][0]["results"][0];
    assert_eq!(result["level"], "error");
}

#[test]
fn rules_list_shows_metadata_for_every_rule() {
    let tree = Tree::new();
    let run = strata_in(tree.path(), &["rules", "list", "--json"], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let rules: Vec<Value> = serde_json::from_str(&run.stdout).unwrap();
    assert!(rules.len() >= 400);
    for rule in &rules {
        for field in ["severity", "confidence"] {
            assert!(rule[field].is_string(), "{} has no {field}", rule["id"]);
        }
        assert!(
            !rule["references"].as_array().unwrap().is_empty(),
            "{} has no references",
            rule["id"]
        );
    }
}

#[test]
fn rules_check_fails_a_branch_whose_matches_lack_a_keyword() {
    let tree = Tree::new();
    tree.write(
        "rules/demo.toml",
        r#"
[[rules]]
id = "demo-token"
name = "Demo token"
description = "demo_ + 12 alphanumerics, or (dead) a bare 40-hex value."
keywords = ["demo_"]
regex = '''\b(demo_[a-z0-9]{12}|[a-f0-9]{40})\b'''
severity = "low"
confidence = "high"
references = ["https://docs.demo.invalid/tokens"]
examples = ["demo_a1b2c3d4e5f6"]
counterexamples = ["demo_short"]
"#,
    );
    let run = strata_in(tree.path(), &["rules", "check", "rules"], None);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains("rule demo-token")
            && run.stdout.contains("without any of the rule's keywords"),
        "{}",
        run.stdout
    );
}
