"""What the training corruption (data/corrupt.py) costs per item on this machine.

    python -m mtl_aug.reporting.corrupt_cost [--file ../shared/data/emodb/wav/03a01Fa.wav]
        [--config OVERLAY ...] [--items 100]

prints `<t> ms per item`: the mean time of one Corruptor call on the file, the corruption
settings of the default config (or of the overlays given), each item drawn with its own seed as
in training.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ..errors import ConfigError, DataError


def ms_per_item(file: Path, overlays: list[str] = (), items: int = 100) -> float:
    from ..config import load_config
    from ..data.audio import load_audio
    from ..data.corrupt import Corruptor

    cfg = load_config("emodb", list(overlays))
    sr = cfg.data.sample_rate
    corrupt = Corruptor(cfg.corrupt, cfg.seed, sr)
    wave = load_audio(file, sr)
    corrupt(wave, 0)  # the first call builds what later calls reuse
    start = time.perf_counter()
    for seed in range(items):
        corrupt(wave, seed)
    return 1000 * (time.perf_counter() - start) / items


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mtl_aug.reporting.corrupt_cost",
        description="milliseconds of training corruption per item",
    )
    parser.add_argument(
        "--file",
        type=Path,
        default=Path("../shared/data/emodb/wav/03a01Fa.wav"),
        help="an audio file (default: an EMODB sentence)",
    )
    parser.add_argument(
        "--config", nargs="*", default=[], help="config overlays (default: the default config)"
    )
    parser.add_argument("--items", type=int, default=100, help="how many calls to time")
    args = parser.parse_args(argv)
    if args.items < 1:
        parser.error("--items must be at least 1")
    try:
        ms = ms_per_item(args.file, args.config, args.items)
    except (ConfigError, DataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{ms:.2f} ms per item")
    return 0


if __name__ == "__main__":
    sys.exit(main())
