"""The evaluation protocols, each one module: leave-one-speaker-out (`loso`), cross-corpus and
leave-one-corpus-out (`cross`), noise (`noise`), adversarial attacks (`adversarial`) and the
deployed path (`deployed`). They train through `train.train_fold` and score through `evaluate`."""
