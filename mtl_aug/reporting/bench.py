"""`make bench`: throughput and latency figures of the default MTL-AUG config on real EMODB
(../shared/data/emodb, or --emodb) with the LibriSpeech sample as unlabelled data. Prints
figures; asserts nothing."""

from __future__ import annotations

import argparse
import copy
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from ..config import load_config
from ..data.audio import pad_batch
from ..data.corpora import prepare_emodb, prepare_librispeech
from ..data.datamodule import EmotionDataModule
from ..inference.evaluate import predict_waves
from ..training.lit import LitMTLAug
from .report import counted

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
WARMUP_STEPS = 5


def _train_steps(lit, opt, batches) -> None:
    for b in batches:
        opt.zero_grad()
        losses, _ = lit.step(b["labelled"], b.get("unlabelled"), train=True)
        losses["total"].backward()
        opt.step()


def _endless(loader):
    """Training batches, epoch after epoch."""
    while True:
        for b in loader:
            yield b[0]  # CombinedLoader yields (batch, idx, dl_idx)


def _to(batch, device):
    return {
        k: ({kk: vv.to(device) for kk, vv in v.items()} if isinstance(v, dict) else v)
        for k, v in batch.items()
    }


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--emodb", type=Path, default=SHARED / "emodb")
    p.add_argument("--librispeech", type=Path, default=SHARED / "librispeech_sample")
    p.add_argument("--config", nargs="*", default=[])
    p.add_argument("--steps", type=int, default=40, help="training steps timed")
    p.add_argument("--pgd-steps", type=int, default=10, help="PGD steps of the timed attack")
    args = p.parse_args(argv)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    tmp = Path(tempfile.mkdtemp(prefix="mtl_aug_bench_"))
    prepare_emodb(args.emodb, tmp / "emodb.csv")
    prepare_librispeech(args.librispeech, tmp / "librispeech.csv")
    cfg = load_config("emodb", args.config, [f"data.manifest_dir={tmp}"])
    print(
        f"device: {device} ({torch.get_num_threads()} CPU threads); config: emodb {cfg.variant} "
        f"{' '.join(args.config)}"
    )
    dm = EmotionDataModule(cfg, "03")
    dm.setup()
    lit = LitMTLAug(cfg, dm.class_names, dm.class_counts, len(dm.fold.train), logmel=dm.logmel).to(
        device
    )
    opt = torch.optim.Adam(lit.parameters(), lr=cfg.train.lr)
    train = dm.datasets["train"]
    for i in range(len(train)):
        train.wave(i)  # fill the decoded-audio cache (unlabelled: never cached)
    batches = _endless(dm.train_dataloader())
    # untimed steps first: one-off costs (kernel and allocator set-up, the first reads of the
    # unlabelled files from disk) are not the pipeline's
    _train_steps(lit, opt, [_to(next(batches), device) for _ in range(WARMUP_STEPS)])
    # each step end to end (data loading, augmentation, collation, transfer, step), then the model
    # alone on that same, now pre-made batch: interleaved, so that a machine slowing down or
    # speeding up (a shared host) falls on both alike
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    seen, audio_s, e2e, model_only = 0, 0.0, 0.0, 0.0
    for _ in range(args.steps):
        t0 = time.perf_counter()
        b = _to(next(batches), device)
        _train_steps(lit, opt, [b])
        sync()
        t1 = time.perf_counter()
        _train_steps(lit, opt, [b])
        sync()
        e2e, model_only = e2e + t1 - t0, model_only + time.perf_counter() - t1
        for part in b.values():
            seen += len(part["lengths"])
            audio_s += float(part["lengths"].sum()) / cfg.data.sample_rate
    print(
        f"training, end to end:   {seen / e2e:8.1f} utt/s  {audio_s / e2e:8.1f} audio-s/s  "
        f"({args.steps} steps, "
        f"labelled + unlabelled items)"
    )
    print(
        f"training, model alone:  {seen / model_only:8.1f} utt/s  {audio_s / model_only:8.1f} "
        f"audio-s/s"
    )
    bound = (
        " (a lower bound: loader workers prepare batches while the model-alone re-run is timed)"
        if cfg.data.num_workers
        else ""
    )
    print(f"data pipeline share of a training step: {100 * (e2e - model_only) / e2e:.1f} %{bound}")

    # feature extraction and augmentation
    waves = [train.wave(i) for i in range(len(train))]
    total_s = sum(len(w) for w in waves) / cfg.data.sample_rate
    t0 = time.perf_counter()
    with torch.no_grad():
        for s in range(0, len(waves), 32):
            padded, lengths = pad_batch(waves[s : s + 32])
            lit.logmel.raw(padded.to(device), lengths.to(device))
    dt = time.perf_counter() - t0
    print(f"log-mel extraction:     {len(waves) / dt:8.1f} utt/s  {total_s / dt:8.1f} audio-s/s")
    t0 = time.perf_counter()
    for i in range(len(train)):
        train[(i, i)]  # crop + draw + speed perturbation (cached audio)
    dt = time.perf_counter() - t0
    print(
        f"item augmentation:      {len(train) / dt:8.1f} utt/s (crop, draw, speed perturbation on "
        f"~1/4)"
    )

    # inference real-time factor on a 10 s file
    lit.eval()
    ten = torch.cat(waves)[: 10 * cfg.data.sample_rate]
    timings = []
    for _ in range(5):
        t0 = time.perf_counter()
        predict_waves(lit, [ten], stats=lit.logmel.item_stats(["file"], [ten].__getitem__))
        timings.append(time.perf_counter() - t0)
    print(
        f"inference on a 10 s file: {1000 * np.median(timings):.1f} ms, real-time factor "
        f"{np.median(timings) / 10:.4f}"
    )

    _deployment(lit, waves, ten, tmp)

    # one budget of each attack on the fold's test speaker, through the evaluation path
    from ..inference.attacks import Attack, Budget, attack

    test = dm.frames["test"]
    test_waves = [dm.datasets["test"].wave(i) for i in range(len(test))]
    labels = torch.tensor(test["label"].to_numpy())
    test_s = sum(len(w) for w in test_waves) / cfg.data.sample_rate
    cost = {}
    for how in (Attack("fgsm"), Attack("pgd", steps=args.pgd_steps)):
        t0 = time.perf_counter()
        attack(lit, test_waves, labels, test["speaker"].tolist(), Budget.parse("30"), how)
        cost[how.method] = time.perf_counter() - t0
    print(
        f"adversarial attack, one budget, speaker {test['speaker'].iloc[0]} ({len(test)} utts, "
        f"{test_s:.0f} s of "
        f"audio): FGSM {cost['fgsm']:.1f} s, PGD-{args.pgd_steps} {cost['pgd']:.1f} s "
        f"({cost['pgd'] / test_s:.3f} s per audio second)"
    )

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    line = f"peak memory: {peak:.0f} MiB resident"
    if device == "cuda":
        line += f", {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB GPU"
    print(line)

    # LOSO wall time, extrapolated from the measured end-to-end step rate; validation is assumed
    # 3x cheaper per utterance than training (no backward pass, no auxiliary heads)
    steps_per_epoch = int(np.ceil(len(train) / cfg.data.batch_size))
    step_s = e2e / args.steps
    val_s = len(dm.frames["val"]) / (seen / e2e) / 3
    epoch_s = steps_per_epoch * step_s + val_s
    epochs = cfg.train.max_epochs
    folds = len(dm.fold.train) + len(dm.fold.val) + len(dm.fold.test)  # one per speaker
    stop = " (early stopping may shorten it)" if cfg.train.patience else ""
    print(
        f"EMODB LOSO estimate, one fold at a time: {steps_per_epoch} steps/epoch x {step_s:.2f} s "
        f"+ validation = {epoch_s:.0f} s/epoch; {counted(epochs, 'epoch')} x "
        f"{counted(folds, 'fold')} = "
        f"{folds * epochs * epoch_s / 60:.0f} min{stop}"
    )
    # IEMOCAP: 10 speakers; a fold trains on the 8 not held out (~4400 of 5531 utterances), whose
    # utterances (4.5 s on average) nearly all fill the crop: assumed 1.1x EMODB's step time
    iemocap_steps = int(np.ceil(4400 / cfg.data.batch_size))
    iemocap_epoch = iemocap_steps * step_s * 1.1
    print(
        f"IEMOCAP LOSO estimate (5531 utterances, 10 folds; assumed ~4400 training utterances a "
        f"fold "
        f"at 1.1x the step time): {iemocap_steps} steps/epoch, ~{iemocap_epoch:.0f} s/epoch, "
        f"{10 * epochs * iemocap_epoch / 3600:.1f} h"
    )


# a fresh process: load the exported file, predict a 10 s file, print its peak resident memory in
# MiB (VmHWM: ru_maxrss would also count the forking parent's pages)
_PEAK = "print(int(open('/proc/self/status').read().split('VmHWM:')[1].split()[0]) / 1024)"
_RUN_ONCE = {
    "onnx": "import sys, numpy as np, onnxruntime as o; s = o.InferenceSession(sys.argv[1]); "
    "s.run(None, {'audio': np.load(sys.argv[2])}); " + _PEAK,
    "torchscript": "import sys, numpy as np, torch; m = torch.jit.load(sys.argv[1]); "
    "m(torch.from_numpy(np.load(sys.argv[2]))); " + _PEAK,
}


def _deployment(lit, waves: list[torch.Tensor], ten: torch.Tensor, tmp: Path) -> None:
    """The exported model (export.write) against PyTorch on a 10 s file: time per call, and the
    peak memory of a fresh process that loads the file and predicts once."""
    import subprocess
    import sys

    try:
        import onnxruntime
    except ImportError:
        print(
            "exported model: not measured, onnxruntime is not installed (pip install -e '.[serve]')"
        )
        return
    from ..inference.export import Deployed, metadata, write

    lit = copy.deepcopy(lit).cpu()  # the original stays on its device
    deployed = Deployed([lit]).eval().requires_grad_(False)
    meta = metadata([lit], ["bench"])
    audio = ten[None].cpu()
    np.save(tmp / "ten.npy", audio.numpy())
    runs = {"PyTorch (export.Deployed)": lambda: deployed(audio)}
    for fmt, suffix in (("onnx", ".onnx"), ("torchscript", ".pt")):
        write(deployed, meta, fmt, tmp / f"model{suffix}")
    session = onnxruntime.InferenceSession(str(tmp / "model.onnx"))
    scripted = torch.jit.load(str(tmp / "model.pt"))
    runs["ONNX Runtime"] = lambda: session.run(None, {"audio": audio.numpy()})
    runs["TorchScript"] = lambda: scripted(audio)
    for name, run in runs.items():
        with torch.no_grad():
            run()
            timings = []
            for _ in range(10):
                t0 = time.perf_counter()
                run()
                timings.append(time.perf_counter() - t0)
        print(
            f"exported, 10 s file, {name:26s} {1000 * np.median(timings):6.1f} ms, real-time "
            f"factor "
            f"{np.median(timings) / 10:.4f}"
        )
    for fmt, suffix in (("onnx", ".onnx"), ("torchscript", ".pt")):
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                _RUN_ONCE[fmt],
                str(tmp / f"model{suffix}"),
                str(tmp / "ten.npy"),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        size = (tmp / f"model{suffix}").stat().st_size / 1e6
        print(
            f"exported, {fmt:11s} file {size:.1f} MB; a fresh process that loads it and predicts "
            f"10 s: "
            f"{float(out.stdout):.0f} MiB peak resident"
        )


if __name__ == "__main__":
    main()
