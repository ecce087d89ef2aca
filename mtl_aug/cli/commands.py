"""What each subcommand does: thin wrappers around the library functions."""

from __future__ import annotations

import sys
from pathlib import Path

from ..config import load_class_sets, load_config
from ..data.corpora import LAYOUTS, PREPARERS
from ..data.manifest import Report
from ..errors import ConfigError, DataError

DEMO_DATA = Path("data/synthetic_demo")
# the shipped model's recipe and corpora (make model, docs/model_card.md)
MODEL_CONFIG = ("multi",)
MODEL_CORPORA = ("emodb", "urdu", "turev", "tess", "emovo")


def cmd_prepare(args) -> None:
    from ..data.corpora import prepare_librispeech

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
    from ..data.class_report import class_set_summary

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
    from ..data.download import download_emodb

    download_emodb(Path(args.dest), url=args.url)


def cmd_train(args) -> None:
    from ..training.train import train_fold

    train_fold(load_config(args.corpus, args.config, args.set, args.seed), fold_speaker=args.fold)


def cmd_demo(args) -> None:
    from ..data.corpora import prepare_synthetic
    from ..training.train import train_fold

    cfg = load_config("synthetic_demo", args.config, args.set, args.seed)
    prepare_synthetic(DEMO_DATA, Path(cfg.data.manifest_dir) / "synthetic_demo.csv")
    print(f"prepared the SYNTHETIC demo corpus under {DEMO_DATA} (not real speech)")
    train_fold(cfg, fold_speaker=args.fold)


def cmd_loso(args) -> None:
    from ..protocols.loso import run_loso

    run_loso(
        load_config(args.corpus, args.config, args.set), args.seeds, args.fold_index, args.jobs
    )


def cmd_cross(args) -> None:
    from ..protocols.cross import run_cross

    # cross-corpus needs one class set for both corpora: the shared 4-class set
    cfg = load_config(args.train, args.config, ["data.classes=four_class", *args.set])
    run_cross(cfg, args.test, args.seeds, args.align_level)


def cmd_loco(args) -> None:
    from ..protocols.cross import run_loco

    cfg = load_config(args.corpora[0], args.config, ["data.classes=four_class", *args.set])
    run_loco(cfg, args.corpora, args.seeds, args.align_level)


def cmd_model(args) -> None:
    from ..protocols.ship import build_model

    overlays = args.config or list(MODEL_CONFIG)
    cfg = load_config(args.corpora[0], overlays, ["data.classes=four_class", *args.set], args.seed)
    build_model(cfg, " ".join(overlays), args.corpora, Path(args.out), Path(args.card))


def cmd_fusion(args) -> None:
    from ..baseline.fusion import fuse_loso

    net = load_config(args.corpus, args.config, args.set)
    svm = load_config(args.corpus, [args.svm], args.set)  # as `make loso CONFIG=<svm>` made it
    fuse_loso(net, svm, args.seeds, args.weight)


def cmd_deployed(args) -> None:
    from ..protocols.deployed import run_deployed

    run_deployed(
        load_config(args.corpus, args.config, args.set), args.seeds, not args.no_speech_check
    )


def cmd_noise(args) -> None:
    from ..protocols.noise import run_noise

    cfgs = [load_config(args.corpus, [v, *args.config], args.set) for v in args.variants]
    run_noise(cfgs, Path(args.noise), args.snrs, args.seeds, args.jobs)


def cmd_adversarial(args) -> None:
    from ..inference.attacks import Attack, Budget
    from ..protocols.adversarial import run_adversarial

    budgets = [Budget.parse(b) for b in args.budgets]
    attacks = [
        Attack(m, args.pgd_steps, args.pgd_step_size, not args.no_random_start)
        for m in args.attacks
    ]
    cfgs = [load_config(args.corpus, [v, *args.config], args.set) for v in args.variants]
    run_adversarial(cfgs, attacks, budgets, args.seeds, args.jobs, train=not args.no_train)


def cmd_evaluate(args) -> None:
    from ..inference.evaluate import evaluate_checkpoint

    evaluate_checkpoint(
        args.checkpoint, args.manifest, Path(args.out) if args.out else None, args.align_level
    )


def cmd_predict(args) -> None:
    import csv
    import json

    from ..data.manifest import AUDIO_SUFFIXES, audio_files
    from ..inference.predict import predict_files, speakers_from
    from ..inference.shipped import checkpoints_or_shipped

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
    checkpoints = checkpoints_or_shipped(args.checkpoint)
    check = not args.no_speech_check
    rows, errors = predict_files(paths, checkpoints, args.window, speakers, check, args.align_level)
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
    from ..inference.export import FORMATS, export
    from ..inference.shipped import checkpoints_or_shipped

    checkpoints = checkpoints_or_shipped(args.checkpoint)
    # by default in the current folder, not beside the checkpoint (the shipped one's is the package)
    out = Path(args.out or Path(checkpoints[0]).stem + FORMATS.get(args.format, ""))
    meta = export(checkpoints, args.format, out)
    print(
        f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB) and {out.with_suffix('.json')}: "
        f"{len(meta['checkpoints'])} model(s), classes {', '.join(meta['class_names'])}"
    )


def cmd_serve(args) -> None:
    from ..inference.serve import serve  # a bad checkpoint: reported before the server starts
    from ..inference.shipped import checkpoints_or_shipped

    checkpoints = checkpoints_or_shipped(args.checkpoint)
    serve(checkpoints, args.host, args.port, args.max_mb, args.max_seconds, args.max_pending)


def cmd_report(args) -> None:
    from ..reporting.report import report

    print(report([Path(d) for d in args.dirs]))
