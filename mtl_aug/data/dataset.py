"""One manifest's utterances as a Dataset (decoded, cropped, augmentation drawn per item) and
the collate that pads them into a batch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
import torch
from torch.utils.data import Dataset

from ..config import Config
from ..errors import DataError
from . import augment
from .audio import LogMel, load_audio, pad_batch

UNLABELLED = -1
UNLABELLED_STATS_UTTERANCES = 10  # per unlabelled speaker, enough for mel-band statistics


class UtteranceDataset(Dataset):
    """Items of a manifest: waveform (16 kHz), label (-1 if unlabelled) and augmentation draw.

    In training mode an item is cropped to `max_train_seconds` and augmented from its item seed;
    otherwise it is returned whole and clean."""

    def __init__(self, df: pd.DataFrame, cfg: Config, train: bool, cache: bool):
        self.df = df.reset_index(drop=True)
        self.paths = self.df["path"].tolist()
        self.native_rates = self.df["sample_rate"].tolist()
        self.labels = (
            self.df["label"].tolist() if "label" in self.df else [UNLABELLED] * len(self.df)
        )
        self.speaker_codes = pd.factorize(self.df["speaker"])[
            0
        ].tolist()  # per-speaker centring in evaluation
        self.cfg, self.train = cfg, train
        self.sr = cfg.data.sample_rate
        self.cache: dict[int, torch.Tensor] | None = {} if cache else None
        # each speaker's normalisation statistics (features.normalise = speaker)
        self.speaker_stats: dict[str, torch.Tensor] | None = None
        self.corrupt = None  # a corrupt.Corruptor, set for the labelled training set

    def set_speaker_stats(self, logmel: LogMel, per_speaker: int | None = None) -> None:
        """Each speaker's log-mel statistics, from that speaker's utterances here (the first
        `per_speaker` of them in manifest order, if given)."""
        self.speakers = self.df["speaker"].tolist()
        self.speaker_stats = logmel.speaker_stats(self.speakers, self.wave, per_speaker)

    def __len__(self) -> int:
        return len(self.df)

    def wave(self, i: int) -> torch.Tensor:
        if self.cache is not None and i in self.cache:
            return self.cache[i]
        w = self.load(i)
        if self.cache is not None:
            self.cache[i] = w
        return w

    def load(self, i: int, start: int = 0, stop: int | None = None) -> torch.Tensor:
        """Item i's audio (load_audio); a file gone since its manifest was made is named as
        such, with the manifest row that lists it."""
        try:
            return load_audio(self.paths[i], self.sr, start, stop)
        except DataError:
            if Path(self.paths[i]).is_file():
                raise
            row = self.df.iloc[i]
            raise DataError(
                f"{self.paths[i]}: file not found (listed in the manifest of corpus "
                f"'{row.get('corpus', '?')}' as utterance {row.get('utt_id', i)}): moved or "
                "deleted after the manifest was made? restore it, or prepare the corpus again "
                "(make manifests)"
            ) from None

    def crop(self, i: int, rng: np.random.Generator) -> torch.Tensor:
        """A random `max_train_seconds` span of item i (the whole item if shorter). Uncached
        16 kHz files (unlabelled speech) are read from disk only over that span."""
        max_len = self.cfg.data.max_train_seconds
        n = int(max_len * self.sr) if max_len else None
        if n and self.cache is None and self.native_rates[i] == self.sr:
            try:
                total = sf.info(str(self.paths[i])).frames
            except Exception:  # missing or unreadable: load says which
                total = len(self.load(i))
            start = int(rng.integers(0, total - n + 1)) if total > n else 0
            return self.load(i, start, start + n)
        wave = self.wave(i)
        if n and len(wave) > n:
            start = int(rng.integers(0, len(wave) - n + 1))
            wave = wave[start : start + n]
        return wave

    def __getitem__(self, key):
        i, item_seed = key if isinstance(key, tuple) else (key, 0)
        k = self.cfg.augment
        item = {
            "index": i,
            "label": self.labels[i],
            "speaker": self.speaker_codes[i],
            "aug": augment.NONE,
            "lam": 1.0,
            "freq_masks": np.zeros((k.freq_masks, 2), np.int64),
            "time_masks": np.zeros((k.time_masks, 2), np.float32),
        }
        if self.train:
            rng = np.random.default_rng(item_seed)
            wave = self.crop(i, rng)
            if self.corrupt is not None:
                wave = self.corrupt(wave, item_seed)
            item.update(augment.draw(rng, k, self.cfg.features.n_mels))
            if item["aug"] == augment.SPEED:
                wave = augment.speed_perturb(wave, item["speed"], self.sr)
        else:
            wave = self.wave(i)
        item["wave"] = wave
        if self.speaker_stats is not None:
            item["stats"] = self.speaker_stats[self.speakers[i]]
        return item


def collate(items: list[dict]) -> dict:
    waves, lengths = pad_batch([it["wave"] for it in items])
    extra = (
        {"stats": torch.stack([it["stats"] for it in items])}  # (B, 2, F)
        if "stats" in items[0]
        else {}
    )
    return {
        **extra,
        "waves": waves,
        "lengths": lengths,  # (B, L), (B,)
        "labels": torch.tensor([it["label"] for it in items]),
        "aug": torch.tensor([it["aug"] for it in items]),
        "lam": torch.tensor([it["lam"] for it in items], dtype=torch.float32),
        "freq_masks": torch.from_numpy(np.stack([it["freq_masks"] for it in items])),
        "time_masks": torch.from_numpy(np.stack([it["time_masks"] for it in items])),
        "index": torch.tensor([it["index"] for it in items]),
        "speaker": torch.tensor([it["speaker"] for it in items]),
    }
