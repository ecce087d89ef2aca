"""Training on several corpora: corpus-balanced batches, log-mel statistics pooled over them,
and a union of unlabelled manifests (the labelled corpora among them); generated corpora."""

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import pytorch_lightning as pl
import soundfile as sf
import torch
from builders import tiny_cfg

from mtl_aug.data.audio import pad_batch
from mtl_aug.data.corpora import prepare_generic, prepare_librispeech
from mtl_aug.data.corpora.synthetic import generate_synthetic
from mtl_aug.data.datamodule import EmotionDataModule
from mtl_aug.data.dataset import UNLABELLED
from mtl_aug.data.manifest import read_manifest
from mtl_aug.data.samplers import CorpusBalancedSampler, EpochSampler
from mtl_aug.errors import ConfigError, DataError
from mtl_aug.inference.evaluate import load_checkpoint
from mtl_aug.training.train import train_fold


@pytest.fixture(scope="module")
def manifests(tmp_path_factory) -> Path:
    """Corpus a (4 speakers, 32 utterances), corpus b (3 speakers, 12 utterances, 26 dB
    quieter: other statistics; one outside the four classes) and a 6-file unlabelled
    'LibriSpeech'."""
    root = tmp_path_factory.mktemp("multi")
    out = root / "manifests"
    prepare_generic(generate_synthetic(root / "a", 4, 2, seed=1), out / "a.csv", corpus="a")
    csv = generate_synthetic(root / "b", 3, 1, seed=2)
    # one utterance outside the class set: not labelled, but audio of speaker spk00
    csv.write_text(csv.read_text().replace(",spk00,angry,", ",spk00,bored,"))
    for wav in (root / "b" / "wav").glob("*.wav"):
        data, sr = sf.read(wav)
        sf.write(wav, 0.05 * data, sr, subtype="PCM_16")
    prepare_generic(csv, out / "b.csv", corpus="b")
    rng = np.random.default_rng(0)
    for i in range(6):
        flac = root / "libri" / "LibriSpeech" / "dev-clean" / "19" / "198" / f"19-198-{i:04d}.flac"
        flac.parent.mkdir(parents=True, exist_ok=True)
        sf.write(flac, (rng.standard_normal(12000) * 0.05).astype(np.float32), 16000)
    prepare_librispeech(root / "libri", out / "librispeech.csv")
    return out


def cfg_for(manifests, tmp_path, *overlays, **sets):
    return tiny_cfg(manifests, tmp_path / "runs", *overlays, corpus="a+b", **sets)


# ---------------------------------------------------------------- corpus-balanced batches


def test_balanced_sampler_splits_every_batch_and_the_epoch_evenly_and_replays_from_its_seed():
    sizes = {0: 87, 1: 27, 2: 20}  # TurEV-DB, EMODB and URDU's proportions, scaled down
    groups = [c for c, n in sizes.items() for _ in range(n)]
    for epoch in range(3):
        sampler = CorpusBalancedSampler(groups, seed=5, batch_size=16)
        sampler.set_epoch(epoch)
        order = [i for i, _ in sampler]
        assert len(order) == len(groups) == len(sampler)  # as many steps as unbalanced
        for start in range(0, len(order), 16):
            counts = Counter(groups[i] for i in order[start : start + 16])
            assert len(counts) == 3 and max(counts.values()) - min(counts.values()) <= 1
        shares = Counter(groups[i] for i in order)
        assert max(shares.values()) - min(shares.values()) <= 1  # 45 / 45 / 44 of 134
        big = [i for i in order if groups[i] == 0]
        assert len(set(big)) == len(big)  # the large corpus: 45 of its 87, none twice
        assert {i for i in order if groups[i] == 2} == {i for i, c in enumerate(groups) if c == 2}
    a, b = (CorpusBalancedSampler(groups, seed=5, batch_size=16) for _ in range(2))
    a.set_epoch(2)
    b.set_epoch(2)
    assert list(a) == list(b)  # indices and item seeds alike
    b.set_epoch(3)
    assert list(a) != list(b)
    assert list(CorpusBalancedSampler(groups, 6, 16)) != list(CorpusBalancedSampler(groups, 5, 16))
    two = [i for i, _ in CorpusBalancedSampler([0] * 50 + [1] * 10, seed=0, batch_size=16)]
    assert [Counter(i < 50 for i in two[s : s + 16])[True] for s in range(0, 48, 16)] == [8, 8, 8]


def test_batches_are_balanced_only_when_asked_and_only_across_corpora(manifests, tmp_path):
    def samplers(dm):
        return [
            loader.sampler for loader in dm.train_dataloader().iterables.values()
        ]  # labelled, unlabelled

    dm = EmotionDataModule(cfg_for(manifests, tmp_path, features__normalise="utterance"))
    assert [type(s) for s in samplers(dm)] == [EpochSampler, EpochSampler]  # the default
    on = {"data__balance_corpora": "true", "features__normalise": "utterance"}
    dm = EmotionDataModule(cfg_for(manifests, tmp_path, **on, data__unlabelled="librispeech+a"))
    labelled, unlabelled = samplers(dm)
    assert type(labelled) is CorpusBalancedSampler and labelled.batch_size == 8
    assert type(unlabelled) is CorpusBalancedSampler and unlabelled.batch_size == 8
    assert len(unlabelled) == len(dm.train_dataloader().iterables["labelled"]) * 8
    one = tiny_cfg(manifests, tmp_path / "one", corpus="a", **on)
    assert [type(s) for s in samplers(EmotionDataModule(one))] == [EpochSampler] * 2


# ---------------------------------------------------------------- pooled statistics


def test_corpus_normalisation_pools_the_statistics_of_every_training_corpus(manifests, tmp_path):
    """features.normalise=corpus on a union: one mean and std over all its training items, in
    the model; the items carry no statistics of their own."""
    dm = EmotionDataModule(cfg_for(manifests, tmp_path), all_speakers=True)
    dm.setup()
    train, logmel = dm.datasets["train"], dm.logmel
    assert set(train.df["source"]) == {"a", "b"}
    assert "stats" not in train[(0, 0)]
    pooled = logmel.stats([train.wave(i) for i in range(len(train))])
    assert torch.allclose(logmel.training_stats(1)[0], pooled, atol=1e-5)
    # corpus b (the quieter one) sits below the pooled mean; corpus a above it
    for corpus, sign in (("a", 1), ("b", -1)):
        idx = [i for i in range(len(train)) if train.df["source"][i] == corpus]
        waves, lengths = pad_batch([train.wave(i) for i in idx])
        feats, n = logmel(waves, lengths)
        _, _, use = logmel.raw(waves, lengths)
        mean = (feats[:, :, : use.shape[1]] * use[:, None]).sum((0, 2)) / use.sum()
        assert sign * mean.mean() > 0.1, corpus


# ---------------------------------------------------------------- unlabelled union


def test_unlabelled_union_counts_rows_from_each_manifest_without_evaluated_speakers(
    manifests, tmp_path
):
    a = read_manifest(manifests / "a.csv")
    libri = read_manifest(manifests / "librispeech.csv")
    frames = {}
    for value in ("librispeech+a", "[librispeech, a]"):
        dm = EmotionDataModule(cfg_for(manifests, tmp_path, data__unlabelled=value), "b:spk00")
        frames[value] = dm.unlabelled
    assert frames["librispeech+a"].equals(frames["[librispeech, a]"])
    unl = frames["librispeech+a"]
    # fold b:spk00: test b:spk00, validation b:spk01 (its session): corpus a trains whole
    assert Counter(unl["source"]) == {"librispeech": len(libri), "a": len(a)}
    assert set(unl["speaker"]) == {f"librispeech:{s}" for s in libri["speaker"]} | {
        f"a:{s}" for s in a["speaker"]
    }
    assert {dm.datasets["unlabelled"][i]["label"] for i in range(len(unl))} == {UNLABELLED}
    # b named too: b's test and validation speakers leave the pool, spk00's utterance outside
    # the class set (in no labelled frame) included; spk02's 4 stay
    dm = EmotionDataModule(
        cfg_for(manifests, tmp_path, data__unlabelled="[librispeech, a, b]"), "b:spk00"
    )
    assert len(dm.frames["test"]) == 3 and dm.dropped == {"b:bored": 1}
    assert Counter(dm.unlabelled["source"]) == {"librispeech": 6, "a": 32, "b": 4}
    assert set(dm.unlabelled.loc[dm.unlabelled["source"] == "b", "speaker"]) == {"b:spk02"}
    # all speakers of a+b: a's validation speakers (a:spk00, a:spk01) leave the pool
    dm = EmotionDataModule(
        cfg_for(manifests, tmp_path, data__unlabelled="[librispeech, a, b]"), all_speakers=True
    )
    held = set(dm.frames["val"]["path"])
    assert len(held) == 16
    assert Counter(dm.unlabelled["source"]) == {"librispeech": 6, "a": 16, "b": 12}
    assert not held & set(dm.unlabelled["path"])
    assert (
        "unlabelled: librispeech+a+b (34 utts: librispeech 6, a 16 (16 of val/test speakers "
        "left out), b 12)" in dm.describe()
    )
    # one manifest, as before: its rows unchanged, no speaker prefix
    dm = EmotionDataModule(cfg_for(manifests, tmp_path))
    assert dm.unlabelled.drop(columns="source").equals(libri)
    assert "unlabelled: librispeech (6 utts)" in dm.describe()


def test_bad_unlabelled_unions_are_named(manifests, tmp_path):
    with pytest.raises(ConfigError, match="data.unlabelled must name each manifest once"):
        cfg_for(manifests, tmp_path, data__unlabelled="librispeech+librispeech")
    with pytest.raises(ConfigError, match="data.unlabelled must name each manifest once"):
        cfg_for(manifests, tmp_path, data__unlabelled="librispeech+")
    with pytest.raises(DataError, match="nope"):
        EmotionDataModule(cfg_for(manifests, tmp_path, data__unlabelled="librispeech+nope"))
    # corpus c: one speaker, the test speaker of fold c:spk00, so all of it is held out
    csv = generate_synthetic(tmp_path / "c", 1, 1, seed=3)
    prepare_generic(csv, manifests / "c.csv", corpus="c")
    cfg = tiny_cfg(manifests, tmp_path / "runs", corpus="a+c", data__unlabelled="librispeech+c")
    with pytest.raises(DataError, match="every row of c is of a validation or test speaker"):
        EmotionDataModule(cfg, "c:spk00")


# ---------------------------------------------------------------- both in one run


class BatchShares(pl.Callback):
    """Each labelled and unlabelled training batch's count of items per corpus."""

    def __init__(self):
        self.labelled, self.unlabelled = [], []

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        for role, seen in (("labelled", self.labelled), ("unlabelled", self.unlabelled)):
            source = trainer.datamodule.datasets["train" if role == "labelled" else role].df
            seen.append(Counter(source["source"].iloc[batch[role]["index"].numpy()]))


def test_a_run_with_both_trains_reloads_and_tests_on_pooled_statistics(manifests, tmp_path):
    cfg = cfg_for(
        manifests,
        tmp_path,
        data__balance_corpora="true",
        data__unlabelled="[librispeech, a, b]",
        train__max_epochs=1,
    )
    shares = BatchShares()
    res = train_fold(cfg, all_speakers=True, extra_callbacks=[shares], verbose=False)
    assert len(shares.labelled) == 2  # limit_train_batches
    assert all(c == {"a": 4, "b": 4} for c in shares.labelled)  # 16 of a, 12 of b train
    assert all(max(c.values()) - min(c.values()) <= 1 for c in shares.unlabelled)  # 3, 3, 2
    assert all(set(c) == {"librispeech", "a", "b"} for c in shares.unlabelled)
    lit = load_checkpoint(res["checkpoint"], "cpu")
    assert lit.cfg.data.balance_corpora and lit.logmel.has_corpus_stats
    dm = EmotionDataModule(cfg, all_speakers=True)
    dm.setup()
    assert torch.allclose(lit.logmel.mean, dm.logmel.mean) and torch.allclose(
        lit.logmel.std, dm.logmel.std
    )
    assert pd.read_csv(Path(res["checkpoint"]).parents[1] / "metrics.csv")["val/uar"].notna().any()
