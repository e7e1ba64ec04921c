//! Embeds every `rules/*.toml` file of the workspace into the library, so the
//! `strata` binary carries its default ruleset with no files beside it.
//!
//! The TOML is converted to JSON here: parsing 400 KB of TOML at start-up
//! took ~30 ms, the same rules as JSON a few. A file that is not valid TOML
//! fails the build, naming the file.

use std::{env, fs, path::PathBuf};

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let rules_dir = manifest_dir.join("../../rules");
    println!("cargo:rerun-if-changed={}", rules_dir.display());
    let mut files: Vec<PathBuf> = fs::read_dir(&rules_dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", rules_dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    files.sort();
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());
    let mut out = String::from(
        "/// The default rule files: (file name, the file's TOML converted to JSON).\npub static DEFAULT_RULE_FILES: &[(&str, &str)] = &[\n",
    );
    for path in &files {
        println!("cargo:rerun-if-changed={}", path.display());
        let name = path.file_name().unwrap().to_string_lossy();
        let text = fs::read_to_string(path).unwrap();
        let value: toml::Value = toml::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: invalid TOML: {e}", path.display()));
        let json_path = out_dir.join(format!("{name}.json"));
        fs::write(&json_path, serde_json::to_string(&value).unwrap()).unwrap();
        out.push_str(&format!(
            "    ({name:?}, include_str!({:?})),\n",
            json_path.display().to_string()
        ));
    }
    out.push_str("];\n");
    let out_path = out_dir.join("default_rules.rs");
    fs::write(out_path, out).unwrap();
}
