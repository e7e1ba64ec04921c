#!/usr/bin/env bash
# Whole-process, side-by-side benchmark of strata against other tools.
#
# What it measures: wall time and peak RSS of complete runs (`strata scan DIR`
# as a user would type it, report included) over one real-world corpus of
# ~1.2 GB: crate sources, a real node_modules, a Python site-packages,
# minified JS bundles and ELF binaries, with ~20 fake secrets planted in it.
# Next to strata it times ripgrep searching for a string that is not there
# (`rg -uuu`), the "just read every byte" floor, and any other secret scanner
# found on PATH (gitleaks, kingfisher, betterleaks, trivy). Every tool gets
# the same corpus, 2 threads where it has a thread option, and a warm page
# cache (one read pass first; no cache dropping, which would need root
# tricks): the numbers are CPU throughput, not disk speed.
#
# Why: the divan micro-benchmark (benches/benches/engine.rs) isolates the
# engine on synthetic inputs; this says what a user sees end to end — walker,
# archive handling, the mix of real files, start-up and report — and how far
# strata is from the read-it-all floor and from the other scanners.
#
# Usage: benches/macro/run.sh [--corpus DIR] [--size-gb N] [--runs N] [--corpus-only]
#   --corpus DIR    corpus directory (default ${TMPDIR:-/tmp}/strata-corpus);
#                   built (or topped up) from offline material if it is
#                   missing or smaller than --size-gb
#   --size-gb N     corpus size in GB of 10^9 bytes (default 1.2)
#   --runs N        timed runs per tool, interleaved (strata, rg, …, strata,
#                   rg, …), median reported (default 3)
#   --corpus-only   build the corpus, print its composition and stop
# Output: a table on stdout and benches/macro/results.json (gitignored).
# MB here is 10^6 bytes, as in strata's own `mb_per_second`.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
CORPUS="${TMPDIR:-/tmp}/strata-corpus"
SIZE_GB=1.2
RUNS=3
CORPUS_ONLY=0
THREADS=2
NEEDLE='ZQXJ_NOT_PRESENT_9f2c'

while [[ $# -gt 0 ]]; do
    case "$1" in
        --corpus) CORPUS=$2; shift 2 ;;
        --corpus=*) CORPUS=${1#*=}; shift ;;
        --size-gb) SIZE_GB=$2; shift 2 ;;
        --size-gb=*) SIZE_GB=${1#*=}; shift ;;
        --runs) RUNS=$2; shift 2 ;;
        --runs=*) RUNS=${1#*=}; shift ;;
        --corpus-only) CORPUS_ONLY=1; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done

CORPUS=$(mkdir -p "$(dirname "$CORPUS")" && cd "$(dirname "$CORPUS")" && pwd)/$(basename "$CORPUS")
# Bookkeeping lives beside the corpus, never inside it, so no tool scans it.
META="${CORPUS}.meta"
TARGET_BYTES=$(awk -v g="$SIZE_GB" 'BEGIN { printf "%.0f", g * 1e9 }')
RESULTS_JSON="$SCRIPT_DIR/results.json"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/strata-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

log() { printf '%s\n' "$*" >&2; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'; }
corpus_bytes() { { find "$CORPUS" -type f -printf '%s\n' 2>/dev/null || true; } | awk '{ s += $1 } END { printf "%.0f", s }'; }
corpus_files() { { find "$CORPUS" -type f 2>/dev/null || true; } | wc -l; }
remaining() { local have; have=$(corpus_bytes); echo $(( TARGET_BYTES > have ? TARGET_BYTES - have : 0 )); }

apt_install() {
    # Only tools the benchmark itself needs; root is assumed (as on CI).
    if ! command -v apt-get >/dev/null; then return 1; fi
    local sudo=""
    [[ $(id -u) -eq 0 ]] || sudo="sudo"
    $sudo apt-get install -y "$@" >/dev/null 2>&1 || { $sudo apt-get update >/dev/null 2>&1 && $sudo apt-get install -y "$@" >/dev/null 2>&1; }
}

# ---------------------------------------------------------------- corpus

# copy_capped SRC DEST CAP_BYTES: copy regular files of SRC (recursively,
# paths kept) into DEST until CAP_BYTES are copied. Unreadable files are
# skipped.
copy_capped() {
    local src=$1 dest=$2 cap=$3 list="$WORK/list.$$"
    [[ -d "$src" && "$cap" -gt 0 ]] || return 0
    mkdir -p "$dest"
    find "$src" -type f -readable -printf '%s\t%P\n' 2>/dev/null \
        | sort -t$'\t' -k2 \
        | awk -F'\t' -v cap="$cap" '{ if (s + $1 > cap) next; s += $1; print $2 }' >"$list"
    [[ -s "$list" ]] || return 0
    tar -C "$src" --ignore-failed-read --no-recursion --verbatim-files-from -T "$list" -cf - 2>/dev/null \
        | tar -C "$dest" -xf - 2>/dev/null || true
}

step_done() { [[ -e "$META/$1.done" ]]; }
mark_done() { touch "$META/$1.done"; }

build_crates() {
    step_done crates && return 0
    log "  crate sources from ~/.cargo/registry/src"
    local src
    for src in "$HOME"/.cargo/registry/src/*/; do
        [[ -d "$src" ]] && copy_capped "$src" "$CORPUS/crates" "$(remaining)"
    done
    mark_done crates
}

# Chosen to land near 600 MB with a mix of plain JS, TypeScript typings,
# source maps, minified builds and the native binaries next/typescript ship.
NPM_PACKAGES=(typescript webpack eslint @babel/core lodash react react-dom next
    @aws-sdk/client-s3 rxjs moment three monaco-editor @angular/core)
build_node() {
    step_done node || [[ $(remaining) -eq 0 ]] && return 0
    if ! command -v npm >/dev/null; then log "  npm not found: no node_modules"; mark_done node; return 0; fi
    log "  node_modules: npm install ${NPM_PACKAGES[*]}"
    mkdir -p "$CORPUS/node-app"
    (
        cd "$CORPUS/node-app"
        [[ -f package.json ]] || npm init -y >/dev/null 2>&1
        if ! npm install --no-audit --no-fund --ignore-scripts "${NPM_PACKAGES[@]}" >"$WORK/npm.log" 2>&1; then
            log "    installing all at once failed; one by one, skipping failures"
            for p in "${NPM_PACKAGES[@]}"; do
                npm install --no-audit --no-fund --ignore-scripts "$p" >>"$WORK/npm.log" 2>&1 \
                    || log "    skipped $p (npm install failed)"
            done
        fi
    )
    mark_done node
}

PIP_PACKAGES=(boto3 botocore numpy pandas requests django sqlalchemy)
build_python() {
    step_done python || [[ $(remaining) -eq 0 ]] && return 0
    local pip=""
    if command -v pip3 >/dev/null; then pip=pip3; elif command -v pip >/dev/null; then pip=pip; fi
    if [[ -z "$pip" ]]; then log "  pip not found: no site-packages"; mark_done python; return 0; fi
    log "  site-packages: pip install --target ${PIP_PACKAGES[*]}"
    if ! "$pip" install --quiet --disable-pip-version-check --target "$CORPUS/site-packages" \
        "${PIP_PACKAGES[@]}" >"$WORK/pip.log" 2>&1; then
        log "    installing all at once failed; one by one, skipping failures"
        for p in "${PIP_PACKAGES[@]}"; do
            "$pip" install --quiet --disable-pip-version-check --upgrade --target "$CORPUS/site-packages" "$p" \
                >>"$WORK/pip.log" 2>&1 || log "    skipped $p (pip install failed)"
        done
    fi
    mark_done python
}

# Minified JS: the minified files the packages brought (*.min.js, and any
# .js whose average line is longer than 300 bytes: monaco's min/ build,
# next's dist/compiled, production builds), copied up to a quarter of what
# the corpus still needs (at least 20 MB), plus four ~16 MB one-line bundles
# concatenated from them (the shape of a webpack production build).
build_minified() {
    step_done minified && return 0
    log "  minified JS: minified files from node_modules/site-packages, plus one-line bundles"
    local cap
    cap=$(( $(remaining) / 4 )); (( cap >= 20000000 )) || cap=20000000
    python3 - "$CORPUS" "$cap" <<'PY'
import os, random, sys
root, cap = sys.argv[1], int(sys.argv[2])
dest = os.path.join(root, "minified")
os.makedirs(os.path.join(dest, "bundles"), exist_ok=True)
found = []
for top in ("node-app", "site-packages"):
    for d, dirs, names in os.walk(os.path.join(root, top)):
        dirs.sort()
        for n in sorted(names):
            if not n.endswith((".js", ".mjs", ".cjs")):
                continue
            p = os.path.join(d, n)
            try:
                size = os.path.getsize(p)
                if os.path.islink(p) or not 20_000 <= size <= 20_000_000:
                    continue
                with open(p, "rb") as f:
                    data = f.read()
            except OSError:
                continue
            if n.endswith((".min.js", ".min.mjs")) or len(data) / (data.count(b"\n") + 1) > 300:
                found.append(p)
copied = 0
for i, p in enumerate(found):
    size = os.path.getsize(p)
    if copied + size > cap:
        continue
    with open(p, "rb") as src, open(os.path.join(dest, f"{i:05d}-{os.path.basename(p)}"), "wb") as out:
        out.write(src.read())
    copied += size
rng = random.Random(7)
for b in range(1, 5):
    order = found[:]
    rng.shuffle(order)
    with open(os.path.join(dest, "bundles", f"app.{b}.bundle.min.js"), "wb") as out:
        written = 0
        for p in order:
            with open(p, "rb") as f:
                data = f.read().replace(b"\n", b";")
            out.write(data)
            written += len(data)
            if written >= 16_000_000:
                break
print(f"    {len(found)} minified files found, {copied / 1e6:.1f} MB copied, 4 bundles", file=sys.stderr)
PY
    mark_done minified
}

# Binaries: /usr/bin and shared libraries: what the corpus still needs, at
# least 100 MB (every corpus has some) and at most 200 MB (the packages above
# bring ~200 MB of native code already).
build_binaries() {
    step_done binaries && return 0
    log "  binaries: /usr/bin and /usr/lib/x86_64-linux-gnu/*.so*"
    local cap
    cap=$(remaining)
    (( cap >= 100000000 )) || cap=100000000
    (( cap <= 200000000 )) || cap=200000000
    copy_capped /usr/bin "$CORPUS/bin/usr-bin" $(( cap / 2 ))
    local libdir=/usr/lib/x86_64-linux-gnu list="$WORK/solist" left
    left=$(( cap - $(find "$CORPUS/bin" -type f -printf '%s\n' | awk '{ s += $1 } END { printf "%.0f", s }') ))
    if [[ -d "$libdir" && $left -gt 0 ]]; then
        mkdir -p "$CORPUS/bin/lib"
        find "$libdir" -maxdepth 1 -type f -name '*.so*' -printf '%s\t%f\n' | sort -t$'\t' -k2 \
            | awk -F'\t' -v cap="$left" '{ if (s + $1 > cap) next; s += $1; print $2 }' >"$list"
        tar -C "$libdir" --no-recursion --verbatim-files-from -T "$list" -cf - 2>/dev/null \
            | tar -C "$CORPUS/bin/lib" -xf - 2>/dev/null || true
    fi
    mark_done binaries
}

# Top-up with more real, offline material until the corpus reaches its size:
# the Python standard library, C headers, /usr/share, the Rust toolchain.
build_fill() {
    local src i=0
    for src in "$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])' 2>/dev/null || true)" \
        /usr/include /usr/share /usr/lib/gcc "$HOME"/.rustup/toolchains/*/lib/rustlib; do
        # Within 0.5% is close enough (avoids topping up with thousands of tiny files).
        [[ $(remaining) -gt $(( TARGET_BYTES / 200 )) ]] || return 0
        [[ -n "$src" && -d "$src" ]] || continue
        i=$(( i + 1 ))
        step_done "fill-$i" && continue
        log "  top-up: $src"
        copy_capped "$src" "$CORPUS/extra/$i-$(basename "$src")" "$(remaining)"
        mark_done "fill-$i"
    done
    # Last resort: copies of the crate sources.
    local k=2
    while [[ $(remaining) -gt $(( TARGET_BYTES / 200 )) && -d "$CORPUS/crates" && $k -lt 50 ]]; do
        log "  top-up: crate sources, copy $k"
        copy_capped "$CORPUS/crates" "$CORPUS/extra/crates-copy$k" "$(remaining)"
        k=$(( k + 1 ))
    done
}

# Plant fake secrets in random text files: 5 each of AWS key id + secret,
# GitHub classic PAT (valid checksum), Slack bot token, RSA PEM block.
plant_secrets() {
    step_done planted && return 0
    log "  planting 20 fake secrets"
    python3 - "$CORPUS" "$META/planted.tsv" <<'PY'
import base64, os, random, sys, zlib
root, manifest = sys.argv[1], sys.argv[2]
rng = random.Random(20261122)
exts = (".py", ".js", ".ts", ".rs", ".toml", ".md", ".txt", ".yml", ".yaml", ".json", ".cfg", ".sh")
files = []
for d, dirs, names in os.walk(root):
    dirs.sort()
    for n in sorted(names):
        p = os.path.join(d, n)
        if n.endswith(exts) and not os.path.islink(p):
            try:
                if 200 < os.path.getsize(p) < 1_000_000:
                    files.append(p)
            except OSError:
                pass
B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
def s(alphabet, n): return "".join(rng.choice(alphabet) for _ in range(n))
def b62_six(v):
    out = ""
    for _ in range(6):
        out = B62[v % 62] + out; v //= 62
    return out
def aws():
    return ("aws_access_key_id = AKIA" + s("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16) + "\n"
            "aws_secret_access_key = " + s(B62 + "/+", 40) + "\n")
def github():
    r = s(B62, 30)
    return "GITHUB_TOKEN=ghp_" + r + b62_six(zlib.crc32(r.encode())) + "\n"
def slack():
    return "SLACK_BOT_TOKEN=xoxb-" + s("0123456789", 12) + "-" + s("0123456789", 13) + "-" + s(B62, 24) + "\n"
def pem():
    body = base64.b64encode(rng.randbytes(900)).decode()
    lines = "\n".join(body[i:i + 64] for i in range(0, len(body), 64))
    return "-----BEGIN RSA PRIVATE KEY-----\n" + lines + "\n-----END RSA PRIVATE KEY-----\n"
kinds = [("aws", aws), ("github", github), ("slack", slack), ("pem", pem)] * 5
chosen = rng.sample(files, min(len(kinds), len(files)))
with open(manifest, "w") as m:
    for path, (kind, make) in zip(chosen, kinds):
        with open(path, "a") as f:
            f.write("\n" + make())
        m.write(f"{kind}\t{os.path.relpath(path, root)}\n")
print(f"  planted {len(chosen)} secrets in {len(files)} candidate text files", file=sys.stderr)
PY
    mark_done planted
}

composition() {
    local total
    total=$(corpus_bytes)
    echo "Corpus $CORPUS: $(corpus_files) files, $total bytes ($(mb "$total") MB)"
    echo "  by top-level directory:"
    find "$CORPUS" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort | while IFS= read -r d; do
        printf '    %-16s %10s MB %8s files\n' "$d" \
            "$(mb "$(find "$CORPUS/$d" -type f -printf '%s\n' | awk '{ s += $1 } END { printf "%.0f", s }')")" \
            "$(find "$CORPUS/$d" -type f | wc -l)"
    done
    echo "  by kind (file name, ELF magic; minified = .js averaging >300 bytes a line):"
    find "$CORPUS" -type f -printf '%s\t%p\n' | python3 -c '
import sys
kinds = {}
def kind(p):
    n = p.rsplit("/", 1)[-1].lower()
    if n.endswith((".min.js", ".min.mjs", ".bundle.js")): return "minified js"
    try:
        with open(p, "rb") as f: head = f.read(4)
    except OSError: return "unreadable"
    if head == b"\x7fELF": return "ELF binary"
    if n.endswith((".js", ".mjs", ".cjs")):
        with open(p, "rb") as f: data = f.read()
        if len(data) > 20000 and len(data) / (data.count(b"\n") + 1) > 300: return "minified js"
    if n.endswith((".js", ".mjs", ".cjs", ".ts", ".tsx", ".jsx", ".map")): return "js/ts (+maps)"
    if n.endswith((".py", ".pyi")): return "python source"
    if n.endswith(".pyc"): return "python bytecode"
    if n.endswith(".rs"): return "rust source"
    if n.endswith((".c", ".h", ".cc", ".cpp", ".hpp")): return "c/c++ source"
    if n.endswith((".json", ".toml", ".yml", ".yaml", ".md", ".txt", ".html", ".css", ".rst")): return "docs/config text"
    if n.endswith((".gz", ".zip", ".tgz", ".jar", ".whl", ".xz", ".bz2", ".zst", ".rlib", ".a")): return "archives/rlib"
    return "other"
for line in sys.stdin:
    size, path = line.rstrip("\n").split("\t", 1)
    k = kind(path)
    b, c = kinds.get(k, (0, 0))
    kinds[k] = (b + int(size), c + 1)
for k, (b, c) in sorted(kinds.items(), key=lambda kv: -kv[1][0]):
    print(f"    {k:<18} {b/1e6:10.1f} MB {c:8d} files")
'
}

build_corpus() {
    local have
    have=$(corpus_bytes)
    # Within 0.5% of the size counts as complete.
    if [[ -d "$CORPUS" && $have -ge $(( TARGET_BYTES - TARGET_BYTES / 200 )) ]]; then
        log "Corpus $CORPUS already has $(mb "$have") MB (>= $(mb "$TARGET_BYTES") MB): using it as is"
        return 0
    fi
    log "Building corpus $CORPUS up to $(mb "$TARGET_BYTES") MB (has $(mb "${have:-0}") MB)"
    mkdir -p "$CORPUS" "$META"
    build_crates
    build_node
    build_python
    build_minified
    build_binaries
    build_fill
    plant_secrets
}

build_corpus
composition
if [[ $CORPUS_ONLY -eq 1 ]]; then exit 0; fi

# ---------------------------------------------------------------- tools

STRATA="$REPO_ROOT/target/release/strata"
if [[ ! -x "$STRATA" ]]; then
    log "Building strata (cargo build --release -p strata-cli)"
    (cd "$REPO_ROOT" && cargo build --release -p strata-cli)
fi
command -v rg >/dev/null || { log "Installing ripgrep"; apt_install ripgrep; }
[[ -x /usr/bin/time ]] || { log "Installing time"; apt_install time; }
command -v rg >/dev/null || { log "ripgrep is required"; exit 1; }
[[ -x /usr/bin/time ]] || { log "/usr/bin/time is required"; exit 1; }

# Tool list: name and command (the corpus path is substituted for @DIR@).
TOOLS=()
CMDS=()
add_tool() { TOOLS+=("$1"); CMDS+=("$2"); }
add_tool strata "$STRATA scan @DIR@ --format json -o /dev/null -j $THREADS"
add_tool rg "rg -uuu --no-messages -c -j$THREADS $NEEDLE @DIR@"
if command -v gitleaks >/dev/null; then
    if gitleaks dir --help >/dev/null 2>&1; then
        add_tool gitleaks "gitleaks dir @DIR@ --no-banner --report-path /dev/null --exit-code 0"
    else
        add_tool gitleaks "gitleaks detect --no-git -s @DIR@ --no-banner --report-path /dev/null --exit-code 0"
    fi
fi
if command -v kingfisher >/dev/null; then
    kf_help=$(kingfisher scan --help 2>&1 || true)
    kf="kingfisher scan @DIR@"
    grep -q -- '--num-jobs' <<<"$kf_help" && kf+=" --num-jobs $THREADS"
    grep -q -- '--no-validate' <<<"$kf_help" && kf+=" --no-validate"
    grep -q -- '--no-update-check' <<<"$kf_help" && kf+=" --no-update-check"
    add_tool kingfisher "$kf"
fi
if command -v betterleaks >/dev/null; then
    add_tool betterleaks "betterleaks dir @DIR@ --no-banner --report-path /dev/null --exit-code 0"
fi
if command -v trivy >/dev/null; then
    add_tool trivy "trivy fs --scanners secret --parallel $THREADS --cache-dir $WORK/trivy-cache --quiet @DIR@"
fi

CORPUS_BYTES=$(corpus_bytes)
CORPUS_FILES=$(corpus_files)

log "Warm-up: one read pass over the corpus so every tool runs on a warm page cache (no cache dropping)"
find "$CORPUS" -type f -print0 | xargs -0 -n 256 cat >/dev/null 2>&1 || true
echo "Page cache: warmed by one full read pass before timing (caches are not dropped)."

# Interleaved runs (see timing.sh): strata, rg, …, strata, rg, …
# shellcheck source=benches/timing.sh
source "$SCRIPT_DIR/../timing.sh"
declare -A MEDIAN PEAK RC
for idx in "${!TOOLS[@]}"; do
    log "Timing ${TOOLS[$idx]}: ${CMDS[$idx]//@DIR@/$CORPUS}"
    : >"$WORK/runs.${TOOLS[$idx]}"
done
for (( round = 1; round <= RUNS; round++ )); do
    for idx in "${!TOOLS[@]}"; do
        name=${TOOLS[$idx]}
        time_once "$name run $round" "$WORK/runs.$name" /dev/null "${CMDS[$idx]//@DIR@/$CORPUS}"
    done
done
for name in "${TOOLS[@]}"; do
    read -r "MEDIAN[$name]" "PEAK[$name]" "RC[$name]" < <(summarize "$WORK/runs.$name")
done

# Start-up: strata over an empty directory, median of 5.
EMPTY="$WORK/empty"
mkdir -p "$EMPTY"
startup=()
for i in 1 2 3 4 5; do
    /usr/bin/time -f '%e %M' -o "$WORK/st" "$STRATA" scan "$EMPTY" --format json -o /dev/null >/dev/null 2>&1 || true
    startup+=("$(awk '{ print $1 }' "$WORK/st")")
done
STARTUP=$(printf '%s\n' "${startup[@]}" | sort -g | sed -n 3p)
STARTUP_RSS=$(awk '{ print $2 }' "$WORK/st")

# One more, untimed strata run keeping its JSON report: sanity checks.
"$STRATA" scan "$CORPUS" --format json -o "$WORK/strata.json" -j "$THREADS" >/dev/null 2>&1 || true
CHECK=$(python3 - "$WORK/strata.json" "$META/planted.tsv" "$CORPUS_BYTES" <<'PY'
import collections, json, os, sys
report, manifest, corpus_bytes = sys.argv[1], sys.argv[2], int(sys.argv[3])
try:
    r = json.load(open(report))
except Exception as e:
    print(json.dumps({"error": f"strata JSON report unreadable: {e}"})); sys.exit()
s = r.get("summary", {})
paths = collections.Counter(os.path.normpath(f.get("path", "")) for f in r.get("findings", []))
by_rule = collections.Counter(f.get("rule_id") for f in r.get("findings", []))
planted = found = 0
missed = []
if os.path.exists(manifest):
    for line in open(manifest):
        kind, rel = line.rstrip("\n").split("\t", 1)
        planted += 1
        if any(p.endswith(rel) for p in paths):
            found += 1
        else:
            missed.append(f"{kind}:{rel}")
print(json.dumps({
    "summary": s,
    "bytes_scanned_vs_corpus": round(s.get("bytes_scanned", 0) / corpus_bytes, 3) if corpus_bytes else None,
    "top_rules": by_rule.most_common(10),
    "planted": planted, "planted_found": found, "planted_missed": missed[:20],
    "errors_sample": r.get("errors", [])[:5], "skipped_sample": r.get("skipped", [])[:5],
}))
PY
)

# ---------------------------------------------------------------- report

TABLE="$WORK/table.tsv"
: >"$TABLE"
for name in "${TOOLS[@]}"; do
    printf '%s\t%s\t%s\t%s\n' "$name" "${MEDIAN[$name]}" "${PEAK[$name]}" "${RC[$name]}" >>"$TABLE"
done
python3 - "$TABLE" "$RESULTS_JSON" "$CORPUS" "$CORPUS_FILES" "$CORPUS_BYTES" "$RUNS" "$THREADS" \
    "$STARTUP" "$STARTUP_RSS" "$CHECK" <<'PY'
import datetime, json, os, sys
table, out, corpus, files, nbytes, runs, threads, startup, startup_rss, check = sys.argv[1:]
files, nbytes, runs, threads = int(files), int(nbytes), int(runs), int(threads)
check = json.loads(check)
rows = []
for line in open(table):
    name, median, peak_kb, rc = line.rstrip("\n").split("\t")
    median = float(median)
    rows.append({"tool": name, "median_seconds": median,
                 "mb_per_second": round(nbytes / 1e6 / median, 1) if median > 0 else None,
                 "peak_rss_mb": round(int(peak_kb) / 1024, 1), "exit_code": int(rc)})
rg = next((r for r in rows if r["tool"] == "rg"), None)
for r in rows:
    r["ratio_vs_rg_throughput"] = (round(r["mb_per_second"] / rg["mb_per_second"], 3)
                                   if rg and rg["mb_per_second"] and r["mb_per_second"] else None)
print()
print(f"Corpus: {files} files, {nbytes / 1e6:.1f} MB; {threads} threads; median of {runs} interleaved runs; "
      f"{os.cpu_count()} cores; warm page cache")
print(f"{'tool':<12} {'median s':>9} {'MB/s':>8} {'peak RSS MB':>12} {'vs rg tput':>11} {'exit':>5}")
for r in rows:
    ratio = f"{r['ratio_vs_rg_throughput']:.3f}x" if r["ratio_vs_rg_throughput"] is not None else "-"
    print(f"{r['tool']:<12} {r['median_seconds']:>9.2f} {r['mb_per_second'] or 0:>8.1f} "
          f"{r['peak_rss_mb']:>12.1f} {ratio:>11} {r['exit_code']:>5}")
print("(rg = `rg -uuu` searching for a string that is not there: the read-everything floor)")
print(f"strata start-up (empty dir, median of 5): {float(startup):.3f}s, {int(startup_rss) / 1024:.1f} MB RSS")
if "error" in check:
    print("strata sanity check: " + check["error"])
else:
    s = check["summary"]
    print(f"strata sanity check: files_scanned={s.get('files_scanned')} bytes_scanned={s.get('bytes_scanned')} "
          f"({check['bytes_scanned_vs_corpus']}x corpus) findings={s.get('findings')} errors={s.get('errors')} "
          f"skipped={s.get('skipped')} complete={s.get('complete')} report_elapsed={s.get('elapsed_seconds')}s; "
          f"planted secrets found {check['planted_found']}/{check['planted']}")
    if check["planted_missed"]:
        print("  missed: " + ", ".join(check["planted_missed"]))
    print("  top rules: " + ", ".join(f"{r}={n}" for r, n in check["top_rules"]))
    for e in check["errors_sample"]:
        print(f"  error: {e}")
    for e in check["skipped_sample"]:
        print(f"  skipped: {e}")
json.dump({
    "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    "host": {"cores": os.cpu_count(), "threads_given": threads},
    "corpus": {"path": corpus, "files": files, "bytes": nbytes},
    "runs": runs, "page_cache": "warm (one read pass before timing)",
    "tools": rows,
    "strata_startup_seconds": float(startup),
    "strata_check": check,
}, open(out, "w"), indent=2)
PY
echo "Wrote $RESULTS_JSON"
