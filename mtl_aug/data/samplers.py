"""Training and evaluation orders: every item's random choices are a function of (seed, epoch,
position) alone, so a run resumed at an epoch boundary replays exactly."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.utils.data import Sampler


class EpochSampler(Sampler):
    """Yields (index, item_seed): the order and every item's random choices are a function of
    (seed, epoch, position) alone, so a run resumed at an epoch boundary replays exactly.
    `num_samples` (unlabelled data) draws that many per epoch, cycling through shuffled passes."""

    def __init__(self, n: int, seed: int, shuffle: bool = True, num_samples: int | None = None):
        self.n, self.seed, self.shuffle = n, seed, shuffle
        self.num_samples = num_samples or n
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:  # called by Lightning before every epoch
        self.epoch = epoch

    def __len__(self) -> int:
        return self.num_samples

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        order: list[int] = []
        while len(order) < self.num_samples:
            order += (
                torch.randperm(self.n, generator=g) if self.shuffle else torch.arange(self.n)
            ).tolist()
        seeds = torch.randint(0, 2**62, (self.num_samples,), generator=g).tolist()
        return iter(zip(order[: self.num_samples], seeds, strict=True))


class CorpusBalancedSampler(EpochSampler):
    """An EpochSampler that gives every corpus an equal share of each batch (data.balance_corpora):
    a batch of B positions holds B // K items of each of the K corpora, and its B % K remaining
    positions go to corpora taken in turn from a run of shuffled passes over the corpora, so
    every batch and the whole epoch split evenly to within one item, whatever the corpus sizes.
    Each corpus fills its positions from its own shuffled passes over its items: a small corpus
    repeats within an epoch, a large one is seen in part (another part the next epoch). The epoch
    keeps `num_samples` (default: all items) positions, so its number of steps is unchanged."""

    def __init__(
        self, groups: Sequence[int], seed: int, batch_size: int, num_samples: int | None = None
    ):
        """`groups`: each item's corpus, as codes 0..K-1; `batch_size`: the loader's."""
        super().__init__(len(groups), seed, True, num_samples)
        codes = torch.as_tensor(list(groups), dtype=torch.long)
        self.members = [torch.nonzero(codes == c).flatten() for c in range(int(codes.max()) + 1)]
        if any(len(m) == 0 for m in self.members):
            raise ValueError("every corpus code from 0 to the largest needs an item")
        self.batch_size = batch_size

    def slots(self, g: torch.Generator) -> torch.Tensor:
        """(num_samples,) the corpus of each position of the epoch."""
        k, total = len(self.members), self.num_samples
        turns = torch.cat([torch.randperm(k, generator=g) for _ in range(total // k + 1)])
        out, used = [], 0
        for start in range(0, total, self.batch_size):
            size = min(self.batch_size, total - start)
            extra = size % k
            batch = torch.cat([torch.arange(k).repeat(size // k), turns[used : used + extra]])
            used += extra
            out.append(batch[torch.randperm(size, generator=g)])
        return torch.cat(out)

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        slots = self.slots(g)
        order = torch.empty(self.num_samples, dtype=torch.long)
        for c, members in enumerate(self.members):
            where = torch.nonzero(slots == c).flatten()
            passes = [members[torch.randperm(len(members), generator=g)]]
            while sum(len(p) for p in passes) < len(where):
                passes.append(members[torch.randperm(len(members), generator=g)])
            order[where] = torch.cat(passes)[: len(where)]
        seeds = torch.randint(0, 2**62, (self.num_samples,), generator=g).tolist()
        return iter(zip(order.tolist(), seeds, strict=True))
