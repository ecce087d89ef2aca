"""Store the training level (data/level.py) in checkpoints written before training stored it,
so that they can align a folder's level (`predict --align-level`, `evaluate --align-level`).

    python -m mtl_aug.training.store_level <checkpoint> [...] [--fold all|<speaker>]

The checkpoint's training items are found again from its config and fold (the run folder's
name, or --fold for a checkpoint moved out of its run folder) in the prepared manifests, read,
and checked against the class counts and statistics the checkpoint holds: where those differ,
the training data has changed since, and nothing is written. Checkpoints of the same training
items share one reading."""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

import torch

from ..errors import ConfigError, DataError
from .checkpoint import check_checkpoint


def fold_of(path: Path, fold: str | None) -> str:
    """The fold a checkpoint was trained on: `fold`, else its run folder's name."""
    if fold is not None:
        return fold
    if path.parent.name != "checkpoints":
        raise DataError(
            f"{path} is not in a run folder (runs/.../<fold>/checkpoints/): name its fold with "
            "--fold (all for a model trained on every speaker)"
        )
    return path.parent.parent.name


def store_level(paths: list[Path], fold: str | None = None) -> dict[Path, float]:
    """Each checkpoint's training level (dBFS), written into those that lack it."""
    from ..data.audio import LogMel
    from ..data.datamodule import EmotionDataModule
    from ..inference.evaluate import load_checkpoint

    found, levels = {}, {}
    for path in paths:
        lit = load_checkpoint(path, "cpu")
        if not math.isnan(lit.training_level):
            found[path] = lit.training_level
            continue
        name = fold_of(path, fold)
        dm = EmotionDataModule(lit.cfg, None if name == "all" else name, all_speakers=name == "all")
        train = dm.datasets["train"]
        key = tuple(train.paths)
        if key not in levels:
            logmel = LogMel.from_config(lit.cfg.features, lit.cfg.data.sample_rate)
            logmel.fit(train.wave, len(train))
            levels[key] = logmel
        fitted = levels[key]
        counts = lit.hparams.get("class_counts")
        if (counts is not None and counts != dm.class_counts) or (
            lit.logmel.has_corpus_stats
            and not torch.allclose(fitted.mean, lit.logmel.mean, atol=1e-4)
        ):
            raise DataError(
                f"{path}: the training items of fold {name} in {lit.cfg.data.manifest_dir} are "
                "not those it was trained on (their class counts or statistics differ): "
                "nothing written"
            )
        content = torch.load(path, map_location="cpu", weights_only=False)
        content["state_dict"]["logmel.level"] = fitted.level.clone()
        partial = path.with_name(path.name + ".partial")  # an interrupted write loses nothing
        torch.save(content, partial)
        check_checkpoint(partial)
        os.replace(partial, path)
        found[path] = float(fitted.level)
    return found


def main(argv: list[str] | None = None) -> int:
    from ..console import to_console

    p = argparse.ArgumentParser(
        prog="python -m mtl_aug.training.store_level",
        description=__doc__,
        formatter_class=argparse.RawTextHelpFormatter,
    )
    p.add_argument("checkpoints", nargs="+", type=Path)
    p.add_argument("--fold", help="the fold of checkpoints outside a run folder: all or a speaker")
    args = p.parse_args(argv)
    to_console()
    try:
        for path, level in store_level(args.checkpoints, args.fold).items():
            print(f"{path}: training level {level:.2f} dBFS")
    except (ConfigError, DataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
