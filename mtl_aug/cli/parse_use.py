"""The subcommands that evaluate, attack, predict with, export and serve trained models."""

from __future__ import annotations

from ..inference.limits import MAX_MB, MAX_PENDING, MAX_SECONDS, WINDOW_SECONDS
from .commands import (
    cmd_adversarial,
    cmd_evaluate,
    cmd_export,
    cmd_noise,
    cmd_predict,
    cmd_report,
    cmd_serve,
)
from .options import (
    _add_align_level,
    _add_checkpoints,
    _add_jobs,
    _add_no_speech_check,
    _add_overlays,
    _add_seeds,
)


def add_use_commands(sub) -> None:
    """eval-noise, eval-adversarial, evaluate, predict, export, serve, report."""
    p = sub.add_parser("eval-noise", help="LOSO models tested clean and in noise at each SNR")
    p.add_argument(
        "--corpus", required=True, help="a prepared corpus whose LOSO models exist (trained if not)"
    )
    p.add_argument("--noise", required=True, help="DEMAND folder or any folder of noise recordings")
    p.add_argument(
        "--snrs", type=float, nargs="+", default=[0, 10, 20], help="signal-to-noise ratios in dB"
    )
    p.add_argument(
        "--variants", nargs="+", default=["stl", "mtl_aug"], help="variant overlays compared"
    )
    _add_jobs(p)
    _add_overlays(p)
    _add_seeds(p)
    p.set_defaults(func=cmd_noise)

    p = sub.add_parser(
        "eval-adversarial",
        help="LOSO models attacked on the waveform (white-box FGSM, PGD) on "
        "their test speaker at each budget, and the transfer between variants",
    )
    p.add_argument(
        "--corpus", required=True, help="a prepared corpus whose LOSO models exist (trained if not)"
    )
    p.add_argument(
        "--variants", nargs="+", default=["stl", "mtl_aug"], help="variant overlays compared"
    )
    p.add_argument(
        "--attacks",
        nargs="+",
        default=["fgsm", "pgd"],
        help="fgsm, pgd, and random (noise at the bound, the reference)",
    )
    p.add_argument(
        "--budgets",
        nargs="+",
        default=["50", "40", "30", "20"],
        help="signal-to-perturbation ratios in dB per utterance (50: very quiet, 20: clearly "
        "audible), "
        "or plain L-infinity bounds as eps=0.001",
    )
    p.add_argument("--pgd-steps", type=int, default=10, help="PGD: gradient steps")
    p.add_argument(
        "--pgd-step-size",
        type=float,
        default=0.25,
        help="PGD: step size as a fraction of the bound",
    )
    p.add_argument(
        "--no-random-start",
        action="store_true",
        help="PGD: start at the clean audio, not a random point of the bound's ball",
    )
    p.add_argument(
        "--no-train",
        action="store_true",
        help="stop with an error if a LOSO model is missing instead of training it",
    )
    _add_jobs(p)
    _add_overlays(p)
    _add_seeds(p)
    p.set_defaults(func=cmd_adversarial)

    p = sub.add_parser(
        "evaluate", help="a checkpoint on every utterance of a manifest (no retraining)"
    )
    _add_checkpoints(p)
    p.add_argument(
        "--manifest", required=True, help="a prepared manifest, e.g. data_manifests/urdu.csv"
    )
    p.add_argument("--out", help="folder for results.json and confusion.png (default: print only)")
    _add_align_level(p, "the manifest's recordings")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", help="emotion and class probabilities per audio file")
    p.add_argument("inputs", nargs="+", help="audio files or folders")
    _add_checkpoints(p, shipped=True)
    p.add_argument(
        "--format",
        choices=["csv", "jsonl"],
        default="csv",
        help="one row (csv) or object (jsonl) per file",
    )
    p.add_argument("--out", help="output file (default: stdout)")
    p.add_argument(
        "--window",
        type=float,
        default=WINDOW_SECONDS,
        help=f"seconds (default {WINDOW_SECONDS:g}); longer files are averaged over windows",
    )
    p.add_argument(
        "--speaker-from",
        help="group files by speaker, as the evaluation does (per-speaker statistics "
        "and centring): 'folder' (each file's folder), a CSV with columns path, "
        "speaker, or a regex with (?P<speaker>...) searched in the path",
    )
    _add_no_speech_check(p)
    _add_align_level(p, "all the files given (their speech)")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser(
        "export",
        help="a checkpoint (or an ensemble) as ONNX or TorchScript, for use without the "
        "training code",
    )
    p.add_argument(
        "--checkpoint",
        nargs="+",
        help="a checkpoint, or several (e.g. one per seed) exported as one ensemble "
        "(default: the shipped model, docs/model_card.md)",
    )
    p.add_argument(
        "--format", choices=["onnx", "torchscript"], default="onnx", help="the file format"
    )
    p.add_argument(
        "--out",
        help="the model file (default: the first checkpoint's name with .onnx or .pt, in the "
        "current folder, e.g. model.onnx); its metadata is written beside it with the suffix .json",
    )
    p.set_defaults(func=cmd_export)

    p = sub.add_parser(
        "serve", help="an HTTP API (POST /predict) and a web page for a trained model"
    )
    _add_checkpoints(p, shipped=True)
    p.add_argument(
        "--host", default="127.0.0.1", help="the address to listen on (0.0.0.0: every interface)"
    )
    p.add_argument("--port", type=int, default=8000, help="the port to listen on")
    p.add_argument(
        "--max-mb",
        type=float,
        default=MAX_MB,
        help=f"uploads larger than this are refused (413; default {MAX_MB:g})",
    )
    p.add_argument(
        "--max-seconds",
        type=float,
        default=MAX_SECONDS,
        help=f"audio longer than this is refused (413; default {MAX_SECONDS:g})",
    )
    p.add_argument(
        "--max-pending",
        type=int,
        default=MAX_PENDING,
        help=f"requests held at once (default {MAX_PENDING}; one is computed at a time); more "
        "are answered 503",
    )
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("report", help="LOSO results folders side by side in one markdown table")
    p.add_argument(
        "dirs",
        nargs="+",
        help="results folders of LOSO runs (results/<corpus>/<variant>/), the "
        "first one the reference of the paired differences",
    )
    p.set_defaults(func=cmd_report)
