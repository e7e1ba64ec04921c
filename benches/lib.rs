//! Empty: `strata-benches` exists only for its benchmarks (`benches/engine.rs`)
//! and the whole-process script `macro/run.sh`. See `README.md`.
