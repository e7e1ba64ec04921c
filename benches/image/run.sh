#!/usr/bin/env bash
# Container-image benchmark: `strata image` against its decode-only floor.
#
# What it measures: wall time (median of N runs) and peak RSS of
# `strata image ... --format json -o /dev/null -j 2` on one real image,
# read three ways: a `docker save`-style tar (docker-archive:), an OCI layout
# directory (oci:DIR:TAG) and a local registry over plain HTTP on loopback
# (127.0.0.1:PORT/bench:1). Next to each it times the "decode-only floor",
# crates/strata-sources/examples/decode_floor.rs: the same resolution code,
# the same blob sources, SHA-256 of the blob and of the decoded tar, the same
# gzip/zstd decoders, the same decoder-thread → channel → tar-walk pipeline
# and the same 2 threads over distinct layers — reading every regular entry
# into a sink instead of the engine. strata ÷ floor is what matching (and
# nested-archive handling) costs on top of the unavoidable work; a
# `strata-d0` run on the docker-archive input (--max-archive-depth 0) splits
# the two, since the floor never opens nested archives. A "bound" run
# (decode_floor --bound) adds to the floor only what strata's design cannot skip:
# nested gzip entries inflated and the keyword pass over every scanned
# byte, with no regex and no report; strata ÷ bound is what the rest of
# strata costs (regexes, line numbers, provenance, reports). trivy
# (`trivy image --input TAR --scanners secret`) and kingfisher (`kingfisher
# scan docker --archive TAR`) are timed too when they are on PATH.
#
# Why: the macro benchmark measures directories. Images add SHA-256, gzip
# and a per-layer pipeline whose throughput is bounded by one gzip stream
# per layer (a stream decodes serially). This says whether strata keeps up
# with its own decoder, and what a user scanning an image waits for.
#
# The image is built once and cached in ${TMPDIR:-/tmp}/strata-image-bench
# (--cache DIR), without docker:
#   layer 0  a real Debian rootfs: `debootstrap --variant=minbase bookworm`
#            (debootstrap is installed with apt if missing; apt caches are
#            cleaned as in the official images). If debootstrap fails the
#            base is assembled from this machine's /usr/lib, /usr/share and
#            /usr/bin instead (capped at 400 MB), and the script says so.
#   layer 1  an app: /app/site-packages copied from the macro corpus
#            (${TMPDIR:-/tmp}/strata-corpus/site-packages) if it exists,
#            otherwise `pip install --target` of a few packages; plus three
#            planted fake secrets: /app/.env (AWS key id + secret key),
#            /app/src/settings.py (GitHub ghp_ token) and /app/deploy/id_rsa
#            (RSA private key).
#   layer 2  deletes /app/deploy/id_rsa (whiteout `.wh.id_rsa`) and adds
#            /app/VERSION.
# Each layer is `tar --numeric-owner -C DIR -cf - . | gzip -6`; the config
# (rootfs.diff_ids, history), manifest, index.json and oci-layout are written
# by this script. skopeo (apt) then makes the docker-archive tar from the
# layout, and pushes the layout into Debian's `docker-registry` (apt), which
# the script starts on 127.0.0.1 on a free port with its storage in a temp
# dir, and stops at the end.
#
# Usage: benches/image/run.sh [--cache DIR] [--runs N] [--rebuild] [--image-only]
#   --cache DIR    where the rootfs and the image are kept (default
#                  ${TMPDIR:-/tmp}/strata-image-bench)
#   --runs N       timed runs per tool and input, interleaved (every input
#                  and tool once per round), median reported (default 3)
#   --rebuild      rebuild the image (the rootfs is kept)
#   --image-only   build the image, print its composition and stop
# Output: a table on stdout and benches/image/results.json (gitignored).
# MB is 10^6 bytes; MB/s is uncompressed layer tar bytes per second (the sum
# of the layers' decoded tar streams, as the floor measures it), the same
# figure for every tool on an input. The page cache is warm (one read pass
# over the image before timing; no cache dropping).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
CACHE="${TMPDIR:-/tmp}/strata-image-bench"
RUNS=3
REBUILD=0
IMAGE_ONLY=0
THREADS=2
TAG=bench

while [[ $# -gt 0 ]]; do
    case "$1" in
        --cache) CACHE=$2; shift 2 ;;
        --cache=*) CACHE=${1#*=}; shift ;;
        --runs) RUNS=$2; shift 2 ;;
        --runs=*) RUNS=${1#*=}; shift ;;
        --rebuild) REBUILD=1; shift ;;
        --image-only) IMAGE_ONLY=1; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done

mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)
ROOTFS="$CACHE/rootfs"
OCI="$CACHE/oci"
ARCHIVE="$CACHE/bench-docker-archive.tar"
RESULTS_JSON="$SCRIPT_DIR/results.json"
CORPUS="${TMPDIR:-/tmp}/strata-corpus"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/strata-image-bench-run.XXXXXX")
REGISTRY_PID=""
cleanup() {
    if [[ -n "$REGISTRY_PID" ]]; then
        kill "$REGISTRY_PID" 2>/dev/null || true
        wait "$REGISTRY_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

log() { printf '%s\n' "$*" >&2; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'; }
dir_bytes() { { find "$1" -type f -printf '%s\n' 2>/dev/null || true; } | awk '{ s += $1 } END { printf "%.0f", s }'; }

apt_install() {
    # Only tools the benchmark itself needs; root is assumed (as on CI).
    if ! command -v apt-get >/dev/null; then return 1; fi
    local sudo=""
    [[ $(id -u) -eq 0 ]] || sudo="sudo"
    $sudo apt-get install -y "$@" >/dev/null 2>&1 || { $sudo apt-get update >/dev/null 2>&1 && $sudo apt-get install -y "$@" >/dev/null 2>&1; }
}
need() { # need COMMAND PACKAGE
    command -v "$1" >/dev/null || [[ -x "/usr/sbin/$1" ]] || { log "Installing $2"; apt_install "$2" || true; }
    command -v "$1" >/dev/null || [[ -x "/usr/sbin/$1" ]] || { log "$1 is required (apt package $2)"; exit 1; }
}

# ---------------------------------------------------------------- rootfs

# The base: a real Debian bookworm minbase, or (if debootstrap cannot run)
# this machine's /usr. The kind is kept in rootfs.kind.
build_rootfs() {
    [[ -f "$CACHE/rootfs.kind" && -d "$ROOTFS" ]] && return 0
    rm -rf "$ROOTFS" "$ROOTFS.tmp"
    command -v debootstrap >/dev/null || [[ -x /usr/sbin/debootstrap ]] || { log "Installing debootstrap"; apt_install debootstrap || true; }
    local debootstrap=debootstrap
    command -v debootstrap >/dev/null || debootstrap=/usr/sbin/debootstrap
    log "Base layer: debootstrap --variant=minbase bookworm (takes 1-3 minutes)"
    if [[ -x "$(command -v "$debootstrap" || true)" ]] \
        && "$debootstrap" --variant=minbase bookworm "$ROOTFS.tmp" http://deb.debian.org/debian >"$CACHE/debootstrap.log" 2>&1; then
        # As the official images do: no downloaded .debs, no apt lists.
        rm -rf "$ROOTFS.tmp"/var/cache/apt/archives/*.deb "$ROOTFS.tmp"/var/cache/apt/*.bin \
            "$ROOTFS.tmp"/var/lib/apt/lists/* "$ROOTFS.tmp"/var/log/*.log
        mv "$ROOTFS.tmp" "$ROOTFS"
        echo "debootstrap --variant=minbase bookworm" >"$CACHE/rootfs.kind"
    else
        log "  debootstrap FAILED (see $CACHE/debootstrap.log): assembling the base from this machine's /usr instead"
        rm -rf "$ROOTFS.tmp"
        mkdir -p "$ROOTFS/usr" "$ROOTFS/etc" "$ROOTFS/tmp" "$ROOTFS/var"
        local d cap=400000000 list="$WORK/usr.list"
        for d in bin share lib; do
            find "/usr/$d" -type f -readable -printf '%s\t%P\n' 2>/dev/null | sort -t$'\t' -k2 \
                | awk -F'\t' -v cap="$(( cap / 3 ))" '{ if (s + $1 > cap) next; s += $1; print $2 }' >"$list"
            mkdir -p "$ROOTFS/usr/$d"
            tar -C "/usr/$d" --ignore-failed-read --no-recursion --verbatim-files-from -T "$list" -cf - 2>/dev/null \
                | tar -C "$ROOTFS/usr/$d" -xf - 2>/dev/null || true
        done
        ln -s usr/bin "$ROOTFS/bin"; ln -s usr/lib "$ROOTFS/lib"
        cp /etc/os-release /etc/passwd /etc/group "$ROOTFS/etc/" 2>/dev/null || true
        echo "host /usr (debootstrap failed)" >"$CACHE/rootfs.kind"
    fi
}

# ---------------------------------------------------------------- app layers

PIP_PACKAGES=(requests boto3 django sqlalchemy numpy)
build_app() {
    local app="$CACHE/layer-app" cleanup="$CACHE/layer-cleanup"
    rm -rf "$app" "$cleanup"
    mkdir -p "$app/app/src" "$app/app/deploy" "$cleanup/app/deploy"
    if [[ -d "$CORPUS/site-packages" ]]; then
        log "App layer: /app/site-packages from $CORPUS/site-packages"
        cp -a "$CORPUS/site-packages" "$app/app/site-packages"
        echo "site-packages copied from $CORPUS/site-packages" >"$CACHE/app.kind"
    else
        local pip=""
        if command -v pip3 >/dev/null; then pip=pip3; elif command -v pip >/dev/null; then pip=pip; fi
        [[ -n "$pip" ]] || { log "no $CORPUS/site-packages and no pip: cannot build the app layer"; exit 1; }
        log "App layer: pip install --target /app/site-packages ${PIP_PACKAGES[*]}"
        "$pip" install --quiet --disable-pip-version-check --target "$app/app/site-packages" "${PIP_PACKAGES[@]}" \
            >"$CACHE/pip.log" 2>&1 || log "  pip reported errors (see $CACHE/pip.log); using what was installed"
        echo "pip install --target: ${PIP_PACKAGES[*]}" >"$CACHE/app.kind"
    fi
    # Planted fake secrets (deterministic, well-formed, not real).
    python3 - "$app/app" "$CACHE/planted.tsv" <<'PY'
import base64, random, sys, zlib
root, manifest = sys.argv[1], sys.argv[2]
rng = random.Random(20261123)
B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
def s(alphabet, n): return "".join(rng.choice(alphabet) for _ in range(n))
def b62_six(v):
    out = ""
    for _ in range(6):
        out = B62[v % 62] + out; v //= 62
    return out
key_id = "AKIA" + s("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
secret = s(B62 + "/+", 40)
with open(f"{root}/.env", "w") as f:
    f.write("DJANGO_SETTINGS_MODULE=src.settings\nDEBUG=0\n"
            f"AWS_ACCESS_KEY_ID={key_id}\nAWS_SECRET_ACCESS_KEY={secret}\nAWS_DEFAULT_REGION=eu-west-1\n")
r = s(B62, 30)
token = "ghp_" + r + b62_six(zlib.crc32(r.encode()))
with open(f"{root}/src/settings.py", "w") as f:
    f.write('"""Settings for the bench app."""\nimport os\n\nDEBUG = False\nALLOWED_HOSTS = ["*"]\n'
            f'GITHUB_TOKEN = "{token}"\nDATABASE_URL = os.environ.get("DATABASE_URL", "sqlite:///db.sqlite3")\n')
body = base64.b64encode(rng.randbytes(1190)).decode()
pem = ("-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(body[i:i + 64] for i in range(0, len(body), 64))
       + "\n-----END RSA PRIVATE KEY-----\n")
with open(f"{root}/deploy/id_rsa", "w") as f:
    f.write(pem)
with open(manifest, "w") as m:
    m.write("aws\t/app/.env\tpresent\n")
    m.write("github\t/app/src/settings.py\tpresent\n")
    m.write("pem\t/app/deploy/id_rsa\tdeleted\n")
PY
    chmod 600 "$app/app/deploy/id_rsa"
    # Layer 2: `RUN rm /app/deploy/id_rsa && echo 1.0.0 > /app/VERSION`.
    : >"$cleanup/app/deploy/.wh.id_rsa"
    echo "1.0.0" >"$cleanup/app/VERSION"
}

# ---------------------------------------------------------------- OCI layout

# make_layer DIR NAME: gzip'd tar of DIR into the layout's blobs; prints
# "blob_digest blob_size diff_id tar_size".
make_layer() {
    local dir=$1 name=$2 tmp="$OCI/blobs/$2.tar"
    tar --numeric-owner --sort=name -C "$dir" -cf "$tmp" . 2>"$WORK/tar-$name.err" || {
        # Exit 1 means "some files changed as we read them": harmless here.
        [[ $? -eq 1 ]] || { cat "$WORK/tar-$name.err" >&2; exit 1; }
    }
    local diff tsize blob bsize
    diff=$(sha256sum "$tmp" | cut -d' ' -f1)
    tsize=$(stat -c %s "$tmp")
    gzip -6 -n -c "$tmp" >"$tmp.gz"
    rm -f "$tmp"
    blob=$(sha256sum "$tmp.gz" | cut -d' ' -f1)
    bsize=$(stat -c %s "$tmp.gz")
    mv "$tmp.gz" "$OCI/blobs/sha256/$blob"
    echo "$blob $bsize $diff $tsize"
}

build_oci() {
    if [[ $REBUILD -eq 0 && -f "$CACHE/oci.done" && -f "$ARCHIVE" ]]; then
        log "Image cached in $CACHE (--rebuild to rebuild it)"
        return 0
    fi
    build_rootfs
    build_app
    rm -rf "$OCI" "$ARCHIVE" "$CACHE/oci.done"
    mkdir -p "$OCI/blobs/sha256"
    log "Writing the OCI layout $OCI (3 layers, tar | gzip -6)"
    local l0 l1 l2
    l0=$(make_layer "$ROOTFS" base)
    log "  layer 0 (base): $l0"
    l1=$(make_layer "$CACHE/layer-app" app)
    log "  layer 1 (app):  $l1"
    l2=$(make_layer "$CACHE/layer-cleanup" cleanup)
    log "  layer 2 (rm):   $l2"
    python3 - "$OCI" "$TAG" "$(cat "$CACHE/rootfs.kind")" "$l0" "$l1" "$l2" <<'PY'
import hashlib, json, os, platform, sys
oci, tag, base_kind = sys.argv[1], sys.argv[2], sys.argv[3]
layers = [dict(zip(("blob", "size", "diff", "tar_size"), l.split())) for l in sys.argv[4:]]
arch = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine(), platform.machine())
def put(obj):
    data = json.dumps(obj, indent=2, sort_keys=True).encode()
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(oci, "blobs", "sha256", digest), "wb") as f:
        f.write(data)
    return {"digest": "sha256:" + digest, "size": len(data)}
created = "2026-11-23T00:00:00Z"
config = {
    "architecture": arch, "os": "linux", "created": created,
    "config": {
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "PYTHONPATH=/app/site-packages"],
        "WorkingDir": "/app", "Cmd": ["python3", "-m", "src"],
        "Labels": {"org.opencontainers.image.title": "strata image bench"},
    },
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + l["diff"] for l in layers]},
    "history": [
        {"created": created, "created_by": f"/bin/sh -c #(nop) ADD rootfs: {base_kind}"},
        {"created": created, "created_by": "/bin/sh -c #(nop) ENV PYTHONPATH=/app/site-packages", "empty_layer": True},
        {"created": created, "created_by": "COPY app/ /app/ # buildkit"},
        {"created": created, "created_by": "RUN /bin/sh -c rm /app/deploy/id_rsa && echo 1.0.0 > /app/VERSION # buildkit"},
        {"created": created, "created_by": "/bin/sh -c #(nop) CMD [\"python3\", \"-m\", \"src\"]", "empty_layer": True},
    ],
}
cfg = put(config)
manifest = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **cfg},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": "sha256:" + l["blob"], "size": int(l["size"])} for l in layers],
}
man = put(manifest)
index = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.index.v1+json",
    "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", **man,
                   "platform": {"architecture": arch, "os": "linux"},
                   "annotations": {"org.opencontainers.image.ref.name": tag}}],
}
with open(os.path.join(oci, "index.json"), "w") as f:
    json.dump(index, f, indent=2)
with open(os.path.join(oci, "oci-layout"), "w") as f:
    json.dump({"imageLayoutVersion": "1.0.0"}, f)
with open(os.path.join(oci, "..", "layers.json"), "w") as f:
    json.dump([{"blob_digest": "sha256:" + l["blob"], "blob_bytes": int(l["size"]),
                "diff_id": "sha256:" + l["diff"], "tar_bytes": int(l["tar_size"])} for l in layers], f, indent=2)
PY
    log "docker-archive: skopeo copy oci:$OCI:$TAG docker-archive:$ARCHIVE:$TAG:1"
    skopeo copy --quiet "oci:$OCI:$TAG" "docker-archive:$ARCHIVE:$TAG:1" >"$WORK/skopeo-archive.log" 2>&1 \
        || { cat "$WORK/skopeo-archive.log" >&2; exit 1; }
    touch "$CACHE/oci.done"
}

composition() {
    python3 - "$CACHE/layers.json" "$ARCHIVE" "$(cat "$CACHE/rootfs.kind")" "$(cat "$CACHE/app.kind")" <<'PY'
import json, os, sys, tarfile
layers, archive, base_kind, app_kind = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3], sys.argv[4]
names = ["base (" + base_kind + ")", "app (" + app_kind + " + 3 planted secrets)", "rm /app/deploy/id_rsa (whiteout) + VERSION"]
print("Image: 3 layers, gzip -6 (OCI layout and registry); docker-archive made by skopeo")
blob = tar = 0
for i, (l, n) in enumerate(zip(layers, names)):
    print(f"  layer {i}: {l['blob_bytes']/1e6:8.1f} MB gzip  {l['tar_bytes']/1e6:8.1f} MB tar  {n}")
    blob += l["blob_bytes"]; tar += l["tar_bytes"]
print(f"  total:   {blob/1e6:8.1f} MB gzip  {tar/1e6:8.1f} MB tar  (ratio {tar/blob:.2f})")
with tarfile.open(archive) as t:
    members = [m for m in t.getmembers() if m.isfile()]
big = sorted(members, key=lambda m: -m.size)[:3]
print(f"  docker-archive {os.path.getsize(archive)/1e6:.1f} MB; largest members: "
      + ", ".join(f"{m.name} {m.size/1e6:.1f} MB" for m in big))
PY
}

need skopeo skopeo
need gzip gzip
build_oci
composition
if [[ $IMAGE_ONLY -eq 1 ]]; then exit 0; fi

# ---------------------------------------------------------------- tools

STRATA="$REPO_ROOT/target/release/strata"
FLOOR="$REPO_ROOT/target/release/examples/decode_floor"
if [[ ! -x "$STRATA" ]]; then
    log "Building strata (cargo build --release -p strata-cli)"
    (cd "$REPO_ROOT" && cargo build --release -p strata-cli)
fi
if [[ ! -x "$FLOOR" ]]; then
    log "Building the floor (cargo build --release -p strata-sources --example decode_floor)"
    (cd "$REPO_ROOT" && cargo build --release -p strata-sources --example decode_floor)
fi
need docker-registry docker-registry
need curl curl
[[ -x /usr/bin/time ]] || { log "Installing time"; apt_install time; }
[[ -x /usr/bin/time ]] || { log "/usr/bin/time is required"; exit 1; }

# A registry of our own: loopback only, a free port, storage in $WORK.
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$WORK/registry"
cat >"$WORK/registry/config.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $WORK/registry/storage
http:
  addr: 127.0.0.1:$PORT
EOF
docker-registry serve "$WORK/registry/config.yml" >"$WORK/registry/log" 2>&1 &
REGISTRY_PID=$!
for _ in $(seq 50); do
    curl -fsS "http://127.0.0.1:$PORT/v2/" >/dev/null 2>&1 && break
    sleep 0.2
done
curl -fsS "http://127.0.0.1:$PORT/v2/" >/dev/null || { cat "$WORK/registry/log" >&2; log "docker-registry did not start"; exit 1; }
REGISTRY_REF="127.0.0.1:$PORT/$TAG:1"
log "Registry: docker-registry on 127.0.0.1:$PORT (pid $REGISTRY_PID); pushing $REGISTRY_REF"
skopeo copy --quiet --dest-tls-verify=false "oci:$OCI:$TAG" "docker://$REGISTRY_REF" >"$WORK/skopeo-push.log" 2>&1 \
    || { cat "$WORK/skopeo-push.log" >&2; exit 1; }

# Inputs: name and strata image argument.
INPUTS=(docker-archive oci registry)
declare -A ARG=(
    [docker-archive]="docker-archive:$ARCHIVE"
    [oci]="oci:$OCI:$TAG"
    [registry]="$REGISTRY_REF"
)

# Runs: input, tool, command (@ARG@ is the image argument).
R_INPUT=(); R_TOOL=(); R_CMD=()
add_run() { R_INPUT+=("$1"); R_TOOL+=("$2"); R_CMD+=("$3"); }
for input in "${INPUTS[@]}"; do
    add_run "$input" strata "$STRATA image @ARG@ --format json -o /dev/null -j $THREADS"
    add_run "$input" floor "$FLOOR -j $THREADS --json @ARG@"
    # The floor plus nested gzip inflated and the keyword pass over every
    # scanned byte (no regex, no report): what any matching must add.
    add_run "$input" bound "$FLOOR -j $THREADS --bound --json @ARG@"
done
# The floor does not open nested archives; strata does (decompressing and
# matching another ~150 MB here). This run leaves them closed, so its
# ratio to the floor is what matching the layers alone costs.
add_run docker-archive strata-d0 "$STRATA image @ARG@ --format json -o /dev/null -j $THREADS --max-archive-depth 0"
if command -v trivy >/dev/null; then
    add_run docker-archive trivy "trivy image --input $ARCHIVE --scanners secret --parallel $THREADS --cache-dir $WORK/trivy-cache --quiet --format json -o /dev/null"
fi
if command -v kingfisher >/dev/null; then
    kf_help=$(kingfisher scan --help 2>&1 || true)
    kf="kingfisher scan docker --archive $ARCHIVE"
    grep -q -- '--num-jobs' <<<"$kf_help" && kf+=" --num-jobs $THREADS"
    grep -q -- '--no-validate' <<<"$kf_help" && kf+=" --no-validate"
    grep -q -- '--no-update-check' <<<"$kf_help" && kf+=" --no-update-check"
    add_run docker-archive kingfisher "$kf"
fi

log "Warm-up: one read pass over the layout, the archive and the registry storage (no cache dropping)"
cat "$OCI"/blobs/sha256/* "$ARCHIVE" >/dev/null
find "$WORK/registry/storage" -type f -print0 | xargs -0 cat >/dev/null

# Interleaved runs (see timing.sh): every input and tool once per round.
# shellcheck source=benches/timing.sh
source "$SCRIPT_DIR/../timing.sh"
for idx in "${!R_TOOL[@]}"; do
    log "Timing ${R_INPUT[$idx]}/${R_TOOL[$idx]}: ${R_CMD[$idx]//@ARG@/${ARG[${R_INPUT[$idx]}]}}"
    : >"$WORK/runs.$idx"
done
for (( round = 1; round <= RUNS; round++ )); do
    for idx in "${!R_TOOL[@]}"; do
        out="$WORK/stdout"
        # The floor's JSON (layer sizes) is read after the timing.
        [[ ${R_TOOL[$idx]} == floor ]] && out="$WORK/floor-${R_INPUT[$idx]}.json"
        time_once "${R_INPUT[$idx]}/${R_TOOL[$idx]} run $round" "$WORK/runs.$idx" "$out" \
            "${R_CMD[$idx]//@ARG@/${ARG[${R_INPUT[$idx]}]}}"
        rc=$(tail -n1 "$WORK/runs.$idx" | awk '{ print $3 }')
        if [[ $rc -ne 0 && $rc -ne 1 ]]; then sed 's/^/    stderr: /' "$WORK/runs.$idx.err" | head -5 >&2; fi
    done
done
TABLE="$WORK/table.tsv"
: >"$TABLE"
for idx in "${!R_TOOL[@]}"; do
    read -r median peak rc < <(summarize "$WORK/runs.$idx")
    cpu=$(median_cpu "$WORK/runs.$idx")
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "${R_INPUT[$idx]}" "${R_TOOL[$idx]}" "$median" "$peak" "$rc" "$cpu" >>"$TABLE"
done

# One more, untimed strata run per input keeping its JSON report: were the
# planted secrets found, in the right layer, with the right fate?
for input in "${INPUTS[@]}"; do
    "$STRATA" image "${ARG[$input]}" --format json -o "$WORK/strata-$input.json" -j "$THREADS" >/dev/null 2>"$WORK/strata-$input.err" || true
done

# ---------------------------------------------------------------- report

python3 - "$TABLE" "$RESULTS_JSON" "$WORK" "$CACHE" "$RUNS" "$THREADS" "$(cd "$REPO_ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    "$(cd "$REPO_ROOT" && git status --porcelain --untracked-files=no 2>/dev/null | wc -l)" "${INPUTS[@]}" <<'PY'
import datetime, json, os, sys
table, out, work, cache, runs, threads, commit, dirty = sys.argv[1:9]
inputs = sys.argv[9:]
runs, threads = int(runs), int(threads)
layers = json.load(open(os.path.join(cache, "layers.json")))
floors = {}
for i in inputs:
    try:
        floors[i] = json.load(open(os.path.join(work, f"floor-{i}.json")))
    except Exception:
        floors[i] = None
# Uncompressed bytes: the layers' tar streams, as written (the same image behind every input).
tar_total = sum(l["tar_bytes"] for l in layers)
def tar_bytes(i):
    return tar_total
rows = []
for line in open(table):
    inp, tool, median, peak_kb, rc, cpu = line.rstrip("\n").split("\t")
    median = float(median)
    rows.append({"input": inp, "tool": tool, "median_seconds": median, "median_cpu_seconds": float(cpu),
                 "mb_per_second": round(tar_bytes(inp) / 1e6 / median, 1) if median > 0 else None,
                 "peak_rss_mb": round(int(peak_kb) / 1024, 1), "exit_code": int(rc)})
floor_s = {r["input"]: r["median_seconds"] for r in rows if r["tool"] == "floor"}
bound_s = {r["input"]: r["median_seconds"] for r in rows if r["tool"] == "bound"}
for r in rows:
    f = floor_s.get(r["input"])
    r["ratio_to_floor"] = round(r["median_seconds"] / f, 2) if f else None
    b = bound_s.get(r["input"])
    r["ratio_to_bound"] = round(r["median_seconds"] / b, 2) if b and r["tool"] != "floor" else None

# Planted-secret check on strata's reports.
planted = [l.rstrip("\n").split("\t") for l in open(os.path.join(cache, "planted.tsv"))]
checks = {}
for i in inputs:
    path = os.path.join(work, f"strata-{i}.json")
    try:
        rep = json.load(open(path))
    except Exception as e:
        checks[i] = {"error": f"report unreadable: {e}"}
        continue
    found = rep.get("findings", [])
    res = []
    for kind, p, want in planted:
        hits = [f for f in found if f.get("path") == p]
        fates = sorted({(f.get("fate") or {}).get("status", "?") for f in hits})
        layers_of = sorted({(f.get("layer") or {}).get("index") for f in hits if f.get("layer")})
        res.append({"kind": kind, "path": p, "expected_fate": want, "findings": len(hits),
                    "rules": sorted({f.get("rule_id") for f in hits}), "fates": fates, "layers": layers_of,
                    "ok": bool(hits) and fates == [want]})
    s = rep.get("summary", {})
    checks[i] = {"planted": res, "planted_ok": sum(r["ok"] for r in res), "planted_total": len(res),
                 "findings": len(found), "summary": s,
                 "errors": rep.get("errors", [])[:5], "skipped": rep.get("skipped", [])[:5]}

blob_total = sum(l["blob_bytes"] for l in layers)
print()
print(f"Image: {len(layers)} layers, {blob_total/1e6:.1f} MB gzip, {tar_total/1e6:.1f} MB uncompressed tar; "
      f"{threads} threads; median of {runs} runs; {os.cpu_count()} cores; warm page cache; strata at {commit}"
      + (f" + {dirty} modified tracked files" if int(dirty) else ""))
print(f"{'input':<15} {'tool':<11} {'median s':>9} {'CPU s':>6} {'MB/s':>8} {'peak RSS MB':>12} {'vs floor':>9} {'vs bound':>9} {'exit':>5}")
for r in rows:
    ratio = f"{r['ratio_to_floor']:.2f}x" if r["ratio_to_floor"] is not None else "-"
    to_bound = f"{r['ratio_to_bound']:.2f}x" if r["ratio_to_bound"] is not None else "-"
    print(f"{r['input']:<15} {r['tool']:<11} {r['median_seconds']:>9.2f} {r['median_cpu_seconds']:>6.2f} "
          f"{r['mb_per_second'] or 0:>8.1f} {r['peak_rss_mb']:>12.1f} {ratio:>9} {to_bound:>9} {r['exit_code']:>5}")
# However well it is scheduled, a run cannot take less wall time than its
# CPU time spread over every core: the bound's CPU time over the cores is a
# floor for strata's wall time that no scheduling can beat.
for i in inputs:
    b = next((r for r in rows if r["input"] == i and r["tool"] == "bound"), None)
    f = floor_s.get(i)
    if b and f:
        least = b["median_cpu_seconds"] / threads
        print(f"{i}: the bound's {b['median_cpu_seconds']:.2f} CPU s on {threads} cores take at least "
              f"{least:.2f} s, {least / f:.2f}x the floor")
print("(floor = examples/decode_floor: resolve + SHA-256 + gzip + tar walk, every byte read, no matching;"
      " bound = decode_floor --bound: the floor + nested gzip inflated + the keyword pass over every"
      " scanned byte, no regex, no report, a lower bound on any strata run;"
      " strata-d0 = strata with --max-archive-depth 0, nested archives not opened;"
      " MB/s = uncompressed layer tar MB / s)")
for i in inputs:
    f = floors.get(i)
    if f:
        print(f"floor {i}: {f['layers_distinct']} layers, {f['blob_bytes']/1e6:.1f} MB blobs, "
              f"{f['tar_bytes']/1e6:.1f} MB tar, {f['files']} files; nested archives strata also opens: "
              f"{f['nested_files']} files, {f['nested_bytes']/1e6:.1f} MB; per layer: "
              + ", ".join(f"{l['kind']} {l['tar_bytes']/1e6:.0f} MB {l['seconds']:.2f}s" for l in f["per_layer"]))
for i in inputs:
    c = checks[i]
    if "error" in c:
        print(f"strata check {i}: {c['error']}")
        continue
    s = c["summary"]
    print(f"strata check {i}: planted {c['planted_ok']}/{c['planted_total']} found with the expected fate; "
          f"findings={c['findings']} files={s.get('files_scanned')} bytes={s.get('bytes_scanned')} "
          f"layers={s.get('layers')} errors={s.get('errors')} skipped={s.get('skipped')}")
    for p in c["planted"]:
        print(f"    {p['kind']:<7} {p['path']:<22} {'OK ' if p['ok'] else 'BAD'} findings={p['findings']} "
              f"rules={','.join(map(str, p['rules']))} layer={p['layers']} fate={','.join(p['fates'])} (expected {p['expected_fate']})")
    for e in c["errors"]:
        print(f"    error: {e}")
    for e in c["skipped"]:
        print(f"    skipped: {e}")
json.dump({
    "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    "host": {"cores": os.cpu_count(), "threads_given": threads},
    "strata_commit": commit, "modified_tracked_files": int(dirty),
    "image": {"cache": cache, "layers": layers, "blob_bytes": blob_total, "tar_bytes": tar_total,
              "base": open(os.path.join(cache, "rootfs.kind")).read().strip(),
              "app": open(os.path.join(cache, "app.kind")).read().strip()},
    "runs": runs, "page_cache": "warm (one read pass before timing)",
    "results": rows, "floor": floors, "strata_check": checks,
}, open(out, "w"), indent=2)
PY
echo "Wrote $RESULTS_JSON"
