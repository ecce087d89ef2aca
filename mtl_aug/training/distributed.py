"""Evaluation outputs gathered across DDP ranks."""

from __future__ import annotations

import numpy as np
import pytorch_lightning as pl
import torch


def gather_once(module: pl.LightningModule, c: dict) -> dict:
    """Every rank's predictions (DDP): padded to one length, gathered, then the padding and
    the distributed sampler's repeated items dropped, so metrics cover each item once."""
    sizes = module.all_gather(torch.tensor(len(c["index"]), device=module.device)).flatten().cpu()
    m = int(sizes.max())
    out = {}
    for k, v in c.items():
        padded = torch.cat([v, v.new_zeros((m - len(v),) + v.shape[1:])]).to(module.device)
        g = module.all_gather(padded).cpu()  # (world, m, ...)
        out[k] = torch.cat([g[r, : sizes[r]] for r in range(len(sizes))])
    _, first = np.unique(out["index"].numpy(), return_index=True)
    return {k: v[torch.from_numpy(first)] for k, v in out.items()}
