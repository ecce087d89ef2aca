"""`make model`: the model shipped in the package and its card. Leave-one-corpus-out over the
corpora gives the card's figures (each corpus judged as a new one, a file at a time); then the
same recipe trains on all of them, and that checkpoint, without its training state, is the
shipped model. Finished runs are reused, as everywhere (a crash resumes)."""

from __future__ import annotations

import logging
from pathlib import Path

from ..config import Config
from ..data.datamodule import load_labelled
from ..inference.evaluate import load_checkpoint
from ..inference.shipped import CARD, SHIPPED
from ..reporting.model_card import write_card
from ..reporting.tables import loco_results
from ..training.checkpoint import strip_training_state
from ..training.provenance import provenance
from ..training.runs import fold_checkpoint
from ..training.train import train_fold
from .cross import run_loco

log = logging.getLogger(__name__)


def build_model(
    cfg: Config, config: str, corpora: list[str], out: Path = SHIPPED, card: Path = CARD
) -> dict:
    """Leave-one-corpus-out over `corpora` (cfg.seed), as a file at a time and with each
    held-out corpus's level aligned (--align-level), then one model on all of them, copied to
    `out` without its training state; the card written to `card`. `config`: the overlays that
    made cfg, as the card names them. Returns the card's meta."""
    written_at = _commit(provenance())  # before the model and card change the working tree
    loco = loco_results(run_loco(cfg, corpora, [cfg.seed]), cfg.seed)
    aligned = loco_results(run_loco(cfg, corpora, [cfg.seed], align_level=True), cfg.seed)
    union = cfg.replace(corpus="+".join(corpora))
    trained = train_fold(union, all_speakers=True)
    strip_training_state(fold_checkpoint(union, trained["fold"], trained), out)
    df = load_labelled(union)[0]
    kept = df[~df["speaker"].isin(trained["val_speakers"])]
    meta = {
        "checkpoint": _shown(out),
        "size_mb": out.stat().st_size / 1e6,
        "trained_at": _commit(trained.get("provenance", {})),
        "written_at": written_at,
        "config": config,
        "variant": cfg.variant,
        "seed": cfg.seed,
        "epochs": cfg.train.max_epochs,
        "fit_min": trained["fit_s"] / 60 if "fit_s" in trained else None,
        "classes": cfg.data.classes,
        "class_names": trained["class_names"],
        "val_speakers": trained["val_speakers"],
        "training_level": load_checkpoint(out, "cpu").training_level,
        "corpora": {
            c: {"speakers": g["speaker"].nunique(), "utterances": len(g)}
            for c, g in kept.groupby("source", sort=False)
        },
    }
    write_card(card, meta, loco, aligned)
    log.info(f"wrote {out} ({meta['size_mb']:.1f} MB) and {card}")
    return meta


def _commit(prov: dict) -> str:
    """A provenance record's commit, and whether the working tree had uncommitted changes."""
    commit = (prov.get("commit") or "unknown")[:12]
    return commit + (" with uncommitted changes" if prov.get("dirty") else "")


def _shown(path: Path) -> str:
    """The path as a reader of the repository sees it (relative to it where inside)."""
    try:
        return str(path.resolve().relative_to(SHIPPED.parents[2]))
    except ValueError:
        return str(path)
