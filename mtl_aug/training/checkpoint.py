"""A checkpoint file checked before use: whole, and of this project."""

from __future__ import annotations

from pathlib import Path

import torch

from ..errors import DataError


def check_checkpoint(
    path: str | Path, resume: bool = False, advice: str = "train the model again"
) -> None:
    """Read a checkpoint once to see that it is whole: a truncated or foreign file is a DataError
    naming it, the reason and `advice`, not a traceback from deep inside torch or Lightning.
    `resume` also requires what training needs to continue (optimizer and loop states)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"checkpoint {path} not found")
    needed = ["state_dict", "hyper_parameters"] + (
        ["optimizer_states", "loops", "epoch"] if resume else []
    )
    try:
        content = torch.load(path, map_location="cpu", weights_only=False)
    # a cut-off zip, an empty file, another format: torch raises several types
    except Exception as exc:
        first = str(exc).splitlines()[0][:100] if str(exc) else ""
        reason = f"cannot be read ({type(exc).__name__}: {first})"
    else:
        missing = [k for k in needed if not isinstance(content, dict) or k not in content]
        if not missing:
            return
        reason = f"is not a whole checkpoint of this project (it lacks {', '.join(missing)})"
    raise DataError(f"checkpoint {path} {reason}: {advice}")


# what a finished model needs to predict: its weights, its config and statistics (hparams), and
# the Lightning version that wrote it; the optimizer, scheduler and loop states only resume training
KEEP = ("state_dict", "hyper_parameters", "pytorch-lightning_version")


def strip_training_state(src: str | Path, dst: str | Path) -> Path:
    """A copy of checkpoint `src` at `dst` without what only resuming needs (optimizer and
    scheduler states, loops, callbacks): about a third of the size; it predicts, evaluates and
    exports as `src` does."""
    check_checkpoint(src)
    content = torch.load(src, map_location="cpu", weights_only=False)
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    torch.save({k: content[k] for k in KEEP if k in content}, dst)
    return dst
