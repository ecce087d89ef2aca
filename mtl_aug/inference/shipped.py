"""The model shipped inside the package (docs/model_card.md; `make model` rebuilds it): what
`predict` and `serve` use when no checkpoint is given."""

from __future__ import annotations

import logging
from pathlib import Path

from ..errors import DataError

log = logging.getLogger(__name__)

SHIPPED = Path(__file__).resolve().parents[1] / "shipped" / "model.ckpt"
CARD = Path("docs/model_card.md")  # where `make model` writes the card, from the repository root


def checkpoints_or_shipped(given: list[str] | None) -> list:
    """`given`, or the shipped model, named in the log so that a user knows which answered."""
    if given:
        return given
    if not SHIPPED.is_file():
        raise DataError(
            f"no model ships at {SHIPPED}: give --checkpoint, or build it with `make model` "
            "(docs/model_card.md)"
        )
    # named inside the package, not by this machine's path: the line reads the same everywhere
    log.info("model: the shipped one, mtl_aug/shipped/model.ckpt (docs/model_card.md)")
    return [SHIPPED]
