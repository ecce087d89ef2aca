"""The subcommands that prepare corpora, train and run the training protocols."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..data.corpora import CORPUS_CHOICES, LAYOUTS, PREPARERS
from ..inference.shipped import CARD, SHIPPED
from .commands import (
    MODEL_CORPORA,
    cmd_cross,
    cmd_demo,
    cmd_deployed,
    cmd_download,
    cmd_fusion,
    cmd_loco,
    cmd_loso,
    cmd_model,
    cmd_prepare,
    cmd_train,
)
from .options import (
    _add_align_level,
    _add_jobs,
    _add_no_speech_check,
    _add_overlays,
    _add_seed,
    _add_seeds,
)


def add_run_commands(sub) -> None:
    """prepare, download, train, demo, loso, eval-cross, eval-loco, eval-fusion, eval-predict."""
    p = sub.add_parser("prepare", help="corpus folder -> data_manifests/<name>.csv")
    p.add_argument(
        "corpus",
        choices=CORPUS_CHOICES,
        metavar="corpus",
        help=f"a named corpus ({' | '.join(PREPARERS)}) or a layout any corpus may come in "
        f"({' | '.join(LAYOUTS)}; with --name)",
    )
    p.add_argument("root", type=Path, help="corpus folder (for generic: the CSV file)")
    p.add_argument(
        "--speaker",
        help="folders: regex with a named group (?P<speaker>...) (and optionally "
        "(?P<gender>...)) searched in each file's path under the root",
    )
    p.add_argument(
        "--out-dir",
        default="data_manifests",
        help="folder for <name>.csv and its sidecar <name>.json (training reads data_manifests/)",
    )
    p.add_argument(
        "--name", help="manifest name, used as CORPUS=<name> afterwards (default: the corpus)"
    )
    p.add_argument(
        "--strict", action="store_true", help="stop at the first bad file instead of skipping it"
    )
    p.add_argument(
        "--hours", type=float, help="librispeech: seeded random subset of about this many hours"
    )
    p.add_argument("--seed", type=int, default=0, help="librispeech: seed of the --hours subset")
    p.add_argument(
        "--encoding", default="utf-8", help="generic: text encoding of the CSV (e.g. latin-1)"
    )
    p.add_argument(
        "--classes",
        help="the class set (configs/classes.yaml) the labels are checked against; labels "
        "outside it are counted and named (default: data.classes of the config training on "
        "this corpus would use)",
    )
    p.set_defaults(func=cmd_prepare)

    p = sub.add_parser(
        "download", help="download and unpack EMODB (the only freely downloadable corpus)"
    )
    p.add_argument("dest", help="folder to unpack into (then: mtl-aug prepare emodb <dest>)")
    p.add_argument(
        "--url",
        default=None,
        help="another address of the EMODB archive (default: the official one)",
    )
    p.set_defaults(func=cmd_download)

    p = sub.add_parser("train", help="train and test one leave-one-speaker-out fold")
    p.add_argument(
        "--corpus", default="synthetic_demo", help="a prepared corpus: data_manifests/<corpus>.csv"
    )
    _add_seed(p)
    _add_overlays(p)
    p.add_argument("--fold", help="test speaker (default: the first speaker in sorted order)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("demo", help="generate the synthetic demo corpus and train on it")
    _add_seed(p)
    _add_overlays(p)
    p.add_argument("--fold", default=None, help="test speaker (default: spk00)")
    p.set_defaults(func=cmd_demo)
    p = sub.add_parser(
        "loso", help="leave-one-speaker-out over every fold and seed, then the summary"
    )
    p.add_argument("--corpus", required=True, help="a prepared corpus: data_manifests/<corpus>.csv")
    _add_overlays(p)
    _add_seeds(p)
    p.add_argument(
        "--fold-index",
        type=int,
        default=None,
        help="run only this fold (0-based), e.g. one per GPU",
    )
    _add_jobs(p)
    p.set_defaults(func=cmd_loso)

    p = sub.add_parser("eval-cross", help="train on one corpus (all speakers), test on another")
    p.add_argument(
        "--train", required=True, help="corpus trained on, all its speakers (a+b: the union of two)"
    )
    p.add_argument(
        "--test", required=True, help="corpus tested on, every utterance (not among --train)"
    )
    _add_overlays(p)
    _add_seeds(p)
    _add_align_level(p, "the test corpus (results in <variant>_level)")
    p.set_defaults(func=cmd_cross)

    p = sub.add_parser(
        "eval-loco", help="leave one corpus out: train on the others (union), test on it"
    )
    p.add_argument(
        "--corpora", nargs="+", required=True, help="prepared corpora, e.g. emodb urdu turev"
    )
    _add_overlays(p)
    _add_seeds(p)
    _add_align_level(p, "each held-out corpus (results in <variant>_level)")
    p.set_defaults(func=cmd_loco)

    p = sub.add_parser(
        "model",
        help="rebuild the shipped model and docs/model_card.md: leave one corpus out for the "
        "card's figures, then one model on all the corpora",
    )
    p.add_argument(
        "--corpora",
        nargs="+",
        default=list(MODEL_CORPORA),
        help=f"prepared corpora (default: {' '.join(MODEL_CORPORA)})",
    )
    _add_overlays(p)  # without --config: the shipped recipe, multi
    _add_seed(p)
    p.add_argument(
        "--out",
        default=str(SHIPPED),
        help="where the model goes (default: inside the package, which predict and serve use)",
    )
    p.add_argument("--card", default=str(CARD), help="where the model card goes")
    p.set_defaults(func=cmd_model)

    p = sub.add_parser(
        "eval-fusion",
        help="late fusion of finished LOSO runs of the network and the SVM baseline: class "
        "probabilities averaged per utterance",
    )
    p.add_argument("--corpus", required=True, help="a corpus with both LOSO runs finished")
    p.add_argument(
        "--svm",
        default="svm_corpus",
        help="the SVM's variant overlay: svm_corpus (the default: a file at a time, as the "
        "default network) or svm (per-speaker, beside CONFIG=speaker)",
    )
    p.add_argument(
        "--weight",
        type=_fusion_weight,
        default=None,
        help="the SVM's share: 0 = network only, 1 = SVM only; nested (the default): chosen per "
        "fold by the other folds' pooled UAR",
    )
    _add_overlays(p)
    _add_seeds(p)
    p.set_defaults(func=cmd_fusion)

    p = sub.add_parser(
        "eval-predict",
        help="the LOSO models through `predict` on their test speaker, one file at "
        "a time and grouped by speaker, beside the evaluation path",
    )
    p.add_argument(
        "--corpus",
        required=True,
        help="a prepared corpus whose LOSO models exist (make loso first)",
    )
    _add_overlays(p)
    _add_seeds(p)
    _add_no_speech_check(p)
    p.set_defaults(func=cmd_deployed)


def _fusion_weight(text: str) -> float | None:
    """--weight: a number, or `nested` (None: fuse_loso chooses it per fold)."""
    if text == "nested":
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"from 0 to 1, or nested; not {text!r}") from None
