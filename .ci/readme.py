"""Run README.md's examples as written and check that what they print is what README shows.

Each ```bash block that is followed at once by an output block is run, in order, in one bash
session from the repository's root (so `Q=...` carries over), and every line of the output
block must appear in what the block printed (stdout and stderr together): a line that starts
with `...` stands for lines left out, and one that ends with `...` is checked up to there.
The quick start (the block that clones the repository) is not run. Takes about 4 minutes on
2 cores; run it in a fresh clone beside ../shared after `make install`:

    python .ci/readme.py [--keep LOG]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

MARK = "@@readme block {}@@"


def blocks(readme: str) -> list[tuple[str, list[str]]]:
    """(commands, expected lines) of each bash block with an output block right after it."""
    body = r"((?:(?!```).)*)"  # a block's text: anything up to the next fence
    found = re.findall(rf"```bash\n{body}```\n```\n{body}```", readme, flags=re.S)
    return [(cmd, out.splitlines()) for cmd, out in found if "git clone" not in cmd]


def missing(expected: list[str], got: str) -> list[str]:
    lines = got.splitlines()
    gone = []
    for want in expected:
        if not want.strip() or want.startswith("..."):
            continue
        head = want[:-3] if want.endswith("...") else want
        if not any(head.strip() in line for line in lines):
            gone.append(want)
    return gone


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep", type=Path, help="write everything the blocks printed here")
    args = ap.parse_args()
    pairs = blocks(Path("README.md").read_text())
    script = "set -e\n" + "".join(
        f"echo '{MARK.format(i)}'\nSECONDS=0\n{cmd}\necho \"@@took $SECONDS s@@\"\n"
        for i, (cmd, _) in enumerate(pairs)
    )
    t = time.time()
    run = subprocess.run(["bash", "-c", script], capture_output=True, text=True)
    printed = run.stdout + run.stderr
    if args.keep:
        args.keep.write_text(printed)
    parts = re.split(r"@@readme block (\d+)@@\n", run.stdout)
    by_block = {int(parts[i]): parts[i + 1] for i in range(1, len(parts), 2)}
    failed = 0
    for i, (cmd, expected) in enumerate(pairs):
        got = by_block.get(i)
        first = cmd.strip().splitlines()[-1][:70]
        if got is None:
            print(f"block {i} ({first}): not reached")
            failed += 1
            continue
        gone = missing(expected, got + run.stderr)
        took = re.search(r"@@took (\d+) s@@", got)
        status = "ok" if not gone else "DIFFERS"
        print(f"block {i} ({first}): {status}, {took.group(1) if took else '?'} s")
        for line in gone:
            print(f"    README shows, the run did not print: {line}")
        failed += bool(gone)
    print(
        f"{len(pairs) - failed} of {len(pairs)} blocks print what README shows "
        f"({time.time() - t:.0f} s; exit {run.returncode})"
    )
    return 1 if failed or run.returncode else 0


if __name__ == "__main__":
    sys.exit(main())
