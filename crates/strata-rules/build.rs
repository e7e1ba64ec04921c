//! Embeds every `rules/*.toml` file of the workspace into the library, so the
//! `strata` binary carries its default ruleset with no files beside it.

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
    let mut out = String::from("/// The default rule files: (file name, TOML text).\npub static DEFAULT_RULE_FILES: &[(&str, &str)] = &[\n");
    for path in &files {
        println!("cargo:rerun-if-changed={}", path.display());
        let name = path.file_name().unwrap().to_string_lossy();
        let abs = fs::canonicalize(path).unwrap();
        out.push_str(&format!("    ({name:?}, include_str!({:?})),\n", abs.display().to_string()));
    }
    out.push_str("];\n");
    let out_path = PathBuf::from(env::var("OUT_DIR").unwrap()).join("default_rules.rs");
    fs::write(out_path, out).unwrap();
}
