"""The field's classical baseline: openSMILE ComParE_2016 functionals and a linear SVM, on the
network's folds, class maps, metrics and report files (docs/baseline.md)."""
