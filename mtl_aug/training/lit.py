"""The LightningModule, kept to the loop: a batch's features (log-mel, then the augmentations of
data.augment), one `step` returning the named losses of model.losses, evaluation collected per
split and scored at the epoch's end, the reseed before each step, the optimizer."""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytorch_lightning as pl
import torch
import torch.nn.functional as F

from ..config import Config, upgrade
from ..data import augment
from ..data.audio import LogMel
from ..model import MTLAug
from ..model.losses import class_weights, mtl_losses
from ..reporting.metrics import scores
from .distributed import gather_once


class LitMTLAug(pl.LightningModule):
    def __init__(
        self,
        cfg: Config | dict,
        class_names: list[str],
        class_counts: list[int] | None = None,
        num_speakers: int = 0,
        logmel: LogMel | None = None,
    ):
        """`class_counts` (training utterances per class) weight the cross-entropy when
        loss.class_balanced is set: class c by N / (C * count_c), so each class weighs the same.
        `num_speakers` (training speakers) sizes the speaker adversary (loss.weights.speaker).
        `logmel`: the run's features, whose statistics the data module computed (one LogMel per
        run); built from `cfg` when not given (a checkpoint loads its statistics with the weights).
        A checkpoint stores `cfg` as its plain tree, brought up to date on loading
        (config.upgrade)."""
        super().__init__()
        cfg = upgrade(cfg, "the checkpoint's config") if isinstance(cfg, dict) else cfg
        self.save_hyperparameters(
            {
                "cfg": cfg.to_dict(),
                "class_names": class_names,
                "class_counts": class_counts,
                "num_speakers": num_speakers,
            }
        )
        self.cfg, self.class_names = cfg, list(class_names)
        self.logmel = (
            logmel if logmel is not None else LogMel.from_config(cfg.features, cfg.data.sample_rate)
        )
        self.model = MTLAug.from_config(cfg, len(class_names), num_speakers)
        weight = class_weights(class_counts, len(class_names)) if cfg.loss.class_balanced else None
        self.register_buffer("class_weight", weight)
        self.weights = {k: v for k, v in dataclasses.asdict(cfg.loss.weights).items() if v > 0}
        self._outputs: dict[str, list] = {"val": [], "test": []}

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def training_level(self) -> float:
        """The training set's median active level in dBFS (data/level.py); NaN for a checkpoint
        written before it was stored (training/store_level.py stores it)."""
        return float(self.logmel.level)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        # checkpoints written before the training level was stored keep the level this module
        # has: NaN (unknown) when loaded for use, the one `fit` found when a run resumes
        checkpoint["state_dict"].setdefault("logmel.level", self.logmel.level.detach().clone())

    def features(self, batch: dict, train: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Log-mel (B, F, T), valid frames (B,), soft emotion targets (B, C); in training the
        batch's SpecAugment and mixup items are transformed here."""
        feats, n = self.logmel(batch["waves"], batch["lengths"], batch.get("stats"))
        labels = batch["labels"]
        targets = F.one_hot(labels.clamp(min=0), self.num_classes).float() * (labels >= 0)[:, None]
        if train:
            feats, targets = augment.apply_to_batch(feats, n, targets, batch, self.cfg.augment)
        return feats, n, targets

    def step(
        self, labelled: dict, unlabelled: dict | None = None, train: bool = True
    ) -> tuple[dict, dict]:
        feats, n, targets = self.features(labelled, train)
        aug = labelled["aug"]
        k = feats.shape[0]
        if unlabelled is not None:
            u_feats, u_n, _ = self.features(unlabelled, train)
            t = max(feats.shape[-1], u_feats.shape[-1])
            feats = torch.cat(
                [F.pad(feats, (0, t - feats.shape[-1])), F.pad(u_feats, (0, t - u_feats.shape[-1]))]
            )
            n, aug = torch.cat([n, u_n]), torch.cat([aug, unlabelled["aug"]])
        out = self.model(feats, n, n_labelled=k)
        if train:  # the running mean embedding that evaluation centres speakers on (clean items)
            self.model.emotion.track(out["embedding"][labelled["aug"] == augment.NONE].detach())
        losses = mtl_losses(
            self.model, out, targets, n, aug, labelled, self.weights, self.class_weight
        )
        return losses, out

    def on_train_batch_start(self, batch: dict, batch_idx: int) -> None:
        # Dropout draws from the global RNG. Reseeded before every step from (seed, epoch, step),
        # so a resumed run replays it exactly: a per-epoch reseed did not, because the DataLoader
        # draws from that RNG when an epoch's iterator is made, which a resumed run does earlier.
        seed = int(
            np.random.SeedSequence([self.cfg.seed, self.current_epoch, batch_idx]).generate_state(
                1
            )[0]
        )
        torch.manual_seed(seed)
        random.seed(seed)
        np.random.seed(seed)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        losses, out = self.step(batch["labelled"], batch.get("unlabelled"), train=True)
        bs = batch["labelled"]["labels"].shape[0]
        self.log_dict(
            {f"train/{k}": v for k, v in losses.items()},
            on_step=False,
            on_epoch=True,
            batch_size=bs,
        )
        acc = (out["logits"].argmax(-1) == batch["labelled"]["labels"]).float().mean()
        self.log("train/acc", acc, on_step=False, on_epoch=True, prog_bar=True, batch_size=bs)
        return losses["total"]

    def _eval_step(self, batch: dict, split: str) -> None:
        """Embeddings are kept and classified at the end of the epoch, when every utterance of a
        speaker is there to centre them on (model.centre_embedding)."""
        feats, n, _ = self.features(batch, train=False)
        embedding = self.model(feats, n, aux=False)["embedding"]
        self._outputs[split].append(
            (embedding.cpu(), batch["labels"].cpu(), batch["speaker"].cpu(), batch["index"].cpu())
        )

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self._eval_step(batch, "val")

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self._eval_step(batch, "test")

    def collected(self, split: str) -> dict:
        embedding, targets, speakers, index = (
            torch.cat(x) for x in zip(*self._outputs[split], strict=True)
        )
        c = {"embedding": embedding, "targets": targets, "speakers": speakers, "index": index}
        c = c if self.trainer.world_size == 1 else gather_once(self, c)
        logits = self.model.emotion.classify(c.pop("embedding").to(self.device), c.pop("speakers"))
        return {"preds": logits.argmax(-1).cpu(), "probs": logits.softmax(-1).cpu(), **c}

    def _eval_epoch_end(self, split: str) -> None:
        if not self._outputs[split]:
            return
        c = self.collected(split)
        s = scores(c["preds"], c["targets"], self.num_classes)
        self.log(f"{split}/uar", s["uar"], prog_bar=True)
        self.log(f"{split}/wa", s["wa"], prog_bar=split == "val")
        if split == "test":
            self.test_results = {**s, **c}
        self._outputs[split].clear()

    def on_validation_epoch_end(self) -> None:
        self._eval_epoch_end("val")

    def on_test_epoch_end(self) -> None:
        self._eval_epoch_end("test")

    def configure_optimizers(self):
        t = self.cfg.train
        opt = torch.optim.Adam(self.parameters(), lr=t.lr, weight_decay=t.weight_decay)
        if t.scheduler == "none":
            return opt
        # onecycle: warm up to lr over the first 30 %, then cosine down to ~0
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=t.lr, pct_start=0.3, total_steps=self.trainer.estimated_stepping_batches
        )
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
