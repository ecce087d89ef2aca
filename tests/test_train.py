"""Training end to end on a tiny synthetic corpus: every shipped config, resume, determinism,
errors before compute, an overfitting check, and a short real run on EMODB."""

import errno
import fcntl
import importlib.metadata
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import pytorch_lightning as pl
import torch
import yaml
from builders import REAL_DATA as SHARED
from builders import tiny_cfg
from test_model import batch as make_batch

from mtl_aug.config import CONFIG_DIR, load_config, save_config
from mtl_aug.data import dataset
from mtl_aug.data.audio import LogMel
from mtl_aug.data.corpora import prepare_emodb, prepare_librispeech
from mtl_aug.data.datamodule import EmotionDataModule
from mtl_aug.errors import ConfigError, DataError
from mtl_aug.inference.evaluate import load_checkpoint
from mtl_aug.training.lit import LitMTLAug
from mtl_aug.training.train import train_fold

# the network's variants (the SVM baseline's, baseline.svm, are exercised by test_baseline.py)
VARIANTS = sorted(
    p.stem
    for p in (CONFIG_DIR / "variant").glob("*.yaml")
    if p.stem != "debug" and not load_config(overlays=[p.stem]).baseline.svm
)


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_shipped_variant_trains_and_tests(corpus, tmp_path, variant):
    cfg = tiny_cfg(corpus, tmp_path / "runs", variant, train__max_epochs=1)
    res = train_fold(cfg, "spk00", verbose=False)
    out = tmp_path / "runs" / "synthetic_demo" / variant / "seed0" / "spk00"
    saved = json.loads((out / "results.json").read_text())
    assert saved["uar"] == res["uar"] and 0 <= res["uar"] <= 1
    assert saved["class_names"] == ["angry", "happy", "neutral", "sad"]
    assert np.array(saved["confusion"]).sum() == saved["n"] == 12
    assert saved["fold"] == "spk00" and saved["seed"] == 0 and saved["test_speakers"] == ["spk00"]
    assert "spk00" not in saved["val_speakers"] + saved["train_speakers"]
    for name in (
        "config.yaml",
        "metrics.csv",
        "checkpoints/best.ckpt",
        "checkpoints/last.ckpt",
        "predictions.csv",
    ):
        assert (out / name).is_file(), name
    assert (out / "tensorboard").is_dir()
    made = saved["provenance"]  # what produced it, also per (re)start beside it
    assert made["commit"] is None or len(made["commit"]) == 40
    assert made["packages"]["torch"] == importlib.metadata.version("torch") and made["threads"] >= 1
    assert (
        json.loads((out / "provenance.jsonl").read_text().splitlines()[-1])["packages"]
        == made["packages"]
    )
    logged = pd.read_csv(out / "metrics.csv")
    uses_unlabelled = cfg.data.unlabelled is not None
    assert ("train/recon" in logged) == (cfg.loss.weights.recon > 0)
    assert ("train/aug" in logged) == (cfg.loss.weights.aug > 0)
    assert uses_unlabelled == (variant not in ("stl", "stl_aug", "no_unlabelled"))


class Crash(pl.Callback):
    def on_train_epoch_start(self, trainer, module):
        if trainer.current_epoch == 2:
            raise RuntimeError("simulated crash")


def test_resumed_run_matches_uninterrupted_run_and_reruns_are_identical(corpus, tmp_path):
    # dropout on: its draws come from the global RNG, reseeded every step so a resume replays them
    keys = ("uar", "wa", "confusion", "best_val_uar", "epochs_trained")
    ref = train_fold(
        tiny_cfg(corpus, tmp_path / "a", train__max_epochs=4, model__dropout=0.3),
        "spk01",
        verbose=False,
    )
    again = train_fold(
        tiny_cfg(corpus, tmp_path / "b", train__max_epochs=4, model__dropout=0.3),
        "spk01",
        verbose=False,
    )
    assert {k: again[k] for k in keys} == {k: ref[k] for k in keys}

    cfg = tiny_cfg(corpus, tmp_path / "c", train__max_epochs=4, model__dropout=0.3)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train_fold(cfg, "spk01", extra_callbacks=[Crash()], verbose=False)
    out = tmp_path / "c" / "synthetic_demo" / "mtl_aug" / "seed0" / "spk01"
    assert (out / "checkpoints" / "last.ckpt").is_file() and not (out / "results.json").exists()
    assert lock_is_free(out / "train.lock")  # a crash releases the run dir
    resumed = train_fold(cfg, "spk01", verbose=False)
    assert {k: resumed[k] for k in keys} == {k: ref[k] for k in keys}
    weights = [
        torch.load(
            d / "synthetic_demo" / "mtl_aug" / "seed0" / "spk01" / "checkpoints" / "last.ckpt",
            weights_only=False,
        )["state_dict"]
        for d in (tmp_path / "a", tmp_path / "c")
    ]
    assert all(
        torch.equal(weights[0][k], weights[1][k]) for k in weights[0]
    )  # the same final model
    # epochs 0-1 were logged by the first attempt only, 2-3 by the resumed one
    logged = pd.read_csv(out / "metrics.csv")
    assert sorted(logged.dropna(subset=["val/uar"])["epoch"].astype(int)) == [0, 1, 2, 3]
    assert len(pd.read_csv(out / "metrics.csv")) == len(
        pd.read_csv(tmp_path / "a" / out.relative_to(tmp_path / "c") / "metrics.csv")
    )
    # a finished run is reported, not re-run
    mtime = (out / "results.json").stat().st_mtime
    assert train_fold(cfg, "spk01", verbose=False)["uar"] == ref["uar"]
    assert (out / "results.json").stat().st_mtime == mtime


def test_a_run_folder_without_any_checkpoint_takes_a_new_config(corpus, tmp_path, capfd, caplog):
    cfg = tiny_cfg(corpus, tmp_path / "r", train__max_epochs=1)
    out = tmp_path / "r" / "synthetic_demo" / "mtl_aug" / "seed0" / "spk01"
    out.mkdir(parents=True)
    save_config(
        cfg.replace(train=replace(cfg.train, lr=0.5)), out / "config.yaml"
    )  # killed before epoch 1 ended
    assert 0 <= train_fold(cfg, "spk01", verbose=False)["uar"] <= 1
    printed = capfd.readouterr()
    assert "nothing trained there yet" in printed.out and "train.lr: 0.5 -> 0.003" in printed.out
    # Lightning's advertising ("Tip: ... try installing litlogger") is kept out of the output
    for seen in (printed.out, printed.err, caplog.text):
        assert "litlogger" not in seen and "litmodels" not in seen and "Tip:" not in seen
    assert "`Trainer.fit` stopped" in caplog.text  # Lightning's other messages still pass


def test_resuming_with_a_different_config_is_refused(corpus, tmp_path):
    cfg = tiny_cfg(corpus, tmp_path / "r", train__max_epochs=3)
    with pytest.raises(RuntimeError):
        train_fold(cfg, "spk01", extra_callbacks=[Crash()], verbose=False)
    changed = cfg.replace(train=replace(cfg.train, lr=0.5))
    with pytest.raises(
        ConfigError, match=r"different config .*: train\.lr: 0\.003 -> 0\.5\. Resuming"
    ):
        train_fold(changed, "spk01", verbose=False)
    done = train_fold(cfg, "spk01", verbose=False)  # finished: its results are not reused
    with pytest.raises(ConfigError, match="different config"):  # for another config either
        train_fold(changed, "spk01", verbose=False)
    # where the runs live and how many loader workers read the data change nothing computed:
    # a moved runs/ is found and reported, not refused or re-run
    shutil.move(tmp_path / "r", tmp_path / "moved")
    moved = cfg.replace(
        train=replace(cfg.train, run_dir=str(tmp_path / "moved")),
        data=replace(cfg.data, num_workers=2),
    )
    results = tmp_path / "moved" / "synthetic_demo" / "mtl_aug" / "seed0" / "spk01" / "results.json"
    mtime = results.stat().st_mtime
    assert train_fold(moved, "spk01", verbose=False) == done and results.stat().st_mtime == mtime


def lock_is_free(lock) -> bool:
    """Whether an exclusive lock on `lock` can be taken now (flock: per open file, so this
    process's own lock counts as taken)."""
    with open(lock) as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False


class HoldsLock(pl.Callback):
    def __init__(self, lock):
        self.lock = lock

    def on_train_start(self, trainer, module):
        assert self.lock.read_text() == f"{socket.gethostname()} {os.getpid()}\n"
        assert not lock_is_free(self.lock)

    def on_test_start(self, trainer, module):
        assert not lock_is_free(self.lock)


HOLDER = """
import sys, time
from pathlib import Path
from mtl_aug.training.runs import run_lock
with run_lock(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(120)
"""


def test_a_run_dir_in_use_is_refused_and_a_killed_holder_leaves_it_free(corpus, tmp_path):
    cfg = tiny_cfg(corpus, tmp_path / "runs", train__max_epochs=1)
    out = tmp_path / "runs" / "synthetic_demo" / "mtl_aug" / "seed0" / "spk01"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(out)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(
            DataError,
            match=f"being trained by another process \\({socket.gethostname()} {holder.pid}, ",
        ):
            train_fold(cfg, "spk01", verbose=False)
        assert not (out / "checkpoints").exists()
    finally:
        holder.kill()  # SIGKILL: no clean-up by the holder
        holder.wait()
    lock = out / "train.lock"
    assert lock.read_text() == f"{socket.gethostname()} {holder.pid}\n"  # what a killed run leaves
    assert "uar" in train_fold(cfg, "spk01", extra_callbacks=[HoldsLock(lock)], verbose=False)
    assert lock_is_free(lock)  # released at the end


def test_a_finished_or_busy_run_is_reported_before_any_audio_is_read(
    corpus, tmp_path, monkeypatch, capsys
):
    cfg = tiny_cfg(corpus, tmp_path / "runs", train__max_epochs=1)
    done = train_fold(cfg, "spk01", verbose=False)

    def no_audio(*args, **kwargs):
        raise AssertionError("audio read")

    monkeypatch.setattr(dataset, "load_audio", no_audio)
    assert train_fold(cfg, "spk01") == done
    printed = capsys.readouterr().out
    assert (
        "finished earlier, not re-run" in printed and f"TEST  UAR {done['uar']:.4f}" in printed
    )  # and its summary
    busy = tmp_path / "runs" / "synthetic_demo" / "mtl_aug" / "seed0" / "spk02"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(busy)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(DataError, match="being trained by another process"):
            train_fold(cfg, "spk02", verbose=False)
    finally:
        holder.kill()
        holder.wait()
    with pytest.raises(AssertionError, match="audio read"):  # a run that trains reads it
        train_fold(cfg, "spk02", verbose=False)


def test_a_file_system_without_locks_warns_and_trains_on(corpus, tmp_path, monkeypatch):
    def no_locks(f, how):
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(fcntl, "flock", no_locks)
    with pytest.warns(UserWarning, match="does not support locks"):
        result = train_fold(
            tiny_cfg(corpus, tmp_path / "runs", train__max_epochs=1), "spk01", verbose=False
        )
    assert 0 <= result["uar"] <= 1  # the lock's failure is not an error


def test_clear_errors_before_any_compute(corpus, tmp_path):
    with pytest.raises(DataError, match="make manifests CORPUS=emodb"):
        EmotionDataModule(tiny_cfg(tmp_path / "empty", tmp_path / "runs", corpus="emodb"))
    with pytest.raises(DataError, match="unknown corpus 'nope'"):
        EmotionDataModule(tiny_cfg(corpus, tmp_path / "runs", corpus="nope"))
    with pytest.raises(DataError, match="fold speaker 'spk99' is not in the manifest"):
        EmotionDataModule(tiny_cfg(corpus, tmp_path / "runs"), "spk99")
    # a class set that leaves 'sad' with no training utterance
    df = pd.read_csv(corpus / "synthetic_demo.csv", dtype=str, keep_default_na=False)
    keep = (df["emotion"] != "sad") | (df["speaker"] == "spk00")
    df[keep].to_csv(corpus / "nosad.csv", index=False)
    (corpus / "nosad.json").write_text((corpus / "synthetic_demo.json").read_text())
    with pytest.raises(DataError, match=r"\['sad'\] empty in the training speakers"):
        EmotionDataModule(tiny_cfg(corpus, tmp_path / "runs", corpus="nosad"), "spk00")
    assert not (tmp_path / "runs").exists()  # nothing was started


def test_model_overfits_a_tiny_labelled_subset():
    """All four losses wired: the model memorises 8 noise utterances with arbitrary labels."""
    torch.manual_seed(0)
    cfg = load_config(
        "synthetic_demo", ["debug", "speaker"], ["augment.probs=[1, 0, 0, 0]", "model.dropout=0.0"]
    )
    lit = LitMTLAug(cfg, ["a", "b", "c", "d"], [2, 2, 2, 2])
    lengths = [6000, 8000, 7000, 9000, 6500, 7500, 8500, 5000]
    labels = [0, 1, 2, 3, 3, 2, 1, 0]
    batch = make_batch(lengths, labels)
    labels = torch.tensor(labels)
    opt = torch.optim.Adam(lit.parameters(), lr=3e-3)
    for _ in range(150):
        opt.zero_grad()
        losses, _ = lit.step(batch, train=True)
        losses["total"].backward()
        opt.step()
    lit.eval()
    with torch.no_grad():
        feats, n, _ = lit.features(batch, train=False)
        acc = (lit.model(feats, n)["logits"].argmax(-1) == labels).float().mean().item()
    assert acc == 1.0
    assert {"ce", "center", "recon", "aug"} <= set(losses)


@pytest.mark.skipif(
    not (SHARED / "emodb" / "wav").is_dir(), reason="../shared/data/emodb not present"
)
def test_short_real_run_on_emodb(tmp_path):
    manifests = tmp_path / "manifests"
    prepare_emodb(SHARED / "emodb", manifests / "emodb.csv")
    prepare_librispeech(SHARED / "librispeech_sample", manifests / "librispeech.csv", hours=0.05)
    cfg = tiny_cfg(
        manifests,
        tmp_path / "runs",
        corpus="emodb",
        train__max_epochs=1,
        train__limit_train_batches=3,
    )
    res = train_fold(cfg, "03", verbose=False)
    assert len(res["class_names"]) == 7
    assert np.array(res["confusion"]).shape == (7, 7)
    assert res["n"] == 49  # speaker 03's utterances
    assert res["val_speakers"] == ["08"]


@pytest.mark.parametrize("normalise", ["utterance", "speaker", "corpus"])
def test_a_run_has_one_logmel_fitted_to_its_training_set(corpus, tmp_path, normalise):
    """The data module's LogMel is the model's; `setup` fits it to the training set where the
    normalisation uses those statistics, and gives items speaker statistics only per speaker."""
    dm = EmotionDataModule(
        tiny_cfg(corpus, tmp_path / "runs", features__normalise=normalise), "spk00"
    )
    dm.setup()
    lit = LitMTLAug(dm.cfg, dm.class_names, dm.class_counts, len(dm.fold.train), logmel=dm.logmel)
    assert lit.logmel is dm.logmel
    train = dm.datasets["train"]
    expected = dm.logmel.stats([train.wave(i) for i in range(len(train))])
    if normalise == "utterance":
        assert not lit.logmel.has_corpus_stats
    else:
        assert torch.allclose(lit.logmel.training_stats(1)[0], expected)
    assert ("stats" in train[0]) == (normalise == "speaker") == lit.logmel.per_speaker


def test_speaker_normalisation_uses_each_speakers_own_statistics(corpus, tmp_path):
    dm = EmotionDataModule(tiny_cfg(corpus, tmp_path / "runs", "speaker"), "spk00")
    assert dm.cfg.features.normalise == "speaker"
    assert dm.datasets["test"].speaker_stats is None  # the constructor reads no audio
    dm.setup()
    test = dm.datasets["test"]  # spk00 only
    logmel = LogMel.from_config(dm.cfg.features, dm.cfg.data.sample_rate)
    expected = logmel.stats([test.wave(i) for i in range(len(test))])
    assert torch.allclose(test[0]["stats"], expected)
    train = dm.datasets["train"]
    by_speaker = {}
    for i in range(len(train)):
        by_speaker.setdefault(train.speakers[i], []).append(train[(i, 0)]["stats"])
    assert len(by_speaker) == 2  # 4 speakers: 1 test, 1 validation, 2 train
    for stats in by_speaker.values():
        assert all(torch.equal(s, stats[0]) for s in stats)
    a, b = (v[0] for v in by_speaker.values())
    assert not torch.allclose(a, b)


class FallingValidation(pl.Callback):
    """Validation UAR that falls every epoch (before the checkpoint callbacks read it): the best
    epoch is 0 whatever the model does."""

    def on_validation_end(self, trainer, module):
        trainer.callback_metrics["val/uar"] = torch.tensor(1.0 - 0.1 * trainer.current_epoch)


def test_last_checkpoint_is_every_epoch_and_select_picks_the_tested_model(corpus, tmp_path):
    from mtl_aug.inference.evaluate import evaluate_frame, labelled_for, load_checkpoint

    cfg = tiny_cfg(corpus, tmp_path / "a", "speaker", train__max_epochs=3)
    res = train_fold(cfg, "spk01", extra_callbacks=[FallingValidation()], verbose=False)
    ckpts = tmp_path / "a" / "synthetic_demo" / "speaker" / "seed0" / "spk01" / "checkpoints"
    assert (
        torch.load(ckpts / "last.ckpt", weights_only=False)["epoch"] == 2
    )  # resume point: every epoch
    assert torch.load(ckpts / "best.ckpt", weights_only=False)["epoch"] == 0
    assert res["checkpoint"] == str(ckpts / "last.ckpt") and res["val_uar"] == pytest.approx(0.8)
    best = train_fold(
        tiny_cfg(corpus, tmp_path / "b", "speaker", train__max_epochs=3, train__select="best"),
        "spk01",
        extra_callbacks=[FallingValidation()],
        verbose=False,
    )
    assert best["val_uar"] == pytest.approx(1.0)
    lit = load_checkpoint(
        tmp_path
        / "b"
        / "synthetic_demo"
        / "speaker"
        / "seed0"
        / "spk01"
        / "checkpoints"
        / "best.ckpt"
    )
    test = labelled_for(lit, corpus / "synthetic_demo.csv")
    test = test[test["speaker"] == "spk01"].reset_index(drop=True)
    assert (
        evaluate_frame(lit, test)["confusion"] == best["confusion"]
    )  # the epoch-0 model was tested
    # ... and Lightning's test path centred it on its own reference as evaluate_frame does: same
    # probabilities,
    # which centring changes (the synthetic speaker's offset is far from the training mean)
    tested = pd.read_csv(
        tmp_path / "b" / "synthetic_demo" / "speaker" / "seed0" / "spk01" / "predictions.csv"
    )
    tested = (
        tested.set_index("utt_id")
        .loc[test["utt_id"], [f"p_{c}" for c in lit.class_names]]
        .to_numpy()
    )
    assert int(lit.model.emotion.reference_steps) > 0 and len(test) >= 10
    assert np.allclose(evaluate_frame(lit, test)["probs"].numpy(), tested, atol=2e-5)
    lit.model.emotion.centre = False
    assert not np.allclose(evaluate_frame(lit, test)["probs"].numpy(), tested, atol=1e-3)


class CrashInTest(pl.Callback):
    def on_test_start(self, trainer, module):
        raise RuntimeError("crash while testing")


class CrashAfterFit(pl.Callback):
    def on_fit_end(self, trainer, module):
        raise RuntimeError("crash after the last checkpoint")


def test_crash_after_the_final_checkpoint_keeps_the_last_validation_uar(corpus, tmp_path):
    cfg = tiny_cfg(corpus, tmp_path / "runs", train__max_epochs=2)
    with pytest.raises(RuntimeError, match="crash after the last checkpoint"):
        train_fold(cfg, "spk02", extra_callbacks=[CrashAfterFit()], verbose=False)
    out = tmp_path / "runs" / "synthetic_demo" / "mtl_aug" / "seed0" / "spk02"
    assert (out / "checkpoints" / "last.ckpt").is_file() and not (out / "fit.json").exists()
    logged = pd.read_csv(out / "metrics.csv").dropna(subset=["val/uar"])
    res = train_fold(cfg, "spk02", verbose=False)
    assert res["epochs_trained"] == 2 and res["last_val_uar"] == pytest.approx(
        logged["val/uar"].iloc[-1]
    )


def test_a_cut_checkpoint_is_named_with_what_to_do(corpus, tmp_path, capsys):
    from mtl_aug.cli import main

    cfg = tiny_cfg(corpus, tmp_path / "runs", train__max_epochs=3)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train_fold(cfg, "spk01", extra_callbacks=[Crash()], verbose=False)
    ckpts = tmp_path / "runs" / "synthetic_demo" / "mtl_aug" / "seed0" / "spk01" / "checkpoints"
    whole = (ckpts / "last.ckpt").read_bytes()
    (ckpts / "last.ckpt").write_bytes(whole[: len(whole) // 2])  # a disk filled up while saving
    with pytest.raises(
        DataError,
        match=r"last.ckpt cannot be read \(.*\): to resume from an earlier epoch, "
        r"copy .*best.ckpt over it .*; or delete .*spk01 to start the fold again",
    ):
        train_fold(cfg, "spk01", verbose=False)
    for argv in (
        ["predict", str(corpus), "--checkpoint", str(ckpts / "last.ckpt")],
        [
            "evaluate",
            "--checkpoint",
            str(ckpts / "last.ckpt"),
            "--manifest",
            str(corpus / "synthetic_demo.csv"),
        ],
    ):
        assert main(argv) == 2
        assert "last.ckpt cannot be read" in capsys.readouterr().err
    torch.save({"weights": 1}, tmp_path / "other.ckpt")
    with pytest.raises(
        DataError, match="other.ckpt is not a whole checkpoint of this project .*lacks state_dict"
    ):
        load_checkpoint(tmp_path / "other.ckpt")
    shutil.copy(ckpts / "best.ckpt", ckpts / "last.ckpt")  # the way out the message gives
    assert train_fold(cfg, "spk01", verbose=False)["epochs_trained"] == 3


def test_crash_while_testing_resumes_at_testing_without_more_training(corpus, tmp_path):
    cfg = tiny_cfg(corpus, tmp_path / "runs", train__max_epochs=2)
    with pytest.raises(RuntimeError, match="crash while testing"):
        train_fold(cfg, "spk02", extra_callbacks=[CrashInTest()], verbose=False)
    out = tmp_path / "runs" / "synthetic_demo" / "mtl_aug" / "seed0" / "spk02"
    assert (out / "fit.json").is_file() and not (out / "results.json").exists()
    best = (out / "checkpoints" / "best.ckpt").stat().st_mtime
    rows = len(pd.read_csv(out / "metrics.csv"))
    res = train_fold(cfg, "spk02", verbose=False)
    assert (out / "checkpoints" / "best.ckpt").stat().st_mtime == best  # no further training
    assert len(pd.read_csv(out / "metrics.csv")) >= rows and res["epochs_trained"] == 2
    assert res["n"] == 12


class Bf16Probe(pl.Callback):
    """What a run trained with: the Trainer's precision, the dtypes the encoder's projection
    computed in, and the network's weights before and after fitting."""

    def __init__(self):
        self.dtypes, self.before, self.after = set(), {}, {}

    def on_train_start(self, trainer, module):
        self.precision = trainer.precision
        self.before = {k: v.detach().clone() for k, v in module.model.state_dict().items()}
        module.model.encoder.proj[0].register_forward_hook(
            lambda _m, _i, out: self.dtypes.add(out.dtype)
        )

    def on_train_end(self, trainer, module):
        self.after = {k: v.detach().clone() for k, v in module.model.state_dict().items()}


def test_bf16_mixed_precision_trains(corpus, tmp_path):
    """bf16-mixed: stored as the run's precision, the layers compute in bfloat16 while the
    weights stay float32, and the losses are finite and move the weights."""
    probe = Bf16Probe()
    res = train_fold(
        tiny_cfg(corpus, tmp_path / "r", train__max_epochs=1, train__precision="bf16-mixed"),
        "spk01",
        extra_callbacks=[probe],
        verbose=False,
    )
    out = tmp_path / "r" / "synthetic_demo" / "mtl_aug" / "seed0" / "spk01"
    assert yaml.safe_load((out / "config.yaml").read_text())["train"]["precision"] == "bf16-mixed"
    assert load_checkpoint(res["checkpoint"], "cpu").cfg.train.precision == "bf16-mixed"
    assert probe.precision == "bf16-mixed" and probe.dtypes == {torch.bfloat16}
    weights = [k for k, v in probe.before.items() if v.is_floating_point()]
    assert all(probe.after[k].dtype == torch.float32 for k in weights)
    assert all(torch.isfinite(probe.after[k]).all() for k in weights)
    assert any(not torch.equal(probe.before[k], probe.after[k]) for k in weights)
    logged = pd.read_csv(out / "metrics.csv")
    losses = logged[[c for c in logged if c.startswith("train/")]].dropna()
    assert len(losses) and np.isfinite(losses.to_numpy()).all()
    assert 0 <= res["uar"] <= 1


def test_a_run_from_before_a_new_option_is_resumed_when_the_option_is_at_its_default(
    corpus, tmp_path
):
    cfg = tiny_cfg(corpus, tmp_path / "r", train__max_epochs=1)
    done = train_fold(cfg, "spk01", verbose=False)
    out = tmp_path / "r" / "synthetic_demo" / "mtl_aug" / "seed0" / "spk01"
    old = cfg.to_dict()
    del old["data"]["balance_corpora"]
    (out / "config.yaml").write_text(
        yaml.safe_dump(old)
    )  # as written before data.balance_corpora existed
    assert train_fold(cfg, "spk01", verbose=False) == done
    changed = cfg.replace(data=replace(cfg.data, balance_corpora=True))
    with pytest.raises(ConfigError, match=r"data\.balance_corpora: False -> True"):
        train_fold(changed, "spk01", verbose=False)
    # written before options were removed: resumed where they were off, refused where one was on
    old["features"].update(prosody=False, lone_prob=0.0, corpus_stats="pooled")
    (out / "config.yaml").write_text(yaml.safe_dump(old))
    assert train_fold(cfg, "spk01", verbose=False) == done
    old["features"]["lone_prob"] = 0.5
    (out / "config.yaml").write_text(yaml.safe_dump(old))
    with pytest.raises(ConfigError, match=r"features\.lone_prob=0\.5 was removed"):
        train_fold(cfg, "spk01", verbose=False)


@pytest.mark.skipif(
    not (SHARED / "emodb" / "wav").is_dir() or not (SHARED / "librispeech_sample").is_dir(),
    reason="../shared/data/emodb or librispeech_sample not present",
)
def test_bench_prints_every_figure_on_real_emodb(capsys):
    from mtl_aug.reporting.bench import main as bench

    bench(
        [
            "--emodb",
            str(SHARED / "emodb"),
            "--librispeech",
            str(SHARED / "librispeech_sample"),
            "--steps",
            "2",
            "--pgd-steps",
            "2",
        ]
    )
    out = capsys.readouterr().out
    for line in (
        "training, end to end:",
        "training, model alone:",
        "data pipeline share of a training step:",
        "log-mel extraction:",
        "item augmentation:",
        "real-time factor",
        "peak memory:",
        "EMODB LOSO estimate",
        "IEMOCAP LOSO estimate",
        "adversarial attack, one budget",
        "exported, 10 s file, ONNX Runtime",
        "exported, onnx        file",
    ):
        assert line in out, line
    assert not re.search(r"\b(nan|inf)\b", out)


def test_a_model_with_the_speaker_adversary_trains_and_reloads(corpus, tmp_path):
    """The adversary is sized by the fold's training speakers, logs its loss, and its checkpoint
    loads back for evaluation and export."""
    res = train_fold(
        tiny_cfg(corpus, tmp_path / "runs", loss__weights__speaker=0.2), "spk00", verbose=False
    )
    lit = load_checkpoint(res["checkpoint"], "cpu")
    assert lit.model.speaker_head.net[-1].out_features == len(res["train_speakers"]) == 2
    metrics = pd.read_csv(Path(res["checkpoint"]).parents[1] / "metrics.csv")
    assert metrics["train/speaker"].notna().sum() == 2  # one value per epoch
