"""Re-runs every rule generator in this directory and writes (or, with
--check, compares) the rule file it produces: `rules/gen/x.py` makes
`rules/x.toml`. Exit 1 when --check finds a file out of date."""

import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
RULES = HERE.parent


def main():
    check = "--check" in sys.argv[1:]
    stale = []
    for gen in sorted(HERE.glob("*.py")):
        if gen.name in ("common.py", "regen.py", "annotate_existing.py"):
            continue
        out = subprocess.run(
            [sys.executable, str(gen)], check=True, capture_output=True, text=True
        ).stdout
        target = RULES / (gen.stem + ".toml")
        if check:
            if not target.exists() or target.read_text() != out:
                stale.append(target.name)
        else:
            target.write_text(out)
    if stale:
        print("out of date (run python3 rules/gen/regen.py):", ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
