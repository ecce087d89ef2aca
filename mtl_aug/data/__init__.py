"""Data: corpora and manifests, folds, audio and features, augmentation, batches."""
