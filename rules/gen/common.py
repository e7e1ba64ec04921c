"""Shared helpers for the rule generators in this directory.

Each `rules/gen/<family>.py` describes its rules as compact Python data and
prints `rules/<family>.toml`. Every example and counterexample token is made
here, by a PRNG seeded from the rule id, to the shape the provider documents
(length, alphabet, prefix, checksum). Nothing is copied from another
project's files. Re-running a generator gives byte-identical TOML:

    python3 rules/gen/<family>.py > rules/<family>.toml
    python3 rules/gen/regen.py --check      # every generated file is current
"""

import random
import string
import zlib

HEX = "0123456789abcdef"
HEX_UPPER = "0123456789ABCDEF"
DIGITS = string.digits
LOWER = string.ascii_lowercase
UPPER = string.ascii_uppercase
ALNUM_LOWER = LOWER + DIGITS
ALNUM_UPPER = UPPER + DIGITS
BASE62 = string.ascii_letters + DIGITS
BASE64 = BASE62 + "+/"
BASE64URL = BASE62 + "-_"
BASE32 = UPPER + "234567"

SEVERITIES = ("critical", "high", "medium", "low")
CONFIDENCES = ("high", "medium", "low")


def rng(*parts):
    """A PRNG seeded from the given parts (rule id, example number)."""
    return random.Random("|".join(str(p) for p in parts))


def token(r, alphabet, n):
    """`n` characters drawn from `alphabet`, with at least two distinct
    characters from the start and the end, so entropy filters pass."""
    while True:
        t = "".join(r.choice(alphabet) for _ in range(n))
        if len(set(t)) >= min(n, max(4, len(alphabet) // 4)):
            return t


def uuid4(r):
    h = token(r, HEX, 32)
    h = h[:12] + "4" + h[13:16] + r.choice("89ab") + h[17:]
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def base62_of(n, width):
    """`n` written in base 62 (0-9A-Za-z), left-padded with '0' to `width`."""
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    out = ""
    while n:
        n, d = divmod(n, 62)
        out = digits[d] + out
    return out.rjust(width, "0")


def crc32_base62(body):
    """The 6-character CRC32 suffix GitHub-style tokens carry."""
    return base62_of(zlib.crc32(body.encode()), 6)


def quote(s):
    """`s` as a TOML string: a literal string when it can be one."""
    if "\n" not in s and "'" not in s and "\r" not in s:
        return "'" + s + "'"
    if "\n" not in s and "'''" not in s and not s.endswith("'"):
        return "'''" + s + "'''"
    out = ['"']
    for ch in s:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append("\\u%04x" % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def regex_literal(s):
    """A regex as a TOML literal string ('''...''')."""
    assert "'''" not in s, s
    return "'''" + s + "'''"


def _list(values, as_regex=False):
    if not values:
        return "[]"
    q = regex_literal if as_regex else quote
    if len(values) == 1 and len(values[0]) < 60:
        return "[" + q(values[0]) + "]"
    return "[\n" + "".join("  " + q(v) + ",\n" for v in values) + "]"


def rule(r):
    """One `[[rules]]` block from a dict with the rule's fields.

    Required: id, name, description, keywords, severity, confidence,
    references, examples, counterexamples, and either regex or context
    (a dict: value, optional distance, multiline, pair).
    """
    assert r["severity"] in SEVERITIES, r["id"]
    assert r["confidence"] in CONFIDENCES, r["id"]
    assert len(r["examples"]) >= 3, r["id"] + ": needs >= 3 examples"
    assert len(r["counterexamples"]) >= 2, r["id"] + ": needs >= 2 counterexamples"
    assert r.get("references"), r["id"] + ": needs references"
    lines = ["[[rules]]"]
    lines.append(f'id = {quote(r["id"])}')
    lines.append(f'name = {quote(r["name"])}')
    lines.append(f'description = {quote(r["description"])}')
    lines.append(f'keywords = {_list(r["keywords"])}')
    if "regex" in r:
        lines.append(f'regex = {regex_literal(r["regex"])}')
    if "secret_group" in r:
        g = r["secret_group"]
        lines.append(f"secret_group = {g if isinstance(g, int) else quote(g)}")
    if "min_entropy" in r:
        lines.append(f'min_entropy = {r["min_entropy"]}')
    if "validator" in r:
        lines.append(f'validator = {quote(r["validator"])}')
    if "window" in r:
        lines.append(f'window = {r["window"]}')
    lines.append(f'severity = {quote(r["severity"])}')
    lines.append(f'confidence = {quote(r["confidence"])}')
    lines.append(f'references = {_list(r["references"])}')
    if r.get("tags"):
        lines.append(f'tags = {_list(r["tags"])}')
    if r.get("allowlists"):
        lines.append(f'allowlists = {_list(r["allowlists"])}')
    lines.append(f'examples = {_list(r["examples"])}')
    lines.append(f'counterexamples = {_list(r["counterexamples"])}')
    if "context" in r:
        c = r["context"]
        lines.append("")
        lines.append("[rules.context]")
        lines.append(f'value = {regex_literal(c["value"])}')
        if "distance" in c:
            lines.append(f'distance = {c["distance"]}')
        if c.get("multiline"):
            lines.append("multiline = true")
        if "pair" in c:
            p = c["pair"]
            lines.append("")
            lines.append("[rules.context.pair]")
            lines.append(f'name = {quote(p["name"])}')
            lines.append(f'value = {regex_literal(p["value"])}')
            if "distance" in p:
                lines.append(f'distance = {p["distance"]}')
    if r.get("allowlist"):
        a = r["allowlist"]
        lines.append("")
        lines.append("[rules.allowlist]")
        if a.get("regexes"):
            lines.append(f'regexes = {_list(a["regexes"], as_regex=True)}')
        if a.get("paths"):
            lines.append(f'paths = {_list(a["paths"])}')
        if a.get("stopwords"):
            lines.append(f'stopwords = {_list(a["stopwords"])}')
    return "\n".join(lines) + "\n"


def rule_file(header, rules):
    """A whole rule file: a one-line `#` header saying what the file holds,
    then the rules sorted as given. Checks ids are unique."""
    ids = [r["id"] for r in rules]
    dup = {i for i in ids if ids.count(i) > 1}
    assert not dup, f"duplicate ids: {sorted(dup)}"
    return "# " + header + "\n" + "".join("\n" + rule(r) for r in rules)


# Ways a key is written down, for examples. `{v}` is the value, `{N}` an
# upper-case env name, `{n}` a lower-case config key.
ASSIGNMENTS = [
    "{N}={v}",
    'export {N}="{v}"',
    '"{n}": "{v}"',
    "{n}: {v}",
    "{n} = '{v}'",
    '  <add key="{N}" value="{v}" />',
    "ENV {N}={v}",
    "{N}: {v}",
    'client = Client(api_key="{v}")',
    "--set {n}={v}",
]


def assignments(r, env_name, key_name, values, count=3):
    """`count` example lines putting `values` (one per line) into random
    assignment shapes, env name `env_name`, config key `key_name`."""
    shapes = r.sample(ASSIGNMENTS[:5], k=min(count, 5))
    out = []
    for i in range(count):
        shape = shapes[i % len(shapes)]
        out.append(shape.format(N=env_name, n=key_name, v=values[i % len(values)]))
    return out


def base36(n, width):
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while n:
        n, d = divmod(n, 36)
        out = digits[d] + out
    return out.rjust(width, "0")


def gitlab_routable(r, prefix, payload_len=None):
    """A GitLab routable token: PREFIX + base64url payload + '.01.' +
    base36 payload length (2) + base36 CRC32 of all before (7)."""
    import base64

    org = r.randrange(1, 10**6)
    user = r.randrange(1, 10**7)
    routing = f"o:{base36(org, 1)}\nu:{base36(user, 1)}\n".encode()
    random_bytes = bytes(r.randrange(256) for _ in range(16))
    payload = base64.urlsafe_b64encode(routing + random_bytes + bytes([16])).decode().rstrip("=")
    body = f"{prefix}{payload}.01.{base36(len(payload), 2)}"
    return body + base36(zlib.crc32(body.encode()), 7)


def aws_key_id(r, prefix="AKIA"):
    """An access key id of the documented shape: prefix + 16 base32
    characters whose decoded account id has 12 digits."""
    account = r.randrange(10**11, 10**12)
    first_six = (account << 7) | (1 << 47) | r.randrange(128)
    bits = (first_six << 32) | r.getrandbits(32)
    out = prefix
    for i in range(15, -1, -1):
        v = (bits >> (i * 5)) & 31
        out += chr(ord("A") + v) if v < 26 else chr(ord("2") + v - 26)
    return out


_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def _bech32_polymod(values):
    gen = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for v in values:
        top = chk >> 25
        chk = ((chk & 0x1FFFFFF) << 5) ^ v
        for i in range(5):
            if (top >> i) & 1:
                chk ^= gen[i]
    return chk


def bech32(hrp, data5):
    """bech32 string of 5-bit values `data5` with its checksum."""
    values = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp] + list(data5)
    pm = _bech32_polymod(values + [0] * 6) ^ 1
    check = [(pm >> (5 * (5 - i))) & 31 for i in range(6)]
    return hrp + "1" + "".join(_BECH32[d] for d in list(data5) + check)


_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def base58check(payload):
    """base58 of `payload` + the first 4 bytes of SHA-256(SHA-256(payload))."""
    import hashlib

    data = payload + hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, d = divmod(n, 58)
        out = _B58[d] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out
