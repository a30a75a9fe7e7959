# Local MI Lab for the JVM. `make help` lists the targets; start with `make demo` (offline, a few minutes).
MODEL   ?= gpt2
DEVICE  ?= cpu
THREADS ?= 0
WEIGHTS ?=
SEEDS   ?=
RUN_ID  ?=
RUN     ?=
ARGS    ?=

MVN      ?= mvn -B
# Maven 3.8's console library prints colour resets even with -B -q; this keeps quiet builds quiet
export MAVEN_OPTS := $(MAVEN_OPTS) -Djansi.noreset=true
# DEVICE=cuda builds with the onnxruntime_gpu artifact; never both ORT jars on one classpath.
PROFILE  := $(if $(filter cuda,$(DEVICE)),-Pcuda,)
FLAVOUR  := $(if $(PROFILE),cuda,cpu)
CP_FILE  := harness/target/classpath-$(FLAVOUR).txt
STAMP    := harness/target/.built-$(FLAVOUR)
SOURCES  := $(shell find export/src/main harness/src/main -type f 2>/dev/null) pom.xml export/pom.xml harness/pom.xml
export MILAB_FLAVOUR := $(FLAVOUR)

# $(call milab,ARGS): show the command (short: bin/milab hides the java line), then run it. Flags in ARGS come
# last and win over the Makefile's own (the CLI takes a repeated option's last value): ARGS='--device auto'.
milab = printf '+ bin/milab %s\n' '$(subst ','\'',$(strip $(1)))' && bin/milab $(1)
RUN_ARGS = --model $(MODEL) --device $(DEVICE) --threads $(THREADS) $(if $(RUN_ID),--run-id $(RUN_ID),)

.PHONY: help build test demo export inspect run-heldout run-sweep run-all run-v2 run-characterization run-calibration \
        attribute diff report columns bench random-checkpoint clean

help:
	@echo "Start here:"
	@echo "  make demo                      the whole lab offline on the planted model (known answer), then where to look"
	@echo "  make test                      build and run every test (what CI runs)"
	@echo "Models:"
	@echo "  make export [MODEL=gpt2|planted-induction|<name>] [WEIGHTS=path/model.safetensors]"
	@echo "  make random-checkpoint ARGS='--out DIR [--seed N]'   a GPT-2-small-shaped random checkpoint (benchmarks)"
	@echo "  make inspect [MODEL=...] ARGS='--prompt \"A B C D A B C\" --hook blocks.0.attn.hook_z'"
	@echo "Runs (results/<RUN_ID>/; each takes only its stages' options, ARGS=--help lists them):"
	@echo "  make run-all [MODEL=...] [RUN_ID=name]   S3-S19, then protocol v2 and both protocols' verdicts per head; the same RUN_ID resumes"
	@echo "  make run-v2 [MODEL=...] [RUN_ID=name] [SEEDS=1,2,3]   protocol v2 only (ARGS='--v2-prompts 24 --v2-probes 16')"
	@echo "  make run-heldout [MODEL=...] [SEEDS=10,11,12] [RUN_ID=name]   S3-S15"
	@echo "  make run-sweep | run-characterization | run-calibration [MODEL=...] [RUN_ID=name]"
	@echo "  make attribute [MODEL=...] [ARGS='--pairs 32 --verify-pairs 8']   AtP of every head/MLP/residual at every position"
	@echo "Tables:"
	@echo "  make report RUN=results/<run>               (re)write the run's report.html and print its verdict"
	@echo "  make diff A=results/<run> B=results/<run>   compare two runs (or two parts of runs)"
	@echo "  make columns [RUN=results/<run>]            the column glossary (writes COLUMNS.md), or a run's tables"
	@echo "Other: make bench (throughput, not a test), make build, make clean"
	@echo "Variables: MODEL (gpt2)  DEVICE=cpu|cuda|auto (cpu)  THREADS (0: ORT decides)  WEIGHTS  RUN_ID  SEEDS"
	@echo "  ARGS='...' any further CLI flags, placed last so they win; ARGS=--help shows a command's options"
	@echo "Exit codes: bin/milab <command> ... exits 0 ok, 1 differs (diff --exit-code), 2 bad input, 3 bug;"
	@echo "  make prints the command's code (\"Error N\") but itself exits 2 on any failure. make diff exits 0"
	@echo "  when it compared the runs (the last line says identical or not), so a failing make diff is a real error."

$(STAMP): $(SOURCES)
	@echo "+ building the lab (mvn package, $(FLAVOUR)); first time a few minutes"
	@$(MVN) -q $(PROFILE) -DskipTests package dependency:build-classpath \
	    -Dmdep.outputFile=target/classpath-$(FLAVOUR).txt -Dmdep.includeScope=runtime
	@touch $@

build: $(STAMP)

tools/readers/node_modules: tools/readers/package.json tools/readers/package-lock.json
	npm ci --prefix tools/readers --no-audit --no-fund
	@touch $@

# pinned chart libraries (vendored into the report) and playwright-core (drives Debian's chromium in the report's browser test)
tools/report-js/node_modules: tools/report-js/package.json tools/report-js/package-lock.json
	npm ci --prefix tools/report-js --no-audit --no-fund
	@touch $@

test: tools/readers/node_modules tools/report-js/node_modules
	$(MVN) test

# --- the demo: every step offline on the planted model; another protocol (run-v2) is one more line. The run ---
# --- writes its own report.html, listed below. ---
DEMO_MODEL := planted-induction
DEMO_RUN   ?= demo
graphs/$(DEMO_MODEL)/capture.onnx: $(STAMP)
	@$(call milab,export --model $(DEMO_MODEL))

demo: $(STAMP) graphs/$(DEMO_MODEL)/capture.onnx
	@$(call milab,run-all --model $(DEMO_MODEL) --device $(DEVICE) --threads $(THREADS) --run-id $(DEMO_RUN) --resume $(ARGS))
	@echo
	@echo "Demo finished, offline, on the planted model (L1H2 is its built-in induction head; nothing in the lab"
	@echo "knows that). Where to look:"
	@echo "  results/$(DEMO_RUN)/summary.md              the verdict first, then what ran, stage by stage"
	@echo "  results/$(DEMO_RUN)/report.html             the figures (open it in a browser; works offline)"
	@echo "  results/$(DEMO_RUN)/heldout_multiseed/       held-out verdict per pre-registered head (S14)"
	@echo "  results/$(DEMO_RUN)/characterization_multiseed/   final characterization verdict per head (S16)"
	@echo "  results/$(DEMO_RUN)/failure_taxonomy/        how each head failed (S18)"
	@echo "  results/$(DEMO_RUN)/calibration/             whether the metric justifies a head search (S19)"
	@echo "  Every table: X.arrow (pandas, Polars) and X.parquet (DuckDB); every column: COLUMNS.md."
	@echo "Next: GPT-2 (README, section 'GPT-2'); make help lists everything else."

export: $(STAMP)
	@$(call milab,export --model $(MODEL) $(if $(WEIGHTS),--weights $(WEIGHTS),) $(ARGS))

inspect: $(STAMP)
	@$(call milab,inspect --model $(MODEL) --device $(DEVICE) $(ARGS))

run-heldout: $(STAMP)
	@$(call milab,run-heldout $(RUN_ARGS) $(if $(SEEDS),--seeds $(SEEDS),) $(ARGS))

run-sweep: $(STAMP)
	@$(call milab,run-sweep $(RUN_ARGS) $(ARGS))

# run-all resumes by default when RUN_ID names an existing or interrupted run
run-all: $(STAMP)
	@$(call milab,run-all $(RUN_ARGS) $(if $(SEEDS),--seeds $(SEEDS),) $(if $(RUN_ID),--resume,) $(ARGS))

# protocol v2; SEEDS are its prompt seeds; resumes when RUN_ID names an existing or interrupted run
run-v2: $(STAMP)
	$(MILAB) run-v2 --model $(MODEL) --device $(DEVICE) --threads $(THREADS) $(if $(SEEDS),--v2-seeds $(SEEDS),) $(if $(RUN_ID),--run-id $(RUN_ID) --resume,) $(ARGS)

run-characterization: $(STAMP)
	@$(call milab,run-characterization $(RUN_ARGS) $(ARGS))

run-calibration: $(STAMP)
	@$(call milab,run-calibration $(RUN_ARGS) $(ARGS))

attribute: $(STAMP)
	@$(call milab,attribute $(RUN_ARGS) $(ARGS))

diff: $(STAMP)
	@test -n "$(A)" -a -n "$(B)" || { echo "usage: make diff A=results/<run-a> B=results/<run-b>" >&2; exit 2; }
	@$(call milab,diff $(A) $(B) $(ARGS))

columns: $(STAMP)
	@$(call milab,columns $(if $(RUN),--run $(RUN),--out COLUMNS.md) $(ARGS))

report: $(STAMP)
	@test -n "$(RUN)" || { echo "usage: make report RUN=results/<run-id>" >&2; exit 2; }
	@$(call milab,report $(RUN) $(ARGS))

random-checkpoint: $(STAMP)
	@$(call milab,random-checkpoint $(ARGS))

# The benchmark model: a random checkpoint with GPT-2 small's exact shape (the real weights cannot be
# downloaded on these machines), generated and exported once.
BENCH_CKPT := graphs/.bench-checkpoint/model.safetensors
$(BENCH_CKPT): | $(STAMP)
	@$(call milab,random-checkpoint --out graphs/.bench-checkpoint --seed 0)
# (re-)exported when an export predates the newest graph variant (patch_z_resume)
BENCH_GRAPHS := graphs/gpt2-random/patch_z_resume_from_0.onnx
$(BENCH_GRAPHS): $(BENCH_CKPT)
	@$(call milab,export --model gpt2-random --weights $(BENCH_CKPT) --allow-unpinned)

# prints the tables and writes results/bench/<time>/bench.json; ARGS='--engine-path minimal|legacy|both ...'
bench: $(STAMP) $(BENCH_GRAPHS)
	@$(call milab,bench --model gpt2-random --threads $(THREADS) $(ARGS))

clean:
	$(MVN) -q clean
