"""What a lone file gets: one checkpoint's UAR on a manifest's utterances (optionally one
speaker's) by each inference path.

    python -m mtl_aug.reporting.lone <checkpoint> data_manifests/emodb.csv [--speaker 08] [--own]

prints `<manifest> <speaker or all>: eval U, lone U, grouped U[, own U]` (UAR %):
  eval     the evaluation path: speaker statistics and centring over the evaluated files
  lone     `predict`, one file at a time (the training set's statistics, no centring)
  grouped  `predict --speaker-from`: each speaker's files together
  own      (--own) each file normalised on its own statistics, what `predict` did for a
           per-speaker model before checkpoints stored the training set's statistics

`make eval-predict` gives the first three for every fold of a LOSO run; this one takes any
checkpoint (a single `make train` fold, an eval-cross `all` model) and manifest.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from ..errors import ConfigError, DataError
from .metrics import scores


def path_uars(
    checkpoint: Path,
    manifest: Path,
    speaker: str | None = None,
    own: bool = False,
    check_speech: bool = True,
):
    """{path: UAR (fraction)} of `checkpoint` on `manifest` (mapped into its class set)."""
    from ..data.audio import load_audio
    from ..inference.evaluate import evaluate_frame, labelled_for, load_checkpoint, predict_waves
    from ..inference.predict import predict_files

    lit = load_checkpoint(checkpoint, "cpu")
    df = labelled_for(lit, manifest)
    if speaker is not None:
        df = df[df["speaker"].astype(str) == speaker].reset_index(drop=True)
        if df.empty:
            raise DataError(f"{manifest} has no labelled utterance of speaker {speaker}")
    idx = {n: i for i, n in enumerate(lit.class_names)}
    idx[None] = len(idx)  # no speech found: a class no file has, so always a miss (as eval-predict)
    targets = torch.tensor(df["label"].to_numpy())

    def uar(preds: list[int]) -> float:
        return scores(torch.tensor(preds), targets, len(idx))["uar"]

    out = {"eval": evaluate_frame(lit, df)["uar"]}
    paths = [Path(p) for p in df["path"]]
    for mode in ("lone", "grouped"):
        groups = df["speaker"].astype(str).tolist() if mode == "grouped" else None
        rows, errors = predict_files(
            paths, [checkpoint], speakers=groups, check_speech=check_speech
        )
        if errors:
            raise DataError(f"{len(errors)} files of {manifest} unreadable: {errors[0]}")
        out[mode] = uar([idx[r["pred"]] for r in rows])
    if own:
        if not lit.logmel.per_speaker:
            raise ConfigError(f"--own needs a per-speaker model; {checkpoint} is not one")
        preds = []
        for p in paths:
            w = load_audio(p, lit.cfg.data.sample_rate)
            stats = lit.logmel.stats([w])[None]  # (1, 2, F): the file's own statistics
            preds.append(int(predict_waves(lit, [w], stats=stats)[0].argmax()))
        out["own"] = uar(preds)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mtl_aug.reporting.lone",
        description="a checkpoint's UAR by inference path: evaluation, predict one file at a "
        "time, predict grouped by speaker",
    )
    parser.add_argument("checkpoint", type=Path, help="a .ckpt file")
    parser.add_argument("manifest", type=Path, help="a manifest, e.g. data_manifests/emodb.csv")
    parser.add_argument("--speaker", help="only this speaker's utterances (a LOSO fold's)")
    parser.add_argument(
        "--no-speech-check",
        action="store_true",
        help="judge every file, as predict --no-speech-check (a file without speech is a miss "
        "otherwise)",
    )
    parser.add_argument(
        "--own", action="store_true", help="also each file on its own statistics (per speaker)"
    )
    args = parser.parse_args(argv)
    try:
        out = path_uars(
            args.checkpoint, args.manifest, args.speaker, args.own, not args.no_speech_check
        )
    except (ConfigError, DataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"{args.manifest.stem} {args.speaker or 'all'}: "
        + ", ".join(f"{k} {100 * v:.2f}" for k, v in out.items())
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
