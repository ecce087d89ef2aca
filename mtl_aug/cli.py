"""Command line: thin wrappers around the library functions."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from .config import load_class_sets, load_config
from .console import to_console
from .data.corpora import CORPUS_CHOICES, LAYOUTS, PREPARERS
from .data.manifest import Report
from .errors import ConfigError, DataError

DEMO_DATA = Path("data/synthetic_demo")


def _add_overlays(p: argparse.ArgumentParser) -> None:
    # action="extend": a repeated flag adds to the list (with argparse's default the last one wins)
    p.add_argument(
        "--config",
        nargs="*",
        action="extend",
        default=[],
        help="overlays applied in order over configs/default.yaml: names in configs/variant/ "
        "(e.g. stl, portable, debug) or YAML files",
    )
    p.add_argument(
        "--set",
        nargs="*",
        action="extend",
        default=[],
        metavar="KEY=VALUE",
        help="config values over the overlays, e.g. --set train.max_epochs=5 data.batch_size=32 "
        "(with make: SET='train.max_epochs=5 data.batch_size=32')",
    )


def _add_jobs(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="LOSO folds trained at once, CPU threads split between them",
    )


def _add_seed(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        help="random seed of the run (default: the config's `seed`, 0); each seed has its own run "
        "folder",
    )


def _add_seeds(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=[0],
        help="one full run per seed (e.g. --seeds 0 1 2); tables report the mean and spread over "
        "seeds",
    )


def _add_no_speech_check(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--no-speech-check",
        action="store_true",
        help="give every file an emotion, even where no speech is found (by default such a "
        "file gets 'no speech found'; e.g. for the synthetic demo corpus, which is not speech)",
    )


def cmd_prepare(args) -> None:
    from .data.corpora import prepare_librispeech

    name = args.name or args.corpus
    out = Path(args.out_dir) / f"{name}.csv"
    # the class set training on this corpus would use, checked before any audio is read
    classes = args.classes or load_config(name).data.classes
    if classes not in load_class_sets():
        raise ConfigError(
            f"{'--classes' if args.classes else 'data.classes'}: unknown class set '{classes}' "
            f"(known: {', '.join(load_class_sets())}; configs/classes.yaml)"
        )
    if args.corpus == "librispeech":
        df = prepare_librispeech(
            args.root, out, strict=args.strict, hours=args.hours, seed=args.seed
        )
    elif args.corpus in LAYOUTS:  # any corpus in that layout, named by --name
        options = {
            "generic": {"encoding": args.encoding},
            "folders": {"speaker": args.speaker},
        }.get(args.corpus, {})
        df = LAYOUTS[args.corpus](args.root, out, strict=args.strict, corpus=name, **options)
    elif args.corpus == "demand":
        df = PREPARERS["demand"](args.root, out, strict=args.strict, corpus=name)
    else:  # argparse allows only CORPUS_CHOICES
        df = PREPARERS[args.corpus](args.root, out, strict=args.strict)
    import json

    meta = json.loads(out.with_suffix(".json").read_text())
    print(f"wrote {out}: {len(df)} utterances, {meta['speakers']} speakers, {meta['hours']} h")
    if meta["emotions"]:
        print("emotions: " + ", ".join(f"{k} {v}" for k, v in sorted(meta["emotions"].items())))
    print(Report(meta["corpus"], skipped=meta["skipped"]).summary() or "skipped 0")
    from .data.class_report import class_set_summary

    summary = class_set_summary(df, classes)
    if summary:
        print(f"{name}: {summary}")
    if "outside it" in summary:
        print(
            "  (kept in the manifest; to train on them, map them to a class in "
            "configs/classes.yaml, relabel them, or choose another class set: --classes, "
            "data.classes)"
        )


def cmd_download(args) -> None:
    from .data.download import download_emodb

    download_emodb(Path(args.dest), url=args.url)


def cmd_train(args) -> None:
    from .training.train import train_fold

    train_fold(load_config(args.corpus, args.config, args.set, args.seed), fold_speaker=args.fold)


def cmd_demo(args) -> None:
    from .data.corpora import prepare_synthetic
    from .training.train import train_fold

    cfg = load_config("synthetic_demo", args.config, args.set, args.seed)
    prepare_synthetic(DEMO_DATA, Path(cfg.data.manifest_dir) / "synthetic_demo.csv")
    print(f"prepared the SYNTHETIC demo corpus under {DEMO_DATA} (not real speech)")
    train_fold(cfg, fold_speaker=args.fold)


def cmd_loso(args) -> None:
    from .protocols.loso import run_loso

    run_loso(
        load_config(args.corpus, args.config, args.set), args.seeds, args.fold_index, args.jobs
    )


def cmd_cross(args) -> None:
    from .protocols.cross import run_cross

    # cross-corpus needs one class set for both corpora: the shared 4-class set
    cfg = load_config(args.train, args.config, ["data.classes=four_class", *args.set])
    run_cross(cfg, args.test, args.seeds)


def cmd_loco(args) -> None:
    from .protocols.cross import run_loco

    cfg = load_config(args.corpora[0], args.config, ["data.classes=four_class", *args.set])
    run_loco(cfg, args.corpora, args.seeds)


def cmd_fusion(args) -> None:
    from .baseline.fusion import fuse_loso

    net = load_config(args.corpus, args.config, args.set)
    svm = load_config(args.corpus, [args.svm, *args.config], args.set)
    fuse_loso(net, svm, args.seeds, args.weight)


def cmd_deployed(args) -> None:
    from .protocols.deployed import run_deployed

    run_deployed(
        load_config(args.corpus, args.config, args.set), args.seeds, not args.no_speech_check
    )


def cmd_noise(args) -> None:
    from .protocols.noise import run_noise

    cfgs = [load_config(args.corpus, [v, *args.config], args.set) for v in args.variants]
    run_noise(cfgs, Path(args.noise), args.snrs, args.seeds, args.jobs)


def cmd_adversarial(args) -> None:
    from .inference.attacks import Attack, Budget
    from .protocols.adversarial import run_adversarial

    budgets = [Budget.parse(b) for b in args.budgets]
    attacks = [
        Attack(m, args.pgd_steps, args.pgd_step_size, not args.no_random_start)
        for m in args.attacks
    ]
    cfgs = [load_config(args.corpus, [v, *args.config], args.set) for v in args.variants]
    run_adversarial(cfgs, attacks, budgets, args.seeds, args.jobs, train=not args.no_train)


def cmd_evaluate(args) -> None:
    from .inference.evaluate import evaluate_checkpoint

    evaluate_checkpoint(args.checkpoint, args.manifest, Path(args.out) if args.out else None)


def cmd_predict(args) -> None:
    import csv
    import json

    from .data.manifest import AUDIO_SUFFIXES, audio_files
    from .inference.predict import predict_files, speakers_from

    paths, missing = [], []
    for p in map(Path, args.inputs):  # one rule for a file named and a file in a folder: its suffix
        if p.is_dir():
            paths += audio_files(p)
        elif not p.exists():
            missing.append(f"{p}: no such file or folder")
        elif p.suffix.lower() not in AUDIO_SUFFIXES:
            missing.append(f"{p}: not audio by its suffix (read: {', '.join(AUDIO_SUFFIXES)})")
        else:
            paths.append(p)
    speakers = speakers_from(paths, args.speaker_from) if args.speaker_from else None
    if args.out:  # before the work, so that a bad location loses nothing
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    rows, errors = predict_files(
        paths, args.checkpoint, args.window, speakers, not args.no_speech_check
    )
    errors = missing + errors
    out = open(args.out, "w", newline="") if args.out else sys.stdout
    if args.format == "jsonl":
        for r in rows:
            out.write(json.dumps(r) + "\n")
    elif rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    if args.out:
        out.close()
    for e in errors:
        print(f"skipped: {e}", file=sys.stderr)
    for r in rows:
        if r["warning"]:
            print(f"warning: {r['file']}: {r['warning']}", file=sys.stderr)
    silent = sum(not r["speech"] for r in rows)
    print(
        f"{len(rows) - silent} files predicted, {silent} without speech (no emotion), "
        f"{len(errors)} skipped (missing, unreadable or refused)",
        file=sys.stderr,
    )
    if not rows:
        raise DataError("no file could be predicted")


def cmd_export(args) -> None:
    from .inference.export import FORMATS, export

    out = (
        Path(args.out)
        if args.out
        else Path(args.checkpoint[0]).with_suffix(FORMATS.get(args.format, ""))
    )
    meta = export(args.checkpoint, args.format, out)
    print(
        f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB) and {out.with_suffix('.json')}: "
        f"{len(meta['checkpoints'])} model(s), classes {', '.join(meta['class_names'])}"
    )


def cmd_serve(args) -> None:
    from .inference.serve import (
        serve,
    )  # a bad checkpoint is reported by its loading, before the server starts

    serve(args.checkpoint, args.host, args.port, args.max_mb, args.max_seconds, args.max_pending)


def cmd_report(args) -> None:
    from .reporting.report import report

    print(report([Path(d) for d in args.dirs]))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mtl-aug", description=__doc__)
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="print warnings and errors only (progress bars and command results aside)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

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
    p.set_defaults(func=cmd_cross)

    p = sub.add_parser(
        "eval-loco", help="leave one corpus out: train on the others (union), test on it"
    )
    p.add_argument(
        "--corpora", nargs="+", required=True, help="prepared corpora, e.g. emodb urdu turev"
    )
    _add_overlays(p)
    _add_seeds(p)
    p.set_defaults(func=cmd_loco)

    p = sub.add_parser(
        "eval-fusion",
        help="late fusion of finished LOSO runs of the network and the SVM baseline: class "
        "probabilities averaged per utterance",
    )
    p.add_argument("--corpus", required=True, help="a corpus with both LOSO runs finished")
    p.add_argument("--svm", default="svm", help="the SVM's variant overlay (svm or svm_corpus)")
    p.add_argument(
        "--weight", type=float, default=0.5, help="the SVM's share: 0 = network only, 1 = SVM only"
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

    p = sub.add_parser("eval-noise", help="LOSO models trained on clean speech, tested at each SNR")
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
    p.add_argument(
        "--checkpoint",
        required=True,
        nargs="+",
        help="a checkpoint, or several (e.g. one per seed) whose class probabilities are averaged",
    )
    p.add_argument(
        "--manifest", required=True, help="a prepared manifest, e.g. data_manifests/urdu.csv"
    )
    p.add_argument("--out", help="folder for results.json and confusion.png (default: print only)")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", help="emotion and class probabilities per audio file")
    p.add_argument("inputs", nargs="+", help="audio files or folders")
    p.add_argument(
        "--checkpoint",
        required=True,
        nargs="+",
        help="a checkpoint, or several (e.g. one per seed) whose class probabilities are averaged",
    )
    p.add_argument(
        "--format",
        choices=["csv", "jsonl"],
        default="csv",
        help="one row (csv) or object (jsonl) per file",
    )
    p.add_argument("--out", help="output file (default: stdout)")
    p.add_argument(
        "--window", type=float, default=10.0, help="seconds; longer files are averaged over windows"
    )
    p.add_argument(
        "--speaker-from",
        help="group files by speaker, as the evaluation does (per-speaker statistics "
        "and centring): 'folder' (each file's folder), a CSV with columns path, "
        "speaker, or a regex with (?P<speaker>...) searched in the path",
    )
    _add_no_speech_check(p)
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser(
        "export",
        help="a checkpoint (or an ensemble) as ONNX or TorchScript, for use without the "
        "training code",
    )
    p.add_argument(
        "--checkpoint",
        required=True,
        nargs="+",
        help="a checkpoint, or several (e.g. one per seed) exported as one ensemble",
    )
    p.add_argument(
        "--format", choices=["onnx", "torchscript"], default="onnx", help="the file format"
    )
    p.add_argument(
        "--out",
        help="the model file (default: the first checkpoint's path with .onnx or .pt); "
        "its metadata is written beside it with the suffix .json",
    )
    p.set_defaults(func=cmd_export)

    p = sub.add_parser(
        "serve", help="an HTTP API (POST /predict) and a web page for a trained model"
    )
    p.add_argument(
        "--checkpoint",
        required=True,
        nargs="+",
        help="a checkpoint, or several (e.g. one per seed) whose class probabilities are averaged",
    )
    p.add_argument(
        "--host", default="127.0.0.1", help="the address to listen on (0.0.0.0: every interface)"
    )
    p.add_argument("--port", type=int, default=8000, help="the port to listen on")
    p.add_argument(
        "--max-mb", type=float, default=20.0, help="uploads larger than this are refused (413)"
    )
    p.add_argument(
        "--max-seconds", type=float, default=120.0, help="audio longer than this is refused (413)"
    )
    p.add_argument(
        "--max-pending",
        type=int,
        default=16,
        help="requests held at once (one is computed at a time); more are answered 503",
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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    to_console(logging.WARNING if args.quiet else logging.INFO)
    try:
        args.func(args)
    except (ConfigError, DataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
