"""MTL-AUG speech emotion recognition (Latif et al., IEEE TAC 2022) in PyTorch Lightning."""

__version__ = "0.1.0"
