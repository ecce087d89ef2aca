"""Trained checkpoints on audio: loading, class probabilities, scores on a corpus (optionally
with its audio altered first, e.g. mixed with noise)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Callable

import pandas as pd
import torch

from ..data.audio import load_audio, pad_batch
from ..data.level import active_level, align_gain, require_level, scaled
from ..data.manifest import apply_class_map, read_manifest
from ..errors import ConfigError, DataError
from ..reporting.metrics import scores
from ..reporting.report import confusion_table
from ..training.checkpoint import check_checkpoint
from ..training.lit import LitMTLAug

log = logging.getLogger(__name__)


def load_checkpoint(path: str | Path, device: str | None = None) -> LitMTLAug:
    check_checkpoint(
        path,
        advice="a file cut short by a full disk or an interrupted copy can be copied again; "
        "otherwise train the model again",
    )
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        lit = LitMTLAug.load_from_checkpoint(path, map_location=device)
    except ConfigError as exc:  # its saved config: name the file among an ensemble's
        raise ConfigError(f"checkpoint {path}: {exc}") from exc
    return lit.eval().to(device)


@torch.no_grad()
def predict_waves(
    lit: LitMTLAug,
    waves: list[torch.Tensor],
    batch_size: int = 16,
    stats: torch.Tensor | None = None,
    speakers: list[str] | None = None,
) -> torch.Tensor:
    """Class probabilities (N, C) for 16 kHz waveforms, batched by similar length; `stats`
    (N, 2, F) are the speaker statistics for a model that normalises per speaker, and
    `speakers` (N,) group the embeddings for a model that centres them per speaker."""
    order = sorted(range(len(waves)), key=lambda i: len(waves[i]))
    embedding = torch.zeros(len(waves), lit.cfg.model.embedding_dim, device=lit.device)
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        padded, lengths = pad_batch([waves[i] for i in idx])
        batch_stats = stats[idx].to(lit.device) if stats is not None else None
        feats, n = lit.logmel(padded.to(lit.device), lengths.to(lit.device), batch_stats)
        embedding[idx] = lit.model(feats, n, aux=False)["embedding"]
    codes = torch.from_numpy(pd.factorize(pd.Series(speakers))[0]) if speakers is not None else None
    return lit.model.emotion.classify(embedding, codes).softmax(-1).cpu()


def evaluate_frame(
    lit: LitMTLAug, df: pd.DataFrame, transform: Callable | None = None, align_level: bool = False
) -> dict:
    """Scores of `lit` on the labelled rows of `df`; `transform(wave, row_position)` alters the
    audio first (noise mixing). Speaker statistics, where used, come from the evaluated audio.
    `align_level`: one gain moves all of `df`'s audio onto the training set's median level
    (data/level.py), returned as `gain_db`."""
    sr = lit.cfg.data.sample_rate
    waves = [load_audio(p, sr) for p in df["path"]]
    if transform is not None:
        waves = [transform(w, i) for i, w in enumerate(waves)]
    gain = 0.0
    if align_level:
        require_level("the model", lit.training_level)
        levels = [active_level(w) for w in waves]
        gain = align_gain(levels, lit.training_level, "the evaluated recordings")
        waves = scaled(waves, gain)
    stats = lit.logmel.item_stats(df["speaker"].tolist(), waves.__getitem__)
    probs = predict_waves(lit, waves, lit.cfg.data.batch_size, stats, df["speaker"].tolist())
    targets = torch.tensor(df["label"].to_numpy())
    result = scores(probs.argmax(-1), targets, lit.num_classes)
    result.update(preds=probs.argmax(-1), probs=probs, targets=targets, gain_db=gain)
    return result


def labelled_for(lit: LitMTLAug, manifest: str | Path) -> pd.DataFrame:
    """A manifest's utterances mapped into the checkpoint's class set."""
    df = read_manifest(manifest)
    classes = lit.cfg.data.classes
    df, names, dropped = apply_class_map(df, classes)
    if names != lit.class_names:
        raise ConfigError(f"class set '{classes}' has changed since the checkpoint was trained")
    if df.empty:
        raise DataError(
            f"class set '{classes}' maps no utterance of {manifest}: "
            f"cross-corpus evaluation needs a shared class set such as four_class"
        )
    if dropped:
        log.info(
            f"{manifest}: {sum(dropped.values())} utterances outside '{classes}' dropped "
            f"({', '.join(f'{k} {v}' for k, v in sorted(dropped.items()))})"
        )
    return df


def load_ensemble(checkpoints: list[str | Path], device: str | None = None) -> list[LitMTLAug]:
    """Checkpoints whose probabilities are averaged: they must share the class set."""
    models = [load_checkpoint(c, device) for c in checkpoints]
    for c, m in zip(checkpoints[1:], models[1:], strict=True):
        if m.class_names != models[0].class_names:
            raise ConfigError(
                f"{c} predicts {m.class_names}, {checkpoints[0]} {models[0].class_names}: "
                "an ensemble needs one class set"
            )
    return models


def evaluate_checkpoint(
    checkpoints: list[str | Path],
    manifest: str | Path,
    out: Path | None = None,
    align_level: bool = False,
) -> dict:
    """`mtl-aug evaluate`: a checkpoint (or several, their class probabilities averaged) on every
    utterance of a manifest; no retraining. `align_level`: the manifest's audio is first moved by
    one gain onto each model's training level (evaluate_frame)."""
    models = load_ensemble(checkpoints)
    lit = models[0]
    if align_level:
        for c, m in zip(checkpoints, models, strict=True):
            require_level(c, m.training_level)
    df = labelled_for(lit, manifest)
    runs = [evaluate_frame(m, df, align_level=align_level) for m in models]
    probs = torch.stack([r["probs"] for r in runs]).mean(0)
    result = scores(probs.argmax(-1), torch.tensor(df["label"].to_numpy()), lit.num_classes)
    summary = {
        "checkpoints": [str(c) for c in checkpoints],
        "manifest": str(manifest),
        "class_names": lit.class_names,
        **{k: result[k] for k in ("uar", "wa", "recall", "confusion", "n")},
    }
    if align_level:
        summary["level_gain_db"] = [round(r["gain_db"], 2) for r in runs]
        log.info(
            f"{Path(manifest).stem}: level moved "
            + ", ".join(
                f"{r['gain_db']:+.1f} dB onto {m.training_level:.1f} dBFS"
                for r, m in zip(runs, models, strict=True)
            )
        )
    what = f"ensemble of {len(models)}: " if len(models) > 1 else ""
    log.info(
        f"{Path(manifest).stem}: {what}UAR {result['uar']:.4f}  WA {result['wa']:.4f}  "
        f"({result['n']} utterances)"
    )
    log.info(confusion_table(result["confusion"], lit.class_names))
    if out is not None:
        from ..reporting.plots import plot_confusion

        out.mkdir(parents=True, exist_ok=True)
        (out / "results.json").write_text(json.dumps(summary, indent=2) + "\n")
        plot_confusion(
            result["confusion"],
            lit.class_names,
            out / "confusion.png",
            f"{Path(checkpoints[0]).parent.parent.name}{' +' if len(models) > 1 else ''} on "
            f"{Path(manifest).stem}",
        )
    return summary
