//! Engine micro-benchmark: how fast the strata matcher chews through bytes,
//! with no file system, threads or reporting in the way.
//!
//! What it measures (divan, `divan::counter::BytesCount`, so every scanning
//! bench is reported in bytes per second):
//!
//! * `scan_bytes` — [`Matcher::scan_bytes`] with the embedded default ruleset
//!   over ~8 MB inputs of three kinds, generated deterministically here (a
//!   xorshift PRNG, same bytes on every run and machine):
//!   - `source`: source-code-like text (Rust, Python, JS, JSON, YAML/.env
//!     blocks) with the words rules key on — `token`, `password`, `secret`,
//!     `key`, `https://` — sprinkled in at a realistic density, lockfile
//!     hashes, and a few planted fake credentials, so the keyword automaton
//!     *and* the per-rule regex windows, entropy and validators all run;
//!   - `minified_js`: one 8 MB line of minified-JS-like code (the shape of a
//!     webpack bundle), where line/column bookkeeping and window merging
//!     meet a single huge line;
//!   - `binary`: uniformly random bytes (compressed or encrypted data), where
//!     the automaton should find almost nothing and the scan is close to the
//!     raw automaton speed.
//! * `scan_reader` — the same inputs through [`Matcher::scan_reader`] over a
//!   `Cursor` in 1 MiB chunks: the path the CLI takes for files, adding the
//!   copy into the chunk buffer and the chunk-overlap rescans.
//! * `compile` — start-up cost: `Ruleset::embedded()` (parse the embedded
//!   rules) and `Matcher::new` (build the keyword automaton; rule regexes are
//!   built lazily on their first keyword hit), separately and together, plus
//!   `Matcher::new` with every regex built eagerly for comparison.
//!
//! Why: the macro benchmark (`macro/run.sh`) says how strata compares with
//! other tools on a whole tree, but mixes in the walker, the page cache and
//! the report. This one isolates the engine so a change to the automaton, the
//! window logic or a rule's regex shows up as a throughput change per input
//! kind, and tells which kind of input a regression hits.
//!
//! Run: `cargo bench -p strata-benches --bench engine` (from the workspace
//! root); filter with e.g. `-- scan_bytes`.

use std::io::Cursor;
use std::sync::LazyLock;

use divan::{black_box, counter::BytesCount, Bencher};
use strata_engine::{Matcher, MatcherOptions};
use strata_rules::Ruleset;

/// Size of each generated input.
const INPUT_LEN: usize = 8 << 20;
/// Chunk size handed to `scan_reader` (the CLI's default).
const CHUNK: usize = 1 << 20;
const KINDS: &[&str] = &["source", "minified_js", "binary"];

fn main() {
    // Print what the inputs hold once, so a reader can tell the source input
    // really exercises the regex path (matches > 0) and binary does not.
    for kind in KINDS {
        let hay = input(kind);
        let mut scratch = MATCHER.new_scratch();
        let mut matches = 0usize;
        MATCHER.scan_bytes(hay, &mut scratch, &mut |_| matches += 1);
        let lines = hay.iter().filter(|&&b| b == b'\n').count();
        eprintln!(
            "input {kind:<12} {:>9} bytes, {lines:>7} newlines, {matches:>4} matches",
            hay.len()
        );
    }
    divan::main();
}

static MATCHER: LazyLock<Matcher> = LazyLock::new(|| {
    let set = Ruleset::embedded().expect("embedded ruleset loads");
    Matcher::new(&set, MatcherOptions::default()).expect("embedded ruleset compiles")
});

static SOURCE: LazyLock<Vec<u8>> = LazyLock::new(|| gen_source(INPUT_LEN, 0x5eed_0001));
static MINIFIED: LazyLock<Vec<u8>> = LazyLock::new(|| gen_minified(INPUT_LEN, 0x5eed_0002));
static BINARY: LazyLock<Vec<u8>> = LazyLock::new(|| gen_binary(INPUT_LEN, 0x5eed_0003));

fn input(kind: &str) -> &'static [u8] {
    match kind {
        "source" => &SOURCE,
        "minified_js" => &MINIFIED,
        "binary" => &BINARY,
        _ => unreachable!("unknown input kind {kind}"),
    }
}

// ---------------------------------------------------------------- benches

#[divan::bench(args = KINDS, sample_count = 20)]
fn scan_bytes(bencher: Bencher, kind: &str) {
    let hay = input(kind);
    let matcher = &*MATCHER;
    let mut scratch = matcher.new_scratch();
    // Warm the lazily built regexes outside the timed loop.
    matcher.scan_bytes(hay, &mut scratch, &mut |_| {});
    bencher.counter(BytesCount::of_slice(hay)).bench_local(|| {
        let mut found = 0usize;
        matcher.scan_bytes(black_box(hay), &mut scratch, &mut |m| {
            found += 1;
            black_box(&m);
        });
        found
    });
}

#[divan::bench(args = KINDS, sample_count = 20)]
fn scan_reader(bencher: Bencher, kind: &str) {
    let hay = input(kind);
    let matcher = &*MATCHER;
    let mut scratch = matcher.new_scratch();
    let mut warm = Cursor::new(hay);
    matcher
        .scan_reader(&mut warm, CHUNK, &mut scratch, &mut |_| {})
        .unwrap();
    bencher.counter(BytesCount::of_slice(hay)).bench_local(|| {
        let mut found = 0usize;
        let mut sink = |m| {
            found += 1;
            black_box(&m);
        };
        let mut reader = Cursor::new(black_box(hay));
        matcher
            .scan_reader(&mut reader, CHUNK, &mut scratch, &mut sink)
            .unwrap();
        found
    });
}

#[divan::bench_group(sample_count = 30)]
mod compile {
    use super::*;

    /// Parse the embedded rules (`Ruleset::embedded`).
    #[divan::bench]
    fn load_embedded() -> Ruleset {
        Ruleset::embedded().unwrap()
    }

    /// `Matcher::new` alone: the keyword automaton; regexes stay lazy.
    #[divan::bench]
    fn matcher_new(bencher: Bencher) {
        let set = Ruleset::embedded().unwrap();
        bencher.bench_local(|| Matcher::new(black_box(&set), MatcherOptions::default()).unwrap());
    }

    /// What a scan pays before reading its first byte:
    /// `Ruleset::embedded()` + `Matcher::new`.
    #[divan::bench]
    fn load_and_compile() -> Matcher {
        let set = Ruleset::embedded().unwrap();
        Matcher::new(&set, MatcherOptions::default()).unwrap()
    }

    /// `Matcher::new` with every rule regex built up front (what lazy
    /// building saves at start-up).
    #[divan::bench(sample_count = 5)]
    fn matcher_new_eager(bencher: Bencher) {
        let set = Ruleset::embedded().unwrap();
        bencher.bench_local(|| {
            Matcher::new(
                black_box(&set),
                MatcherOptions {
                    eager: true,
                    ..MatcherOptions::default()
                },
            )
            .unwrap()
        });
    }
}

// ---------------------------------------------------------- input generation

/// xorshift64* — deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
    fn push_from(&mut self, out: &mut Vec<u8>, alphabet: &[u8], len: usize) {
        for _ in 0..len {
            out.push(alphabet[self.below(alphabet.len())]);
        }
    }
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const HEX: &[u8] = b"0123456789abcdef";
const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Ordinary identifiers, with the secret-ish words at roughly the frequency
/// they have in real code (a few percent of identifiers).
const WORDS: &[&str] = &[
    "user",
    "config",
    "request",
    "response",
    "handler",
    "buffer",
    "index",
    "value",
    "result",
    "error",
    "client",
    "session",
    "cache",
    "path",
    "name",
    "data",
    "item",
    "count",
    "offset",
    "len",
    "parse",
    "build",
    "read",
    "write",
    "update",
    "state",
    "context",
    "options",
    "node",
    "entry",
    "list",
    "map",
    "queue",
    "event",
    "stream",
    "input",
    "output",
    "format",
    "header",
    "body",
    "status",
    "field",
    "record",
    "schema",
    "table",
    "query",
    "limit",
    "page",
    "timeout",
    "retry",
    "logger",
    "metrics",
    "worker",
    "task",
    "job",
    "id",
    "uuid",
    "url",
    "host",
    "port",
    "token",
    "password",
    "key",
    "secret",
    "auth",
    "credentials",
    "api_key",
    "access_token",
];
const TYPES: &[&str] = &[
    "Config",
    "Request",
    "Response",
    "Client",
    "Session",
    "Error",
    "Handler",
    "Buffer",
    "State",
    "Context",
    "Options",
    "Entry",
    "Record",
    "Token",
    "Credentials",
    "Key",
    "Secret",
];
const COMMENT: &[&str] = &[
    "the", "a", "is", "of", "to", "when", "returns", "if", "not", "this", "value", "used", "by",
    "caller", "cached", "token", "key", "may", "be", "empty", "we", "retry", "here", "see",
    "below", "for", "details", "password", "never", "logged",
];
const HOSTS: &[&str] = &[
    "api.example.com",
    "github.com",
    "docs.rs",
    "registry.npmjs.org",
    "pypi.org",
    "www.w3.org",
    "s3.amazonaws.com",
    "localhost:8080",
    "developer.mozilla.org",
];

fn ident(rng: &mut Rng, out: &mut Vec<u8>) {
    out.extend_from_slice(rng.pick(WORDS).as_bytes());
    if rng.chance(40) {
        out.push(b'_');
        out.extend_from_slice(rng.pick(WORDS).as_bytes());
    }
}

fn comment(rng: &mut Rng, out: &mut Vec<u8>) {
    for i in 0..3 + rng.below(10) {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(rng.pick(COMMENT).as_bytes());
    }
}

fn url(rng: &mut Rng, out: &mut Vec<u8>) {
    out.extend_from_slice(b"https://");
    out.extend_from_slice(rng.pick(HOSTS).as_bytes());
    out.push(b'/');
    out.extend_from_slice(rng.pick(WORDS).as_bytes());
    out.push(b'/');
    out.extend_from_slice(rng.pick(WORDS).as_bytes());
}

/// A fake credential of a kind some rule reports, so the full match path
/// (regex, entropy, validator, line/column) runs a few times per input.
fn fake_secret(rng: &mut Rng, out: &mut Vec<u8>) {
    match rng.below(3) {
        0 => {
            out.extend_from_slice(b"aws_access_key_id = AKIA");
            rng.push_from(out, UPPER_ALNUM, 16);
            out.extend_from_slice(b"\naws_secret_access_key = ");
            rng.push_from(out, B64, 40);
        }
        1 => {
            out.extend_from_slice(b"SLACK_BOT_TOKEN=xoxb-");
            rng.push_from(out, b"0123456789", 12);
            out.push(b'-');
            rng.push_from(out, b"0123456789", 13);
            out.push(b'-');
            rng.push_from(out, ALNUM, 24);
        }
        _ => {
            out.extend_from_slice(b"DB_PASSWORD=");
            rng.push_from(out, ALNUM, 20);
        }
    }
    out.push(b'\n');
}

fn rust_block(rng: &mut Rng, out: &mut Vec<u8>) {
    out.extend_from_slice(b"/// ");
    comment(rng, out);
    out.extend_from_slice(b"\npub fn ");
    ident(rng, out);
    out.extend_from_slice(b"(&self, ");
    ident(rng, out);
    out.extend_from_slice(b": &str) -> Result<");
    out.extend_from_slice(rng.pick(TYPES).as_bytes());
    out.extend_from_slice(b", Error> {\n");
    for _ in 0..3 + rng.below(12) {
        out.extend_from_slice(b"    ");
        match rng.below(7) {
            0 => {
                out.extend_from_slice(b"let ");
                ident(rng, out);
                out.extend_from_slice(b" = self.");
                ident(rng, out);
                out.extend_from_slice(b".get(\"");
                ident(rng, out);
                out.extend_from_slice(b"\")?;\n");
            }
            1 => {
                out.extend_from_slice(b"if ");
                ident(rng, out);
                out.extend_from_slice(
                    format!(".len() > {} {{ return Err(Error::", rng.below(4096)).as_bytes(),
                );
                out.extend_from_slice(rng.pick(TYPES).as_bytes());
                out.extend_from_slice(b"); }\n");
            }
            2 => {
                out.extend_from_slice(b"// ");
                comment(rng, out);
                out.push(b'\n');
            }
            3 => {
                out.extend_from_slice(
                    b"let token = self.config.token.clone().unwrap_or_default();\n",
                );
            }
            4 => {
                out.extend_from_slice(b"let url = format!(\"");
                url(rng, out);
                out.extend_from_slice(b"/{}\", ");
                ident(rng, out);
                out.extend_from_slice(b");\n");
            }
            5 => {
                out.extend_from_slice(b"self.");
                ident(rng, out);
                out.extend_from_slice(b".insert(");
                ident(rng, out);
                out.extend_from_slice(b".key(), ");
                ident(rng, out);
                out.extend_from_slice(b");\n");
            }
            _ => {
                out.extend_from_slice(b"let password = std::env::var(\"APP_PASSWORD\").ok();\n");
            }
        }
    }
    out.extend_from_slice(b"    Ok(");
    ident(rng, out);
    out.extend_from_slice(b")\n}\n\n");
}

fn python_block(rng: &mut Rng, out: &mut Vec<u8>) {
    out.extend_from_slice(b"def ");
    ident(rng, out);
    out.extend_from_slice(b"(self, ");
    ident(rng, out);
    out.extend_from_slice(b", timeout=None):\n    \"\"\"");
    comment(rng, out);
    out.extend_from_slice(b".\"\"\"\n");
    for _ in 0..3 + rng.below(10) {
        out.extend_from_slice(b"    ");
        match rng.below(6) {
            0 => {
                out.extend_from_slice(b"self.");
                ident(rng, out);
                out.extend_from_slice(b" = kwargs.get(\"");
                ident(rng, out);
                out.extend_from_slice(b"\")\n");
            }
            1 => {
                out.extend_from_slice(b"headers = {\"Authorization\": f\"Bearer {self.token}\"}\n")
            }
            2 => out.extend_from_slice(b"api_key = os.environ.get(\"API_KEY\", \"\")\n"),
            3 => {
                out.extend_from_slice(b"resp = session.get(\"");
                url(rng, out);
                out.extend_from_slice(b"\", timeout=timeout)\n");
            }
            4 => {
                out.extend_from_slice(b"# ");
                comment(rng, out);
                out.push(b'\n');
            }
            _ => {
                out.extend_from_slice(b"if not ");
                ident(rng, out);
                out.extend_from_slice(b":\n        raise ValueError(\"");
                comment(rng, out);
                out.extend_from_slice(b"\")\n");
            }
        }
    }
    out.extend_from_slice(b"    return ");
    ident(rng, out);
    out.extend_from_slice(b"\n\n");
}

fn js_block(rng: &mut Rng, out: &mut Vec<u8>) {
    out.extend_from_slice(b"export async function ");
    ident(rng, out);
    out.extend_from_slice(b"(");
    ident(rng, out);
    out.extend_from_slice(b", options = {}) {\n");
    for _ in 0..3 + rng.below(10) {
        out.extend_from_slice(b"  ");
        match rng.below(5) {
            0 => {
                out.extend_from_slice(b"const ");
                ident(rng, out);
                out.extend_from_slice(b" = await fetch(`");
                url(rng, out);
                out.extend_from_slice(
                    b"`, { headers: { Authorization: `token ${options.token}` } });\n",
                );
            }
            1 => {
                out.extend_from_slice(b"if (!options.");
                ident(rng, out);
                out.extend_from_slice(b") throw new Error('");
                comment(rng, out);
                out.extend_from_slice(b"');\n");
            }
            2 => out.extend_from_slice(
                b"const { password, ...rest } = await db.users.findOne({ id });\n",
            ),
            3 => {
                out.extend_from_slice(b"// ");
                comment(rng, out);
                out.push(b'\n');
            }
            _ => {
                out.extend_from_slice(b"cache.set(key, ");
                ident(rng, out);
                out.extend_from_slice(b");\n");
            }
        }
    }
    out.extend_from_slice(b"  return ");
    ident(rng, out);
    out.extend_from_slice(b";\n}\n\n");
}

fn json_block(rng: &mut Rng, out: &mut Vec<u8>) {
    // package-lock.json style: names, versions, URLs and integrity hashes.
    out.extend_from_slice(b"{\n  \"packages\": {\n");
    for i in 0..5 + rng.below(20) {
        if i > 0 {
            out.extend_from_slice(b",\n");
        }
        out.extend_from_slice(b"    \"node_modules/");
        ident(rng, out);
        out.extend_from_slice(
            format!(
                "\": {{\n      \"version\": \"{}.{}.{}\",\n",
                rng.below(20),
                rng.below(50),
                rng.below(100)
            )
            .as_bytes(),
        );
        out.extend_from_slice(b"      \"resolved\": \"https://registry.npmjs.org/");
        ident(rng, out);
        out.extend_from_slice(b".tgz\",\n      \"integrity\": \"sha512-");
        rng.push_from(out, B64, 86);
        out.extend_from_slice(b"==\",\n      \"");
        out.extend_from_slice(rng.pick(&["dev", "optional", "peer"]).as_bytes());
        out.extend_from_slice(b"\": true\n    }");
    }
    out.extend_from_slice(b"\n  },\n  \"config\": { \"token\": \"${NPM_TOKEN}\", \"key\": \"");
    rng.push_from(out, HEX, 40);
    out.extend_from_slice(b"\" }\n}\n");
}

fn env_block(rng: &mut Rng, out: &mut Vec<u8>) {
    out.extend_from_slice(b"# ");
    comment(rng, out);
    out.push(b'\n');
    for _ in 0..3 + rng.below(8) {
        match rng.below(5) {
            0 => out.extend_from_slice(b"DB_PASSWORD=${DB_PASSWORD}\n"),
            1 => out.extend_from_slice(b"api_token: \"{{ vault_api_token }}\"\n"),
            2 => {
                out.extend_from_slice(b"service_url: ");
                url(rng, out);
                out.push(b'\n');
            }
            3 => out.extend_from_slice(b"secret_key: changeme\n"),
            _ => {
                ident(rng, out);
                out.extend_from_slice(format!(": {}\n", rng.below(100_000)).as_bytes());
            }
        }
    }
    out.push(b'\n');
}

fn gen_source(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(len + 4096);
    while out.len() < len {
        match rng.below(100) {
            0..=29 => rust_block(&mut rng, &mut out),
            30..=54 => python_block(&mut rng, &mut out),
            55..=79 => js_block(&mut rng, &mut out),
            80..=89 => json_block(&mut rng, &mut out),
            _ => env_block(&mut rng, &mut out),
        }
        // About one real-looking credential per 300 KB.
        if rng.below(1000) < 3 {
            fake_secret(&mut rng, &mut out);
        }
    }
    out.truncate(len);
    out
}

fn gen_minified(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(len + 4096);
    out.extend_from_slice(b"!function(e,t){\"use strict\";");
    let short = |rng: &mut Rng, out: &mut Vec<u8>| {
        out.push(b"abcdefghijklmnopqrstuvwxyz$_"[rng.below(28)]);
        if rng.chance(50) {
            out.push(ALNUM[rng.below(ALNUM.len())]);
        }
    };
    while out.len() < len {
        match rng.below(10) {
            0 | 1 => {
                out.extend_from_slice(b"var ");
                short(&mut rng, &mut out);
                out.extend_from_slice(b"=function(");
                short(&mut rng, &mut out);
                out.push(b',');
                short(&mut rng, &mut out);
                out.extend_from_slice(b"){return ");
                short(&mut rng, &mut out);
                out.push(b'.');
                out.extend_from_slice(rng.pick(WORDS).as_bytes());
                out.extend_from_slice(b"||");
                short(&mut rng, &mut out);
                out.extend_from_slice(b"};");
            }
            2 | 3 => {
                out.push(b'{');
                for i in 0..2 + rng.below(5) {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(rng.pick(WORDS).as_bytes());
                    out.extend_from_slice(b":\"");
                    comment(&mut rng, &mut out);
                    out.push(b'"');
                }
                out.extend_from_slice(b"};");
            }
            4 => {
                out.extend_from_slice(b"fetch(\"");
                url(&mut rng, &mut out);
                out.extend_from_slice(b"\",{headers:{Authorization:\"Bearer \"+");
                short(&mut rng, &mut out);
                out.extend_from_slice(b".token}});");
            }
            5 => {
                out.extend_from_slice(b"if(!");
                short(&mut rng, &mut out);
                out.extend_from_slice(b".apiKey)throw new Error(\"missing api key\");");
            }
            6 => {
                out.extend_from_slice(b"for(var ");
                short(&mut rng, &mut out);
                out.extend_from_slice(format!("=0;i<{};i++)", rng.below(256)).as_bytes());
                short(&mut rng, &mut out);
                out.extend_from_slice(b"[i]^=");
                short(&mut rng, &mut out);
                out.extend_from_slice(b"[i];");
            }
            7 => {
                // Inlined data URIs and hashes, as bundles carry.
                out.extend_from_slice(b"var ");
                short(&mut rng, &mut out);
                out.extend_from_slice(b"=\"data:image/png;base64,");
                let n = 64 + rng.below(512);
                rng.push_from(&mut out, B64, n);
                out.extend_from_slice(b"\";");
            }
            _ => {
                short(&mut rng, &mut out);
                out.push(b'.');
                out.extend_from_slice(rng.pick(WORDS).as_bytes());
                out.push(b'=');
                short(&mut rng, &mut out);
                out.extend_from_slice(b".password?");
                short(&mut rng, &mut out);
                out.extend_from_slice(b":null,");
            }
        }
    }
    out.truncate(len);
    out
}

fn gen_binary(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        out.extend_from_slice(&rng.next().to_le_bytes());
    }
    out.truncate(len);
    out
}
