"""What band-limited audio costs a model: each labelled file of a corpus through `predict` as
it is and as a telephone line carries it (8 kHz, 300-3400 Hz; data/band.py), a file at a time;
UAR and recall per class for both, and how many files of each `predict` warns about as
band-limited. Writes the telephone copies (8 kHz WAV) under --out; asserts nothing.

    python -m mtl_aug.reporting.telephone CORPUS [CORPUS ...] [--checkpoint C] [--out DIR]"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import soundfile as sf
import torch

from ..config import load_config
from ..data import band
from ..data.audio import load_audio
from ..data.datamodule import load_labelled
from ..inference.predict import predict_files
from ..inference.shipped import checkpoints_or_shipped
from .metrics import scores
from .report import markdown_table


def telephone_copies(paths: list[str], ids: list[str], out: Path) -> list[Path]:
    """The telephone copy of each file, written once as `out/<utterance id>.wav` (8 kHz)."""
    out.mkdir(parents=True, exist_ok=True)
    copies = []
    for p, utt in zip(paths, ids, strict=True):
        copy = out / (utt.replace("/", "__") + ".wav")
        if not copy.is_file():
            wave = load_audio(p, 16000)
            sf.write(copy, band.telephone(wave, 16000).clamp(-1, 1).numpy(), band.TELEPHONE_SR)
        copies.append(copy)
    return copies


def measure(corpus: str, checkpoints: list, out: Path) -> tuple[list[list[str]], list[str]]:
    cfg = load_config(corpus, overrides=["data.classes=four_class"])  # the shipped classes
    df, names, _ = load_labelled(cfg, corpus)
    paths = df["path"].tolist()
    target = torch.tensor(df["label"].tolist())
    idx = {n: i for i, n in enumerate(names)}
    idx[None] = len(names)  # no emotion (no speech found, or skipped): a class no file has, a miss
    rows = []
    for path_name, files in (
        ("wideband (as recorded)", [Path(p) for p in paths]),
        (
            f"telephone ({band.TELEPHONE_SR} Hz, 300-3400 Hz)",
            telephone_copies(paths, df["utt_id"].tolist(), out / corpus),
        ),
    ):
        got, errors = predict_files(files, checkpoints)  # skipped files: absent from `got`
        for error in errors:
            print(f"skipped (a miss): {error}", file=sys.stderr)
        pred_of = {r["file"]: idx[r["pred"]] for r in got}
        pred = torch.tensor([pred_of.get(str(f), idx[None]) for f in files])
        s = scores(pred, target, len(idx))
        missed = int((pred == idx[None]).sum())
        warned = sum("band-limited" in r["warning"] for r in got)
        rows.append(
            [corpus, path_name, str(len(files)), f"{100 * s['uar']:.1f}"]
            + [f"{100 * r:.0f}" if r is not None else "-" for r in s["recall"][: len(names)]]
            + [str(missed), str(warned)]
        )
    return rows, names


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpora", nargs="+", help="prepared manifests (data_manifests/<corpus>.csv)")
    ap.add_argument("--checkpoint", nargs="+", help="default: the shipped model")
    ap.add_argument("--out", type=Path, default=Path("results/telephone"))
    args = ap.parse_args()
    checkpoints = checkpoints_or_shipped(args.checkpoint)
    table, names = [], []
    for corpus in args.corpora:
        rows, names = measure(corpus, checkpoints, args.out)
        table += rows
    head = ["corpus", "audio", "files", "UAR %"] + [f"{n} %" for n in names]
    head += ["no emotion", "warned band-limited"]
    print("\n".join(markdown_table(head, table)))


if __name__ == "__main__":
    main()
