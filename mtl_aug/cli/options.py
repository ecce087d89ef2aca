"""Options that several subcommands share."""

from __future__ import annotations

import argparse


def _add_overlays(p: argparse.ArgumentParser) -> None:
    # action="extend": a repeated flag adds to the list (with argparse's default the last one wins)
    p.add_argument(
        "--config",
        nargs="*",
        action="extend",
        default=[],
        help="overlays applied in order over configs/default.yaml: names in configs/variant/ "
        "(e.g. stl, speaker, debug) or YAML files; the variant name joins theirs",
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


def _add_align_level(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "--align-level",
        action="store_true",
        help=f"one gain moves {what} onto the model's training level (median active level), "
        "keeping the differences between them; needs 10 or more recordings (docs/multi_corpus.md)",
    )


def _add_checkpoints(p: argparse.ArgumentParser, shipped: bool = False) -> None:
    """--checkpoint; with `shipped`, optional: the model shipped in the package by default."""
    p.add_argument(
        "--checkpoint",
        required=not shipped,
        nargs="+",
        help="a checkpoint, or several (e.g. one per seed) whose class probabilities are averaged"
        + (" (default: the shipped model, docs/model_card.md)" if shipped else ""),
    )
