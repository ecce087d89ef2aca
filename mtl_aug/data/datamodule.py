"""The LightningDataModule of one fold: labelled and unlabelled batches side by side."""

from __future__ import annotations

from collections import Counter

import pandas as pd
import pytorch_lightning as pl
from pytorch_lightning.utilities import CombinedLoader
from torch.utils.data import DataLoader

from ..config import Config
from ..errors import DataError
from .audio import LogMel
from .class_report import class_set_summary
from .corpora import read_corpus
from .dataset import UNLABELLED_STATS_UTTERANCES, UtteranceDataset, collate
from .folds import Fold, all_speakers_fold, loso_fold
from .manifest import apply_class_map
from .samplers import CorpusBalancedSampler, EpochSampler
from .union import read_unlabelled


def load_labelled(
    cfg: Config, corpus: str | None = None
) -> tuple[pd.DataFrame, list[str], Counter]:
    """A corpus manifest with the configured class map (and style filter) applied, and the
    count of utterances dropped by each native label outside the class set and by each style
    outside data.styles ("style <name>"). `a+b` is the union of corpora a and b, each mapped
    by its own class map; their speakers (and sessions) are kept apart as `a:<speaker>`."""
    corpus = corpus or cfg.corpus
    parts = corpus.split("+")
    if len(set(parts)) < len(parts):
        raise DataError(
            f"corpus '{corpus}' names a corpus twice: each utterance would be used twice"
        )
    frames, dropped, names, styles = [], Counter(), None, cfg.data.styles
    for part in parts:
        df = read_corpus(cfg.data.manifest_dir, part)
        if styles:
            keep = df["style"].isin(styles)
            dropped.update(f"style {s or '<none>'}" for s in df.loc[~keep, "style"])
            df = df[keep]
            if df.empty:
                raise DataError(f"data.styles={styles} leaves no utterance of {part}")
        df, names, unmapped = apply_class_map(df, cfg.data.classes)
        if df.empty:
            raise DataError(
                f"class set '{cfg.data.classes}' maps no utterance of {part} "
                f"(its labels: {', '.join(sorted(unmapped))})"
            )
        df["source"] = part  # each training item's corpus: balance_corpora
        if len(parts) > 1:
            df["speaker"] = f"{part}:" + df["speaker"]
            df["session"] = df["session"].where(df["session"] == "", f"{part}:" + df["session"])
            unmapped = Counter({f"{part}:{k}": v for k, v in unmapped.items()})
        frames.append(df)
        dropped += unmapped
    return pd.concat(frames, ignore_index=True), names, dropped


class EmotionDataModule(pl.LightningDataModule):
    """One fold of a labelled corpus (+ optional unlabelled speech). The constructor reads the
    manifests only and checks everything about them (fast, before a run folder is touched);
    `setup` reads the audio its features' statistics need, once: `logmel` is the run's LogMel
    (the model is given it), fitted to the training set, and each dataset's items carry their
    speaker's statistics when it normalises per speaker."""

    def __init__(self, cfg: Config, fold_speaker: str | None = None, all_speakers: bool = False):
        super().__init__()
        self.cfg = cfg
        df, self.class_names, self.dropped = load_labelled(cfg)
        # as `prepare` printed it for each corpus (the manifest as written, before data.styles)
        self.class_lines = []
        for part in cfg.corpus.split("+"):
            raw = read_corpus(cfg.data.manifest_dir, part)
            self.class_lines.append(f"{part}: {class_set_summary(raw, cfg.data.classes)}")
        self.fold: Fold = (
            all_speakers_fold(df)
            if all_speakers
            else loso_fold(
                df, fold_speaker if fold_speaker is not None else sorted(df["speaker"].unique())[0]
            )
        )
        part = {s: role for role in ("train", "val", "test") for s in getattr(self.fold, role)}
        df["role"] = df["speaker"].map(part)
        self.frames = {
            role: df[df["role"] == role].reset_index(drop=True) for role in ("train", "val", "test")
        }
        counts = Counter(self.frames["train"]["label"])
        self.class_counts = [
            counts[i] for i in range(len(self.class_names))
        ]  # training utterances per class
        empty = [n for n, c in zip(self.class_names, self.class_counts, strict=True) if c == 0]
        if empty:
            raise DataError(
                f"class set '{cfg.data.classes}' leaves class(es) {empty} empty in the "
                f"training speakers of fold {self.fold.name}"
            )
        self.unlabelled, self.unlabelled_notes = None, []
        if cfg.data.unlabelled:
            held = pd.concat([self.frames["val"], self.frames["test"]])
            union = len(cfg.corpus.split("+")) > 1  # speakers named `corpus:<speaker>`
            held_out = {
                (c, s.removeprefix(f"{c}:") if union else s)
                for c, s in zip(held["source"], held["speaker"], strict=True)
            }
            self.unlabelled, self.unlabelled_notes = read_unlabelled(cfg, held_out)
        cache = cfg.data.cache_audio
        self.datasets = {
            role: UtteranceDataset(frame, cfg, train=role == "train", cache=cache)
            for role, frame in self.frames.items()
        }
        if cfg.corrupt.noise_prob or cfg.corrupt.reverb_prob:
            from .corrupt import (
                Corruptor,
            )  # audiomentations takes a second to import: only when used

            self.datasets["train"].corrupt = Corruptor(cfg.corrupt, cfg.seed, cfg.data.sample_rate)
        if self.unlabelled is not None:
            # unlabelled speech (e.g. 100 h of LibriSpeech) is decoded on the fly, never held in
            # memory
            self.datasets["unlabelled"] = UtteranceDataset(
                self.unlabelled, cfg, train=True, cache=False
            )
        self.logmel = LogMel.from_config(cfg.features, cfg.data.sample_rate)
        self._audio_read = False

    def setup(self, stage: str | None = None) -> None:
        """Compute the statistics (see the class); the Trainer calls it for each stage, the work
        is done once."""
        if self._audio_read:
            return
        if self.logmel.per_speaker:
            for role, ds in self.datasets.items():
                ds.set_speaker_stats(
                    self.logmel, UNLABELLED_STATS_UTTERANCES if role == "unlabelled" else None
                )
        self.logmel.fit(self.datasets["train"].wave, len(self.datasets["train"]))
        self._audio_read = True

    def describe(self) -> str:
        f = self.frames
        lines = [
            f"fold {self.fold.name}: test {list(self.fold.test)} ({len(f['test'])} utts), "
            f"val {list(self.fold.val)} ({len(f['val'])}), train {len(self.fold.train)} speakers "
            f"({len(f['train'])})"
        ]
        lines += self.class_lines
        styles = {k: v for k, v in self.dropped.items() if k.startswith("style ")}
        if styles:
            lines.append(
                "dropped (styles outside data.styles): "
                + ", ".join(f"{k} {v}" for k, v in sorted(styles.items()))
            )
        sources = f["train"]["source"].value_counts(sort=False)
        if len(sources) > 1:
            lines.append(
                "training corpora: "
                + ", ".join(f"{k} {v}" for k, v in sources.items())
                + (" (batches balanced across them)" if self.cfg.data.balance_corpora else "")
            )
        if self.unlabelled is not None:
            notes = self.unlabelled_notes
            detail = f": {', '.join(notes)}" if len(notes) > 1 or "left out" in notes[0] else ""
            names = "+".join(self.cfg.data.unlabelled_parts)
            lines.append(f"unlabelled: {names} ({len(self.unlabelled)} utts{detail})")
        return "\n".join(lines)

    def _loader(self, dataset, batch_size, sampler) -> DataLoader:
        self.setup()  # a loader without the speaker statistics would normalise otherwise
        workers = self.cfg.data.num_workers
        return DataLoader(
            dataset,
            batch_size=batch_size,
            sampler=sampler,
            collate_fn=collate,
            num_workers=workers,
            persistent_workers=workers > 0,
        )

    def train_dataloader(self):
        seed, bs = self.cfg.seed, self.cfg.data.batch_size
        train = self.datasets["train"]
        loaders = {"labelled": self._loader(train, bs, self._train_sampler(train, seed, bs))}
        if self.unlabelled is not None:
            # as many unlabelled batches as labelled ones: an epoch is one pass over the labelled
            # data
            ubs = self.cfg.data.unlabelled_batch_size
            unl = self.datasets["unlabelled"]
            n = len(loaders["labelled"]) * ubs
            loaders["unlabelled"] = self._loader(
                unl, ubs, self._train_sampler(unl, seed + 1, ubs, n)
            )
        return CombinedLoader(loaders, mode="min_size")

    def _train_sampler(
        self, ds: UtteranceDataset, seed: int, batch_size: int, n: int | None = None
    ) -> EpochSampler:
        """Corpus-balanced where data.balance_corpora asks and the set holds two corpora or more."""
        corpora = pd.factorize(ds.df["source"])[0]
        if self.cfg.data.balance_corpora and corpora.max() > 0:
            return CorpusBalancedSampler(corpora.tolist(), seed, batch_size, num_samples=n)
        return EpochSampler(len(ds), seed, num_samples=n)

    def eval_loader(self, role: str) -> DataLoader:
        ds = self.datasets[role]
        return self._loader(ds, self.cfg.data.batch_size, EpochSampler(len(ds), 0, shuffle=False))

    def val_dataloader(self):
        return self.eval_loader("val")

    def test_dataloader(self):
        return self.eval_loader("test")
