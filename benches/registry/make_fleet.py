#!/usr/bin/env python3
"""Builds the registry benchmark's fleet as one OCI layout directory.

A fleet like a platform team's registry: a handful of base layers made from
real files of this machine (/usr/lib/python3*, /usr/share/perl, /usr/include,
/usr/share/doc, each capped), shared by every image; a middle "runtime"
layer shared by each group of repositories; and one small app layer per
image (source-like text, a vendored JSON blob, and in every fifth image a
planted fake credential). Each image is tagged `rNN-tK` in index.json.

Everything is deterministic (sorted walk, fixed mtimes, gzip mtime 0, a
seeded PRNG), so a rebuild gives the same digests.

Usage: make_fleet.py OUT_DIR REPOS TAGS_PER_REPO
Writes OUT_DIR/{oci-layout,index.json,blobs/sha256/*} and OUT_DIR/fleet.json
(images with their repo/tag/ref and layer digests; the planted secrets).
"""
import gzip
import hashlib
import io
import json
import os
import random
import sys
import tarfile

OUT, REPOS, TAGS = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
BLOBS = os.path.join(OUT, "blobs", "sha256")
os.makedirs(BLOBS, exist_ok=True)
rng = random.Random(20261122)


def put_blob(data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    path = os.path.join(BLOBS, digest)
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.write(data)
    return "sha256:" + digest


def layer(entries):
    """entries: list of (path_in_image, bytes). Returns (digest, diff_id, size)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs = set()
        for path, data in entries:
            parts = path.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                d = "/".join(parts[:i])
                if d not in dirs:
                    dirs.add(d)
                    info = tarfile.TarInfo(d)
                    info.type = tarfile.DIRTYPE
                    info.mode = 0o755
                    info.mtime = 1700000000
                    tar.addfile(info)
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = 1700000000
            tar.addfile(info, io.BytesIO(data))
    tar_bytes = raw.getvalue()
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=6, mtime=0) as gz:
        gz.write(tar_bytes)
    blob = out.getvalue()
    return put_blob(blob), "sha256:" + hashlib.sha256(tar_bytes).hexdigest(), len(blob)


def tree(roots, cap):
    """Real files under roots (sorted), up to cap bytes."""
    entries, total = [], 0
    for root in roots:
        if not os.path.isdir(root):
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(filenames):
                path = os.path.join(dirpath, name)
                if os.path.islink(path) or not os.path.isfile(path):
                    continue
                try:
                    with open(path, "rb") as f:
                        data = f.read()
                except OSError:
                    continue
                entries.append((path.lstrip("/"), data))
                total += len(data)
                if total >= cap:
                    return entries
    return entries


MB = 1 << 20
bases = [
    layer(tree(["/usr/lib/python3.11", "/usr/lib/python3"], 40 * MB)),
    layer(tree(["/usr/share/perl", "/usr/share/perl5"], 30 * MB)),
    layer(tree(["/usr/include"], 40 * MB)),
    layer(tree(["/usr/share/doc"], 25 * MB)),
]
runtimes = [
    layer([(f"opt/runtime{g}/lib/module{i}.py",
            ("# runtime %d module %d\n" % (g, i) + "def f%d(x):\n    return x * %d\n" % (i, i) * 200).encode())
           for i in range(40)])
    for g in range(6)
]

ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def aws_pair():
    key_id = "AKIA" + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))
    secret = "".join(rng.choice(ALNUM + "+/") for _ in range(40))
    return key_id, secret


images, planted, manifests = [], [], []
for r in range(REPOS):
    group = r % len(runtimes)
    for t in range(TAGS):
        n = len(images)
        app = [
            (f"app/src/main{n}.py",
             ("import os\n\ndef handler(event):\n    return {'image': %d, 'tag': %d}\n" % (n, t) * 150).encode()),
            (f"app/static/vendor{n}.json",
             json.dumps({"id": n, "items": [rng.random() for _ in range(2000)]}).encode()),
        ]
        if n % 5 == 0:
            key_id, secret = aws_pair()
            app.append((f"app/.env", f"AWS_ACCESS_KEY_ID={key_id}\nAWS_SECRET_ACCESS_KEY={secret}\n".encode()))
            planted.append({"image": n, "key_id": key_id})
        app_layer = layer(app)
        stack = [bases[r % len(bases)], runtimes[group], app_layer]
        config = {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Env": ["PATH=/usr/local/bin:/usr/bin:/bin", f"APP_ID={n}"], "Cmd": ["python3", "main.py"]},
            "rootfs": {"type": "layers", "diff_ids": [l[1] for l in stack]},
            "history": [
                {"created_by": f"ADD base{r % len(bases)}.tar /"},
                {"created_by": f"COPY runtime{group} /opt/runtime{group}"},
                {"created_by": "COPY app /app"},
            ],
        }
        config_bytes = json.dumps(config, sort_keys=True).encode()
        config_digest = put_blob(config_bytes)
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": config_digest, "size": len(config_bytes)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                        "digest": l[0], "size": l[2]} for l in stack],
        }
        manifest_bytes = json.dumps(manifest, sort_keys=True).encode()
        manifest_digest = put_blob(manifest_bytes)
        ref = f"r{r:02d}-t{t}"
        manifests.append({"mediaType": "application/vnd.oci.image.manifest.v1+json",
                          "digest": manifest_digest, "size": len(manifest_bytes),
                          "annotations": {"org.opencontainers.image.ref.name": ref}})
        images.append({"ref": ref, "repo": f"fleet/svc{r:02d}", "tag": f"v{t}",
                       "layers": [l[0] for l in stack], "layer_sizes": [l[2] for l in stack]})

with open(os.path.join(OUT, "oci-layout"), "w") as f:
    json.dump({"imageLayoutVersion": "1.0.0"}, f)
with open(os.path.join(OUT, "index.json"), "w") as f:
    json.dump({"schemaVersion": 2, "manifests": manifests}, f)
with open(os.path.join(OUT, "fleet.json"), "w") as f:
    json.dump({"images": images, "planted": planted}, f)
distinct = {d: s for i in images for d, s in zip(i["layers"], i["layer_sizes"])}
print(f"{len(images)} images in {REPOS} repositories, {len(distinct)} distinct layers, "
      f"{sum(distinct.values()) / 1e6:.1f} MB of distinct compressed layers, {len(planted)} planted AWS keys")
