"""Training: the LightningModule, one fold's fit, run folders, parallel folds."""
