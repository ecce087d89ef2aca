# Every target runs in .venv, which `make install` creates (and any target creates if missing).
VENV    := .venv
PY      := $(VENV)/bin/python
MTL     := $(VENV)/bin/mtl-aug
STAMP   := $(VENV)/.installed

CORPUS  ?= synthetic_demo
DATA_DIR ?=
CONFIG  ?=
SEED    ?=
SEEDS   ?= 0
FOLD    ?=
FOLD_INDEX ?=
JOBS    ?= 1
SET     ?=
TRAIN   ?= iemocap
TEST    ?= msp_improv
NOISE   ?=
CORPORA ?= emodb urdu turev
SNRS    ?= 0 10 20
VARIANTS ?= stl mtl_aug
ATTACKS ?= fgsm pgd
SVM     ?= svm_corpus
WEIGHT  ?= nested
BUDGETS ?= 50 40 30 20
NO_TRAIN ?=
NAME    ?=
HOURS   ?=
SPEAKER ?=
STRICT  ?=
ENCODING ?=
CHECKPOINT ?=
ALIGN   ?=
FORMAT  ?= onnx
OUT     ?=
HOST    ?= 127.0.0.1
PORT    ?= 8000

opt = $(if $(2),$(1) $(2))
COMMON = $(call opt,--config,$(CONFIG)) $(call opt,--set,$(SET))
ALIGNED = $(if $(ALIGN),--align-level)

.PHONY: help install lock demo test lint manifests download train loso eval-cross eval-loco model eval-predict eval-fusion eval-noise eval-adversarial export serve bench clean

help:
	@echo "make demo                                   install, then train + test on the SYNTHETIC demo corpus"
	@echo "make test                                   run the test suite"
	@echo "make lint                                   ruff: lint and formatting check (CI runs it)"
	@echo "make lock                                   rewrite constraints.txt from the installed versions"
	@echo "make manifests CORPUS=<c> DATA_DIR=<path>   corpus folder -> data_manifests/<c>.csv"
	@echo "            (c: iemocap msp_improv emodb urdu turev tess emovo nemo librispeech demand noise generic folders;"
	@echo "             NAME=, HOURS=, STRICT=1 (stop at the first bad file); generic: ENCODING=latin-1;"
	@echo "             CLASSES=<class set the labels are checked against (default: the config's)>;"
	@echo "             folders: SPEAKER='<regex with (?P<speaker>...)>')"
	@echo "make download CORPUS=emodb DATA_DIR=<path>  download and unpack EMODB"
	@echo "make train CORPUS=<c> [FOLD=<speaker>] [CONFIG='stl ...'] [SEED=n] [SET='train.lr=1e-3 data.batch_size=32']"
	@echo "make loso CORPUS=<c> [SEEDS='0 1 2'] [JOBS=2] [FOLD_INDEX=i] [CONFIG=...]"
	@echo "make eval-cross TRAIN=iemocap TEST=msp_improv [SEEDS='0 1 2'] [CONFIG=...]"
	@echo "make eval-loco CORPORA='emodb urdu turev' [SEEDS=...]   leave one corpus out (4 classes)"
	@echo "            (eval-cross, eval-loco: ALIGN=1 moves each test corpus onto the training level)"
	@echo "make model [CORPORA='emodb urdu turev tess emovo']   rebuild the shipped model and docs/model_card.md"
	@echo "make eval-predict CORPUS=<c> [SEEDS=...]   the LOSO models through predict, one file at a time"
	@echo "make loso CORPUS=<c> CONFIG=svm             the openSMILE ComParE functionals + linear SVM baseline"
	@echo "            (CONFIG=svm_corpus: training-set statistics; also eval-cross, eval-loco; docs/baseline.md)"
	@echo "make eval-fusion CORPUS=<c> [SVM=svm_corpus] [WEIGHT=nested|0.5] [SEEDS=...] [CONFIG=...]   network + SVM late fusion"
	@echo "make eval-noise CORPUS=<c> NOISE=<dir> [SNRS='0 10 20'] [VARIANTS='stl mtl_aug'] [JOBS=2]"
	@echo "make eval-adversarial CORPUS=<c> [VARIANTS='stl stl_aug mtl_aug'] [ATTACKS='fgsm pgd'] [BUDGETS='50 40 30 20']"
	@echo "            [NO_TRAIN=1] [SEEDS=...] [JOBS=2]   white-box attacks on the waveform, and transfer"
	@echo "make export [CHECKPOINT='<ckpt> [<ckpt> ...]'] [FORMAT=onnx|torchscript] [OUT=model.onnx]"
	@echo "            (default OUT: ./<first checkpoint's name>.onnx or .pt, in the current folder)"
	@echo "make serve [CHECKPOINT='<ckpt> [<ckpt> ...]'] [PORT=8000] [HOST=127.0.0.1]   API + web page"
	@echo "            (export, serve without CHECKPOINT: the shipped model, docs/model_card.md)"
	@echo "make bench                                  throughput / real-time-factor figures"

install: $(STAMP)

# constraints.txt pins the tested versions of every dependency; `make lock` rewrites it on purpose
$(STAMP): pyproject.toml constraints.txt
	test -d $(VENV) || python3 -m venv $(VENV)
	$(VENV)/bin/pip install -e '.[test,serve]' -c constraints.txt
	touch $(STAMP)

lock: $(STAMP)
	$(VENV)/bin/pip freeze --exclude-editable | grep -v '^mtl-aug' > constraints.txt

demo: $(STAMP)
	$(MTL) demo $(COMMON) $(call opt,--seed,$(SEED))

test: $(STAMP)
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

manifests: $(STAMP)
	@test -n "$(DATA_DIR)" || (echo "DATA_DIR=<path to the corpus> is required" && exit 2)
	$(MTL) prepare $(CORPUS) $(DATA_DIR) $(call opt,--name,$(NAME)) $(call opt,--hours,$(HOURS)) $(if $(SPEAKER),--speaker '$(SPEAKER)') $(if $(filter 1 yes true,$(STRICT)),--strict) $(call opt,--encoding,$(ENCODING)) $(call opt,--classes,$(CLASSES))

download: $(STAMP)
	@test "$(CORPUS)" = emodb || (echo "only EMODB is freely downloadable (CORPUS=emodb)" && exit 2)
	@test -n "$(DATA_DIR)" || (echo "DATA_DIR=<folder to unpack into> is required" && exit 2)
	$(MTL) download $(DATA_DIR)

train: $(STAMP)
	$(MTL) train --corpus $(CORPUS) $(call opt,--fold,$(FOLD)) $(call opt,--seed,$(SEED)) $(COMMON)

loso: $(STAMP)
	$(MTL) loso --corpus $(CORPUS) --seeds $(SEEDS) --jobs $(JOBS) $(call opt,--fold-index,$(FOLD_INDEX)) $(COMMON)

eval-cross: $(STAMP)
	$(MTL) eval-cross --train $(TRAIN) --test $(TEST) --seeds $(SEEDS) $(COMMON) $(ALIGNED)

eval-loco: $(STAMP)
	$(MTL) eval-loco --corpora $(CORPORA) --seeds $(SEEDS) $(COMMON) $(ALIGNED)

# the shipped model (mtl_aug/shipped/model.ckpt) and its card; its recipe is `mtl-aug model`'s default
# (CORPORA only where given: its default above is eval-loco's three)
model: $(STAMP)
	$(MTL) model $(if $(filter command line environment,$(origin CORPORA)),--corpora $(CORPORA)) $(COMMON)

eval-predict: $(STAMP)
	$(MTL) eval-predict --corpus $(CORPUS) --seeds $(SEEDS) $(COMMON)

eval-fusion: $(STAMP)
	$(MTL) eval-fusion --corpus $(CORPUS) --svm $(SVM) --weight $(WEIGHT) --seeds $(SEEDS) $(COMMON)

eval-noise: $(STAMP)
	@test -n "$(NOISE)" || (echo "NOISE=<DEMAND folder or folder of noise files> is required" && exit 2)
	$(MTL) eval-noise --corpus $(CORPUS) --noise $(NOISE) --snrs $(SNRS) --variants $(VARIANTS) --seeds $(SEEDS) --jobs $(JOBS) $(COMMON)

eval-adversarial: $(STAMP)
	$(MTL) eval-adversarial --corpus $(CORPUS) --variants $(VARIANTS) --attacks $(ATTACKS) --budgets $(BUDGETS) --seeds $(SEEDS) --jobs $(JOBS) $(if $(filter 1 yes true,$(NO_TRAIN)),--no-train) $(COMMON)

export: $(STAMP)
	$(MTL) export $(call opt,--checkpoint,$(CHECKPOINT)) --format $(FORMAT) $(call opt,--out,$(OUT))

serve: $(STAMP)
	$(MTL) serve $(call opt,--checkpoint,$(CHECKPOINT)) --host $(HOST) --port $(PORT)

bench: $(STAMP)
	$(PY) -m mtl_aug.reporting.bench

clean:
	rm -rf runs results lightning_logs
