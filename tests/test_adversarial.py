"""Adversarial attacks on the waveform: the budget's conversion, what each attack guarantees,
gradients through the evaluation path, and eval-adversarial end to end on tiny models."""

import json
import math
import os
import re

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch
from builders import tiny_cfg

from mtl_aug.cli import main
from mtl_aug.data.audio import load_audio
from mtl_aug.errors import ConfigError
from mtl_aug.inference.attacks import Attack, Budget, attack, loss_gradient
from mtl_aug.inference.evaluate import evaluate_frame, labelled_for, load_checkpoint
from mtl_aug.protocols.adversarial import run_adversarial
from mtl_aug.training.train import train_fold


@pytest.fixture(scope="module")
def speaker(corpus, tmp_path_factory):
    """A tiny trained MTL-AUG model (per-speaker statistics, centring) and its test speaker's
    12 utterances (enough to be centred)."""
    cfg = tiny_cfg(corpus, tmp_path_factory.mktemp("adv") / "runs", "speaker", train__max_epochs=3)
    lit = load_checkpoint(train_fold(cfg, "spk00", verbose=False)["checkpoint"])
    test = labelled_for(lit, corpus / "synthetic_demo.csv")
    test = test[test["speaker"] == "spk00"].reset_index(drop=True)
    assert lit.logmel.normalise == "speaker" and lit.model.emotion.centre and len(test) >= 10
    waves = [load_audio(p) for p in test["path"]]
    return lit, test, waves, torch.tensor(test["label"].to_numpy())


def test_a_db_budget_is_exact_on_a_known_signal():
    sine = 0.5 * torch.sin(2 * math.pi * 220 * torch.arange(16000) / 16000)
    eps = Budget.parse("20").epsilon(sine)
    assert eps == pytest.approx(0.5 / math.sqrt(2) / 10, rel=1e-6)  # rms 0.5 / sqrt(2), 20 dB below
    at_bound = eps * torch.sign(torch.randn(16000))  # FGSM's shape: every sample at eps
    assert 10 * math.log10(float(sine.pow(2).mean() / at_bound.pow(2).mean())) == pytest.approx(
        20, abs=1e-4
    )
    assert Budget.parse("eps=0.002").epsilon(sine) == 0.002
    assert Budget.parse("inf").epsilon(sine) == 0
    for bad in ("loud", "eps=-1", "nan", "eps="):
        with pytest.raises(ConfigError, match=f"budget '{bad}'"):
            Budget.parse(bad)
    with pytest.raises(ConfigError, match="unknown attack 'cw'"):
        Attack("cw")


def test_no_budget_gives_exactly_the_clean_predictions(speaker):
    lit, test, waves, labels = speaker
    clean = evaluate_frame(lit, test)["probs"]
    for budget in ("inf", "eps=0"):
        for how in (Attack("fgsm"), Attack("pgd", steps=2)):
            adv = attack(lit, waves, labels, ["spk00"] * len(waves), Budget.parse(budget), how)
            assert torch.equal(
                evaluate_frame(lit, test, lambda w, i, adv=adv: adv[i])["probs"], clean
            )


def test_attacks_raise_the_loss_within_the_bound_and_pgd_at_least_as_much(speaker):
    lit, test, waves, labels = speaker
    who = ["spk00"] * len(waves)
    budget = Budget.parse("30")
    clean_loss, grads = loss_gradient(lit, waves, labels, who)
    assert all(
        g.shape == w.shape and torch.isfinite(g).all() and g.abs().sum() > 0
        for g, w in zip(grads, waves, strict=True)
    )
    losses = {}
    for how in (Attack("fgsm"), Attack("pgd", steps=5)):
        adv = attack(lit, waves, labels, who, budget, how, seed=3)
        for a, w in zip(adv, waves, strict=True):
            assert (
                float((a - w).abs().max()) <= budget.epsilon(w) * (1 + 1e-5)
                and float(a.abs().max()) <= 1
            )
        losses[how.method] = float(loss_gradient(lit, adv, labels, who)[0])
    noise = attack(lit, waves, labels, who, budget, Attack("random"), seed=3)
    assert all(
        torch.allclose((a - w).abs().max(), torch.tensor(budget.epsilon(w), dtype=a.dtype))
        for a, w in zip(noise, waves, strict=True)
    )
    losses["random"] = float(loss_gradient(lit, noise, labels, who)[0])
    assert clean_loss < losses["fgsm"] <= losses["pgd"] and losses["random"] < losses["fgsm"]
    again = attack(lit, waves, labels, who, budget, Attack("pgd", steps=5), seed=3)  # seeded
    assert all(
        torch.equal(a, b)
        for a, b in zip(
            again,
            attack(lit, waves, labels, who, budget, Attack("pgd", steps=5), seed=3),
            strict=True,
        )
    )


def test_gradients_reach_the_waveform_through_the_normalisation(speaker):
    """The gradient of the summed loss is the one autograd gives when the speaker statistics
    and centring offset are held at their values: a step along it changes the loss as the
    gradient predicts (to first order), for each utterance."""
    lit, test, waves, labels = speaker
    who = ["spk00"] * len(waves)
    loss, grads = loss_gradient(lit, waves, labels, who)
    stats = lit.logmel.item_stats(who, waves.__getitem__)
    assert stats is not None  # per-speaker normalisation
    i = 0
    step = 1e-3 * grads[i] / grads[i].norm()
    moved = [w + step if j == i else w for j, w in enumerate(waves)]
    predicted = float((grads[i] * step).sum())
    assert predicted > 0
    changed = float(loss_gradient(lit, moved, labels, who)[0] - loss)
    assert changed == pytest.approx(predicted, rel=0.3)


def test_eval_adversarial_end_to_end_with_transfer_and_resume(
    corpus, tmp_path, monkeypatch, capsys
):
    cfgs = [
        tiny_cfg(
            corpus, tmp_path / "runs", v, train__max_epochs=1, results_dir=tmp_path / "results"
        )
        for v in ("stl", "mtl_aug")
    ]
    attacks = [Attack("fgsm"), Attack("pgd", steps=2), Attack("random")]
    budgets = [Budget.parse("30"), Budget.parse("eps=0")]
    out = run_adversarial(cfgs, attacks, budgets, [0])
    folds = pd.read_csv(out / "folds.csv", dtype={"fold": str})
    assert len(folds) == 2 * 4 * (1 + 3 * 2)  # variants x folds x (clean + 6)
    key = ["variant", "fold"]
    clean = folds[folds["attack"] == "clean"].set_index(key)["uar"]
    for method in ("fgsm", "pgd", "random"):  # eps = 0 is the clean audio
        none = folds[(folds["attack"] == method) & (folds["budget"] == "eps=0")].set_index(key)[
            "uar"
        ]
        assert none.sort_index().equals(clean.sort_index())
    moved = pd.read_csv(out / "transfer.csv", dtype={"fold": str})
    assert (
        len(moved) == 2 * 4 * 4
        and "random" not in set(moved["attack"])
        and set(zip(moved["source"], moved["variant"], strict=True))
        == {("stl", "mtl_aug"), ("mtl_aug", "stl")}
    )
    md = (out / "summary.md").read_text()
    assert (
        "| stl |" in md
        and "| mtl_aug - stl |" in md
        and "| stl -> mtl_aug |" in md
        and "pgd 30 dB" in md
    )
    assert (out / "uar_vs_budget.png").stat().st_size > 1000
    examples = sorted(p.name for p in (out / "examples").glob("*.wav"))
    assert len(examples) == 2 + 2 * 3 * 2 * 2  # 2 clean + variants x attacks x budgets x 2
    data, sr = sf.read(out / "examples" / examples[0])
    assert sr == 16000 and np.isfinite(data).all()
    # a rerun with the same settings reads the finished folds instead of attacking again
    monkeypatch.setattr(
        "mtl_aug.protocols.adversarial.attack", lambda *a, **k: pytest.fail("attacked again")
    )
    assert run_adversarial(cfgs, attacks, budgets, [0]) == out
    assert pd.read_csv(out / "folds.csv", dtype={"fold": str}).equals(folds)
    assert json.loads((out / "summary.json").read_text())["variants"] == ["stl", "mtl_aug"]
    ckpt = next(
        (tmp_path / "runs" / "synthetic_demo" / "stl" / "seed0" / "spk00" / "checkpoints").glob(
            "last.ckpt"
        )
    )
    os.utime(
        ckpt, ns=(ckpt.stat().st_atime_ns, ckpt.stat().st_mtime_ns + 10**9)
    )  # a retrained model
    with pytest.raises(pytest.fail.Exception, match="attacked again"):  # is attacked again
        run_adversarial(cfgs, attacks, budgets, [0])
    with pytest.raises(ConfigError, match="two variants share a name"):
        run_adversarial([cfgs[0], cfgs[0]], attacks, budgets, [0])


def test_eval_adversarial_bad_input_is_refused_before_any_compute(corpus, tmp_path, capsys):
    tiny_cfg(corpus, tmp_path / "r")  # writes r_base.yaml
    base = [
        "eval-adversarial",
        "--corpus",
        "synthetic_demo",
        "--config",
        str(tmp_path / "r_base.yaml"),
        "debug",
    ]
    for extra, message in (
        (["--attacks", "cw"], "unknown attack 'cw'"),
        (["--budgets", "30", "loud"], "budget 'loud'"),
        (["--no-train"], "LOSO models are missing .* training was refused"),
    ):
        assert main(base + extra) == 2
        assert re.search(message, capsys.readouterr().err)
    assert not (tmp_path / "r").exists() and not (tmp_path / "results").exists()
