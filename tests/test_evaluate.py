"""Evaluation protocols end to end on the synthetic corpus (tiny model, one epoch), the SNR of
the mixtures, and the LOSO aggregation checked against a hand computation."""

import fcntl
import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch
from builders import REAL_DATA, tiny_cfg

from mtl_aug.cli import build_parser, main
from mtl_aug.data.audio import load_audio
from mtl_aug.data.corpora import prepare_generic
from mtl_aug.data.corpora.synthetic import generate_synthetic
from mtl_aug.data.manifest import read_manifest
from mtl_aug.data.mixing import NoiseBank, active_power, mix_at_snr
from mtl_aug.data.vad import speech_found
from mtl_aug.errors import ConfigError, DataError
from mtl_aug.inference.evaluate import evaluate_checkpoint, predict_waves
from mtl_aug.inference.predict import predict_files
from mtl_aug.protocols.cross import run_cross
from mtl_aug.protocols.deployed import run_deployed
from mtl_aug.protocols.loso import run_loso
from mtl_aug.protocols.noise import run_noise
from mtl_aug.reporting.metrics import scores
from mtl_aug.reporting.report import report, summarise_loso


def test_loso_runs_every_fold_once_and_summarises(corpus, tmp_path, monkeypatch):
    cfg = tiny_cfg(corpus, tmp_path / "runs", train__max_epochs=1, results_dir=tmp_path / "results")
    assert run_loso(cfg, [0], fold_index=1) is None  # one fold: no summary yet
    first = tmp_path / "runs" / "synthetic_demo" / "mtl_aug" / "seed0" / "spk01" / "results.json"
    mtime = first.stat().st_mtime
    out = run_loso(cfg, [0])
    assert first.stat().st_mtime == mtime  # the finished fold was not re-run
    with pytest.raises(
        ConfigError, match="different config"
    ):  # nor its results taken for another config
        run_loso(cfg.replace(train=replace(cfg.train, lr=0.5)), [0])
    folds = pd.read_csv(out / "folds.csv", dtype={"fold": str})
    assert sorted(folds["fold"]) == ["spk00", "spk01", "spk02", "spk03"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["uar_mean_over_folds"] == pytest.approx(folds["uar"].mean())
    assert np.array(summary["confusion_summed"]).sum() == 48  # every utterance tested once
    for name in ("seeds.csv", "confusion.csv", "confusion.png", "summary.md"):
        assert (out / name).is_file()
    table = report([out])
    assert "synthetic_demo mtl_aug" in table and f"{100 * summary['pooled_uar']:.2f}" in table
    # the same models through predict: grouped by speaker it is the evaluation path, file by file
    # (the synthetic corpus is not speech: judged without the speech check)
    deployed = json.loads((run_deployed(cfg, [0], check_speech=False) / "summary.json").read_text())
    assert deployed["evaluation path"]["pooled_uar"] == pytest.approx(summary["pooled_uar"])
    assert deployed["evaluation path"]["uar_mean_over_folds"] == pytest.approx(
        summary["uar_mean_over_folds"]
    )
    assert deployed["predict --speaker-from"] == pytest.approx(deployed["evaluation path"])
    assert set(deployed) == {
        "evaluation path",
        "predict, one file at a time",
        "predict --speaker-from",
    }
    # with it, as users get it: a file without speech found is a miss, and counted
    checked = json.loads((run_deployed(cfg, [0]) / "summary.json").read_text())
    paths = read_manifest(corpus / "synthetic_demo.csv")["path"]
    silent = sum(not speech_found(load_audio(p), 16000) for p in paths)
    assert 0 < silent < len(paths)  # the synthetic signals: some pass for speech, some not
    assert checked["predict, one file at a time"]["no_speech_found"] == silent
    assert checked["predict --speaker-from"]["no_speech_found"] == silent
    assert checked["evaluation path"] == deployed["evaluation path"]
    # folds trained two at a time in worker processes: the same results, a log per fold; a fold
    # another process is training is refused with the plain message, the others trained
    par = cfg.replace(
        train=replace(cfg.train, run_dir=str(tmp_path / "par")),
        results_dir=str(tmp_path / "par_results"),
    )
    monkeypatch.delattr(
        os, "sched_getaffinity", raising=False
    )  # as on macOS: CPUs counted otherwise
    busy = tmp_path / "par" / "synthetic_demo" / "mtl_aug" / "seed0" / "spk03"
    busy.mkdir(parents=True)
    with open(busy / "train.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(
            DataError, match=r"^fold spk03 \(seed 0\): .* is being trained by another process"
        ):
            run_loso(par, [0], jobs=2)
    par_folds = pd.read_csv(run_loso(par, [0], jobs=2) / "folds.csv", dtype={"fold": str})
    pd.testing.assert_frame_equal(par_folds, folds)
    log = (
        tmp_path / "par" / "synthetic_demo" / "mtl_aug" / "seed0" / "spk02" / "train.log"
    ).read_text()
    assert "TEST  UAR" in log and "GPU available" in log  # Lightning's logging handler too
    mtime = (
        (tmp_path / "par" / "synthetic_demo" / "mtl_aug" / "seed0" / "spk02" / "results.json")
        .stat()
        .st_mtime
    )
    run_loso(par, [0], jobs=2)  # all finished: nothing re-run
    assert (
        tmp_path / "par" / "synthetic_demo" / "mtl_aug" / "seed0" / "spk02" / "results.json"
    ).stat().st_mtime == mtime


PARENT = """
import os, sys, time
from pathlib import Path
import mtl_aug.training.pool as pool
from mtl_aug.config import load_config

def fold_job(cfg, speaker, threads):          # stands in for training a fold
    (Path(cfg.train.run_dir) / "worker.pid").write_text(str(os.getpid()))
    time.sleep(120)

if __name__ == "__main__":
    pool.fold_job = fold_job
    cfg = load_config("synthetic_demo", overrides=[f"train.run_dir={sys.argv[1]}",
    "train.devices=1"])
    pool.run_parallel(cfg, [(0, "a"), (0, "b")], jobs=2)
"""


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's zombie may wait for a reaper that never comes)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="reads /proc")
def test_fold_worker_stops_when_its_loso_process_is_killed(tmp_path):
    (tmp_path / "parent.py").write_text(PARENT)
    pid_file = tmp_path / "worker.pid"
    parent = subprocess.Popen([sys.executable, str(tmp_path / "parent.py"), str(tmp_path)])
    try:
        deadline = time.time() + 60
        while not (pid_file.is_file() and pid_file.read_text()) and time.time() < deadline:
            time.sleep(0.1)
        worker = int(pid_file.read_text())
        assert _running(worker)
        parent.kill()  # SIGKILL: no clean-up in the parent
        parent.wait()
        deadline = time.time() + 30
        while _running(worker) and time.time() < deadline:
            time.sleep(0.1)
        assert not _running(worker)
    finally:
        parent.kill()


def test_loso_summary_matches_hand_computation(tmp_path):
    # two folds of one seed, classes a, b, c; speaker s2 has no 'c'
    preds = pd.DataFrame(
        {
            "seed": 0,
            "fold": ["s1"] * 6 + ["s2"] * 4,
            "target": [0, 0, 1, 1, 2, 2, 0, 0, 1, 1],
            "pred": [0, 1, 1, 1, 2, 0, 0, 0, 2, 1],
        }
    )
    folds = pd.DataFrame(
        {
            "seed": [0, 0],
            "fold": ["s1", "s2"],
            "uar": [(0.5 + 1 + 0.5) / 3, (1 + 0.5) / 2],
            "wa": [4 / 6, 3 / 4],
            "n": [6, 4],
        }
    )
    s = summarise_loso(folds, preds, ["a", "b", "c"], tmp_path, "hand")
    assert s["uar_mean_over_folds"] == pytest.approx((2 / 3 + 0.75) / 2)
    assert s["uar_std_over_folds"] == pytest.approx(np.std([2 / 3, 0.75], ddof=1))
    # pooled: recall a 3/4, b 3/4, c 1/2
    assert s["pooled_uar"] == pytest.approx((0.75 + 0.75 + 0.5) / 3)
    assert s["pooled_wa"] == pytest.approx(7 / 10)
    assert s["confusion_summed"] == [[3, 1, 0], [0, 3, 1], [1, 0, 1]]
    assert "70.83 ± 5.89" in (tmp_path / "summary.md").read_text()


def test_cross_corpus_trains_once_and_tests_every_utterance(corpus, tmp_path):
    other = tmp_path / "other"
    csv = generate_synthetic(other, speakers=3, per_emotion=2, seed=7)
    prepare_generic(csv, corpus / "other_corpus.csv", corpus="other_corpus")
    cfg = tiny_cfg(corpus, tmp_path / "runs", train__max_epochs=1, results_dir=tmp_path / "results")
    out = run_cross(cfg, "other_corpus", [0, 1])
    res = json.loads((out / "seed0" / "results.json").read_text())
    assert res["n"] == 24
    trained = json.loads(
        (
            tmp_path / "runs" / "synthetic_demo" / "mtl_aug" / "seed0" / "all" / "results.json"
        ).read_text()
    )
    assert "uar" not in trained and trained["test_speakers"] == []
    # the same checkpoint evaluated again without retraining gives the same numbers
    again = evaluate_checkpoint(res["checkpoints"], corpus / "other_corpus.csv")
    assert again["uar"] == res["uar"] and again["confusion"] == res["confusion"]
    # the two seeds as an ensemble: the argmax of their averaged probabilities
    from mtl_aug.inference.evaluate import evaluate_frame, labelled_for, load_checkpoint

    seed1 = json.loads((out / "seed1" / "results.json").read_text())["checkpoints"]
    models = [load_checkpoint(c) for c in res["checkpoints"] + seed1]
    df = labelled_for(models[0], corpus / "other_corpus.csv")
    mean = (evaluate_frame(models[0], df)["probs"] + evaluate_frame(models[1], df)["probs"]) / 2
    ens = json.loads((out / "ensemble" / "results.json").read_text())
    assert (
        ens["confusion"]
        == scores(mean.argmax(-1), torch.tensor(df["label"].to_numpy()), 4)["confusion"]
    )
    md = (out / "summary.md").read_text()
    assert (
        "| 0, 1 |" in md
        and f"| ensemble of 2 (probabilities averaged) | {100 * ens['uar']:.2f} |" in md
    )


def test_loso_ensemble_averages_each_utterance_over_seeds():
    # fold a: seeds disagree on u2; their mean picks class 1 (0.3+0.9 vs 0.7+0.1); fold b: one
    # utterance
    preds = pd.DataFrame(
        {
            "seed": [0, 0, 1, 1, 0, 1],
            "fold": ["a", "a", "a", "a", "b", "b"],
            "utt_id": ["u1", "u2", "u1", "u2", "u3", "u3"],
            "target": [0, 1, 0, 1, 1, 1],
            "p0": [0.8, 0.7, 0.6, 0.1, 0.6, 0.3],
            "p1": [0.2, 0.3, 0.4, 0.9, 0.4, 0.7],
        }
    )
    from mtl_aug.reporting.report import ensemble_scores

    e = ensemble_scores(preds, 2)
    # fold a: both right (UAR 1); fold b: u3 mean p1 0.55 -> right (UAR over the class present: 1)
    assert e == {"uar_mean": 1.0, "pooled_uar": 1.0}
    preds.loc[5, ["p0", "p1"]] = [0.5, 0.5]  # fold b: mean p0 0.55 -> wrong
    e = ensemble_scores(preds, 2)
    assert e["uar_mean"] == pytest.approx(0.5) and e["pooled_uar"] == pytest.approx((1 + 0.5) / 2)


def test_mixture_snr_is_exact_on_active_speech():
    rng = np.random.default_rng(0)
    speech = torch.zeros(32000)
    speech[8000:24000] = (
        torch.from_numpy(rng.standard_normal(16000).astype(np.float32)) * 0.2
    )  # silence around it
    noise = torch.from_numpy(rng.standard_normal(32000).astype(np.float32))
    for snr in (0.0, 10.0, 20.0, -5.0):
        mixed = mix_at_snr(speech, noise, snr)
        added = mixed - speech
        measured = 10 * np.log10(active_power(speech) / float(added.pow(2).mean()))
        assert abs(measured - snr) < 0.1
    # the silence does not count: active power equals the power of the speech part
    assert active_power(speech) == pytest.approx(float(speech[8000:24000].pow(2).mean()), rel=1e-3)


def test_noise_bank_is_seeded_and_reads_demand_48k(tmp_path):
    for env, sr in (("DKITCHEN", 16000), ("PCAFETER", 48000)):
        d = tmp_path / "demand" / env
        d.mkdir(parents=True)
        for ch in (1, 2):
            sf.write(
                d / f"ch{ch:02d}.wav",
                np.random.default_rng(ch).standard_normal(sr * 3).astype(np.float32) * 0.1,
                sr,
            )
    a, b = NoiseBank(tmp_path / "demand", seed=3), NoiseBank(tmp_path / "demand", seed=3)
    assert torch.equal(a.segment(5, 16000), b.segment(5, 16000))
    assert not torch.equal(a.segment(5, 16000), a.segment(6, 16000))
    lengths = {len(a.segment(k, 20000)) for k in range(20)}
    assert lengths == {20000}
    assert not torch.equal(
        NoiseBank(tmp_path / "demand", seed=4).segment(5, 16000), a.segment(5, 16000)
    )
    assert torch.equal(
        a.with_seed(4).segment(5, 16000), NoiseBank(tmp_path / "demand", seed=4).segment(5, 16000)
    )


@pytest.mark.skipif(
    not (REAL_DATA / "background_noise").is_dir(),
    reason="../shared/data/background_noise not present",
)
def test_eval_noise_refuses_a_noise_the_models_train_on(corpus, tmp_path):
    noise = tmp_path / "noise"
    (noise / "kitchen").mkdir(parents=True)
    cfg = tiny_cfg(corpus, tmp_path / "runs", corrupt__noise_dirs=f"[{noise / 'kitchen'}]")
    with pytest.raises(ConfigError, match="mtl_aug: corrupt.noise_dirs trains on .*kitchen"):
        run_noise([cfg], noise, [0.0], [0])
    assert not (tmp_path / "runs").exists()


def test_eval_noise_end_to_end_with_real_noise(corpus, tmp_path):
    cfgs = [
        tiny_cfg(
            corpus, tmp_path / "runs", v, train__max_epochs=1, results_dir=tmp_path / "results"
        )
        for v in ("stl", "mtl_aug")
    ]
    out = run_noise(cfgs, REAL_DATA / "background_noise", [0.0, 20.0], [0])
    folds = pd.read_csv(out / "folds.csv")
    assert len(folds) == 2 * 4 * 3  # variants x folds x (clean, 0, 20)
    md = (out / "summary.md").read_text()
    assert "| stl |" in md and "| mtl_aug |" in md and "0 dB" in md and "20 dB" in md
    assert (out / "uar_vs_snr.png").stat().st_size > 1000


def test_predict_handles_long_and_unreadable_files(corpus, tmp_path, capsys):
    cfg = tiny_cfg(corpus, tmp_path / "runs", train__max_epochs=1)
    from mtl_aug.training.train import train_fold

    ckpt = train_fold(cfg, "spk00", verbose=False)["checkpoint"]
    audio = tmp_path / "audio"
    audio.mkdir()
    sf.write(
        audio / "long.wav",
        np.random.default_rng(0).standard_normal(16000 * 25).astype(np.float32) * 0.1,
        16000,
    )
    sf.write(
        audio / "short.flac",
        np.random.default_rng(1).standard_normal(16000).astype(np.float32) * 0.1,
        16000,
    )
    (audio / "broken.wav").write_text("not audio")
    # white noise holds no speech: judged only with the check turned off
    rows, errors = predict_files(sorted(audio.iterdir()), [ckpt], check_speech=False)
    assert [Path(r["file"]).name for r in rows] == ["long.wav", "short.flac"]
    assert rows[0]["windows"] == 3 and rows[1]["windows"] == 1
    assert sum(v for k, v in rows[0].items() if k.startswith("p_")) == pytest.approx(1, abs=1e-3)
    assert len(errors) == 1 and "broken.wav" in errors[0]
    assert [r["warning"] for r in rows] == ["", ""]
    sf.write(audio / "silent.wav", np.zeros(16000, np.float32), 16000)
    sf.write(audio / "blip.wav", np.full(3200, 0.1, np.float32), 16000)  # 0.2 s: under 0.1, refused
    out = tmp_path / "not" / "yet" / "pred.jsonl"  # its folder is made before the work
    (audio / "notes.txt").write_text("a file in the folder that is not audio")
    args = ["predict", str(audio), "--checkpoint", ckpt, "--format", "jsonl", "--out", str(out)]
    assert main(args) == 0  # by default, none of these files holds speech
    lines = {Path(r["file"]).name: r for r in map(json.loads, out.read_text().splitlines())}
    assert all(r["pred"] is None and r["warning"] == "no speech found" for r in lines.values())
    assert "0 files predicted, 4 without speech" in capsys.readouterr().err
    assert main([*args, "--no-speech-check"]) == 0
    lines = {Path(r["file"]).name: r for r in map(json.loads, out.read_text().splitlines())}
    assert [lines[Path(r["file"]).name]["pred"] for r in rows] == [r["pred"] for r in rows]
    assert (
        lines["silent.wav"]["warning"].startswith("silent")
        and "too short" in lines["blip.wav"]["warning"]
    )
    err = capsys.readouterr().err
    assert "broken.wav" in err and "1 files not read, not audio by their suffix (.txt 1" in err
    assert "warning: " in err and "silent.wav: silent" in err
    assert "4 files predicted, 0 without speech" in err
    # one rule for a file named and the same file in a folder: its suffix (mp3 is audio; txt is not)
    sf.write(
        audio / "clip.mp3",
        np.random.default_rng(2).standard_normal(16000).astype(np.float32) * 0.1,
        16000,
        format="MP3",
    )
    assert (
        main(
            [
                "predict",
                str(audio / "clip.mp3"),
                str(audio / "notes.txt"),
                str(audio),
                "--checkpoint",
                ckpt,
                "--format",
                "jsonl",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    named = [Path(json.loads(r)["file"]).name for r in out.read_text().splitlines()]
    assert named.count("clip.mp3") == 2 and "notes.txt" not in named
    assert (
        "notes.txt: not audio by its suffix (read: .wav, .flac, .ogg, .mp3)"
        in capsys.readouterr().err
    )


def test_predict_grouped_by_speaker_matches_the_evaluation_path(corpus, tmp_path):
    """`predict --speaker-from` on a test speaker's files gives the evaluation's probabilities
    (speaker statistics and centring from the same files); a lone file is normalised with the
    training statistics that the checkpoint carries."""
    from mtl_aug.inference.evaluate import evaluate_frame, labelled_for, load_checkpoint
    from mtl_aug.inference.predict import speakers_from
    from mtl_aug.training.train import train_fold

    cfg = tiny_cfg(corpus, tmp_path / "runs", train__max_epochs=1)
    ckpt = train_fold(cfg, "spk00", verbose=False)["checkpoint"]
    lit = load_checkpoint(ckpt)
    df = labelled_for(lit, corpus / "synthetic_demo.csv")
    test = df[df["speaker"].isin(["spk00", "spk02"])].reset_index(drop=True)
    assert (test["speaker"].value_counts() >= 10).all()  # enough to be centred
    expected = evaluate_frame(lit, test)["probs"]
    # the speaker as a folder name: copies of the files under <speaker>/
    paths = []
    for path, spk in zip(test["path"], test["speaker"], strict=True):
        paths.append(tmp_path / "by" / spk / Path(path).name)
        paths[-1].parent.mkdir(parents=True, exist_ok=True)
        paths[-1].write_bytes(Path(path).read_bytes())
    # the synthetic signals are not speech: judged without the speech check
    rows, errors = predict_files(
        paths, [ckpt], speakers=speakers_from(paths, "folder"), check_speech=False
    )
    got = torch.tensor([[r[f"p_{n}"] for n in lit.class_names] for r in rows])
    assert not errors and [r["speaker"] for r in rows] == test["speaker"].tolist()
    assert torch.allclose(got, expected, atol=1e-4)
    # one file alone: the training set's statistics, stored at training (speaker normalisation)
    train = df[~df["speaker"].isin(["spk00", "spk01"])]
    stored = torch.stack([lit.logmel.mean, lit.logmel.std]).cpu()
    assert torch.allclose(
        stored, lit.logmel.stats([load_audio(p) for p in train["path"]]), atol=1e-4
    )
    lone = predict_files(paths[:1], [ckpt], check_speech=False)[0][0]
    wave = load_audio(paths[0])
    manual = predict_waves(lit, [wave], stats=stored[None])[0]
    assert [lone[f"p_{n}"] for n in lit.class_names] == pytest.approx(manual.tolist(), abs=1e-4)
    with pytest.raises(DataError, match="no speaker for 1 file"):
        speakers_from([tmp_path / "x.wav", paths[0]], r"(?P<speaker>spk\d+)")


def test_cli_reports_bad_input_with_exit_code_2(tmp_path, capsys):
    assert main(["train", "--corpus", "nope", "--set", f"data.manifest_dir={tmp_path}"]) == 2
    assert "unknown corpus 'nope'" in capsys.readouterr().err
    assert main(["prepare", "iemocap", str(tmp_path)]) == 2
    assert "is this IEMOCAP_full_release?" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:  # the corpus registry: argparse lists what it knows
        main(["prepare", "nope", str(tmp_path)])
    err = capsys.readouterr().err
    assert (
        stop.value.code == 2
        and "invalid choice: 'nope'" in err
        and "'turev'" in err
        and "'folders'" in err
    )


def test_messages_go_through_logging_and_quiet_keeps_the_warnings(tmp_path, capsys):
    """Progress on stdout and warnings on stderr, through the `mtl_aug` logger; `--quiet`
    drops the progress and keeps the warnings."""
    import logging

    (tmp_path / "emodb" / "wav").mkdir(parents=True)
    (tmp_path / "c" / "angry").mkdir(parents=True)
    for folder in (tmp_path / "emodb" / "wav", tmp_path / "c" / "angry"):
        sf.write(folder / "03a01Wa.wav", np.zeros(1600, dtype=np.float32), 16000)
    (tmp_path / "c" / "angry" / "notes.txt").write_text("not audio")
    try:
        for quiet in (False, True):
            q = ["--quiet"] if quiet else []
            assert main([*q, "download", str(tmp_path / "emodb")]) == 0
            assert ("EMODB already present" in capsys.readouterr().out) is not quiet
            assert (
                main(
                    [
                        *q,
                        "prepare",
                        "folders",
                        str(tmp_path / "c"),
                        "--name",
                        "c",
                        "--speaker",
                        r"(?P<speaker>\d\d)a",
                        "--out-dir",
                        str(tmp_path / "m"),
                    ]
                )
                == 0
            )
            assert "1 files not read, not audio by their suffix" in capsys.readouterr().err
    finally:
        logging.getLogger("mtl_aug").setLevel(logging.INFO)


def test_every_cli_option_says_what_it_is_for():
    import argparse

    from mtl_aug.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    silent = [
        f"{name} {a.dest}"
        for name, p in sub.choices.items()
        for a in p._actions
        if not isinstance(a, argparse._HelpAction) and not (a.help or "").strip()
    ]
    assert not silent, silent
    assert all(a.dest != "corpus" for a in sub.choices["demo"]._actions)  # the demo has one corpus


def test_repeated_set_and_config_flags_all_apply():
    args = build_parser().parse_args(
        [
            "train",
            "--set",
            "train.lr=0.1",
            "--config",
            "stl",
            "--set",
            "seed=3",
            "data.batch_size=4",
            "--config",
            "debug",
        ]
    )
    assert args.set == ["train.lr=0.1", "seed=3", "data.batch_size=4"] and args.config == [
        "stl",
        "debug",
    ]


def test_report_pairs_folds_and_computes_the_standard_error(tmp_path):
    for name, uars in (("stl", [0.5, 0.6, 0.7]), ("mtl", [0.6, 0.6, 0.9])):
        d = tmp_path / name
        preds = pd.DataFrame(
            {
                "seed": 0,
                "fold": ["a", "a", "b", "b", "c", "c"],
                "target": [0, 1] * 3,
                "pred": [0, 1] * 3,
            }
        )
        folds = pd.DataFrame({"seed": 0, "fold": ["a", "b", "c"], "uar": uars, "wa": uars, "n": 2})
        summarise_loso(folds, preds, ["x", "y"], d, name)
    text = report([tmp_path / "stl", tmp_path / "mtl"])
    # differences 0.1, 0.0, 0.2: mean 0.1, std 0.1, se 0.1 / sqrt(3) = 0.0577
    assert (
        "mtl - stl: UAR +10.00 ± 5.77 points" in text
        and "3 folds" in text
        and "better on 2, worse on 0" in text
    )
    assert "| stl | 1 | 3 | 60.00 ± 10.00 |" in text


def test_noise_bank_skips_and_counts_bad_files(tmp_path, capsys):
    good = tmp_path / "noise" / "hum.wav"
    good.parent.mkdir()
    sf.write(good, np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1, 16000)
    (tmp_path / "noise" / "notes.wav").write_text("not audio")
    bank = NoiseBank(tmp_path / "noise", seed=0)
    assert bank.files == [good] and bank.report.n_skipped == 1
    assert "notes.wav" in capsys.readouterr().out
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no usable audio files"):
        NoiseBank(tmp_path / "empty", seed=0)


def test_multi_corpus_union_and_leave_one_corpus_out(corpus, tmp_path):
    """`a+b` trains on the union with speakers kept apart by corpus; a test corpus among the
    training ones is refused; leave-one-corpus-out tests each corpus on a model of the others."""
    from mtl_aug.data.datamodule import load_labelled
    from mtl_aug.protocols.cross import run_loco

    manifests = tmp_path / "m"
    for name in ("librispeech",):
        for suffix in (".csv", ".json"):
            (manifests / f"{name}{suffix}").parent.mkdir(exist_ok=True)
            (manifests / f"{name}{suffix}").write_bytes((corpus / f"{name}{suffix}").read_bytes())
    for name, seed in (("alpha", 2), ("beta", 3)):
        prepare_generic(
            generate_synthetic(tmp_path / name, speakers=3, per_emotion=2, seed=seed),
            manifests / f"{name}.csv",
            corpus=name,
        )
    cfg = tiny_cfg(
        manifests,
        tmp_path / "runs",
        corpus="alpha+beta",
        train__max_epochs=1,
        results_dir=tmp_path / "results",
    )
    df, names, _ = load_labelled(cfg)
    assert len(df) == 2 * 3 * 4 * 2 and names == ["angry", "happy", "neutral", "sad"]
    assert (
        sorted(df["speaker"].unique())[:2] == ["alpha:spk00", "alpha:spk01"]
        and df["speaker"].nunique() == 6
    )
    with pytest.raises(ConfigError, match="not cross-corpus"):
        run_cross(cfg, "beta", [0])
    alone = cfg.replace(corpus="alpha", data=replace(cfg.data, unlabelled="beta"))
    with pytest.raises(ConfigError, match="beta is in data.unlabelled"):
        run_cross(alone, "beta", [0])
    with pytest.raises(DataError, match="names a corpus twice"):
        load_labelled(cfg.replace(corpus="alpha+alpha"))
    # 3 speakers, 2 of them validating: too few for the default's speaker adversary, said
    # before any audio is read (LOSO: before the first fold trains)
    with pytest.raises(ConfigError, match="needs 2 or more training speakers; beta fold all"):
        run_loco(cfg.replace(corpus="alpha"), ["alpha", "beta"], [0])
    with pytest.raises(ConfigError, match="needs 2 or more training speakers; alpha fold spk00"):
        run_loso(cfg.replace(corpus="alpha"), [0], jobs=2)
    assert not (tmp_path / "runs").exists()
    cfg = cfg.replace(loss=replace(cfg.loss, weights=replace(cfg.loss.weights, speaker=0.0)))
    out = run_loco(cfg.replace(corpus="alpha"), ["alpha", "beta"], [0])
    table = pd.read_csv(out / "corpora.csv")
    assert table["test"].tolist() == ["alpha", "beta"] and table["train"].tolist() == [
        "beta",
        "alpha",
    ]
    assert table["utterances"].tolist() == [24, 24]
    assert "| alpha | beta |" in (out / "summary.md").read_text()
    with pytest.raises(ConfigError, match="two or more different corpora"):
        run_loco(cfg, ["alpha", "alpha"], [0])


@pytest.mark.parametrize(
    "seconds, sizes",
    [(9.0, [9.0]), (10.5, [10.5]), (20.5, [10.0, 10.5]), (23.0, [10.0, 10.0, 3.0])],
)
def test_windows_keep_every_sample_once_in_order(seconds, sizes):
    """A file over 10 s is cut into 10 s windows; a tail under 1 s joins the window before it
    (10.5 s was an IndexError, 20.5 s lost its first window and repeated the second)."""
    from mtl_aug.inference.predict import windows

    wave = torch.arange(int(seconds * 100), dtype=torch.float32)
    chunks = windows(wave, 100, 10.0)
    assert [len(c) / 100 for c in chunks] == sizes
    assert torch.equal(torch.cat(chunks), wave)
