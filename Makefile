# Local MI Lab for the JVM. `make help` lists the targets; start with `make demo` (offline, a few minutes).
MODEL   ?= gpt2
DEVICE  ?= cpu
THREADS ?= 0
WEIGHTS ?=
SEEDS   ?=
RUN_ID  ?=
RUN     ?=
ARGS    ?=
# ENGINE=spark: the patched passes run on Apache Spark (module spark/, built only then). SPARK_MASTER:
# local[N], local[N,F] (F attempts per task), spark://host:port (default local[*]); PARTITION_ROWS (1024).
ENGINE  ?= local
SPARK_MASTER   ?=
PARTITION_ROWS ?=

MVN      ?= mvn -B
# Maven 3.8's console library prints colour resets even with -B -q; this keeps quiet builds quiet
export MAVEN_OPTS := $(MAVEN_OPTS) -Djansi.noreset=true
# DEVICE=cuda builds with the onnxruntime_gpu artifact; never both ORT jars on one classpath.
PROFILE  := $(if $(filter cuda,$(DEVICE)),-Pcuda,)
FLAVOUR  := $(if $(PROFILE),cuda,cpu)
ifeq ($(ENGINE),spark)
# Spark is 'provided' (spark-submit supplies it on a cluster): the compile scope lists it for local runs
MODULE   := spark
SCOPE    := compile
ENGINE_ARGS := --engine spark $(if $(SPARK_MASTER),--spark-master '$(SPARK_MASTER)',) $(if $(PARTITION_ROWS),--partition-rows $(PARTITION_ROWS),)
else
MODULE   := harness
SCOPE    := runtime
ENGINE_ARGS := $(if $(filter-out local,$(ENGINE)),--engine $(ENGINE),)
endif
CP_FILE  := $(MODULE)/target/classpath-$(FLAVOUR).txt
STAMP    := $(MODULE)/target/.built-$(FLAVOUR)
SOURCES  := $(shell find export/src/main harness/src/main $(if $(filter spark,$(MODULE)),spark/src/main spark/spark-jvm.args,) \
              -type f 2>/dev/null) pom.xml export/pom.xml harness/pom.xml $(if $(filter spark,$(MODULE)),spark/pom.xml,)
export MILAB_FLAVOUR := $(FLAVOUR)
# bin/milab runs the spark module's classpath (and Spark's JVM flags) when this says spark
export MILAB_MODULE := $(MODULE)

# $(call milab,ARGS): show the command (short: bin/milab hides the java line), then run it. Flags in ARGS come
# last and win over the Makefile's own (the CLI takes a repeated option's last value): ARGS='--device auto'.
milab = printf '+ bin/milab %s\n' '$(subst ','\'',$(strip $(1)))' && bin/milab $(1)
RUN_ARGS = --model $(MODEL) --device $(DEVICE) --threads $(THREADS) $(if $(RUN_ID),--run-id '$(RUN_ID)',) $(ENGINE_ARGS)

.PHONY: help build test demo export inspect run-heldout run-sweep run-all run-v2 run-characterization run-calibration \
        attribute circuit diff report check-report columns bench bench-peer bench-peer-venv bench-circuit bench-circuit-run bench-v2 bench-v2-planted bench-rows bench-spark spark-jar random-checkpoint zoo zoo-diagnose kill-campaign clean

help:
	@echo "Start here:"
	@echo "  make demo                      the whole lab offline on the planted model (known answer), then where to look"
	@echo "  make test                      build and run every test (what CI runs)"
	@echo "Models:"
	@echo "  make export [MODEL=gpt2|planted-induction|<name>] [WEIGHTS=path/model.safetensors]"
	@echo "  make random-checkpoint ARGS='--out DIR [--seed N] [--plant induction]'   a GPT-2-small-shaped random checkpoint (benchmarks); --plant: with a hand-written induction circuit"
	@echo "  make zoo [ZOO_PYTHON=venv/bin/python]   retrain the trained zoo (PyTorch, docs/zoo.md), then make zoo-diagnose"
	@echo "  make zoo-diagnose               the independent induction diagnosis of every zoo model (zoo/<model>/diagnosis.json)"
	@echo "  make inspect [MODEL=...] ARGS='--prompt \"A B C D A B C\" --hook blocks.0.attn.hook_z'"
	@echo "Runs (results/<RUN_ID>/; each takes only its stages' options, ARGS=--help lists them):"
	@echo "  make run-all [MODEL=...] [RUN_ID=name]   S3-S19, then protocol v2 and both protocols' verdicts per head; the same RUN_ID resumes"
	@echo "  make run-v2 [MODEL=...] [RUN_ID=name] [SEEDS=1,2,3]   protocol v2 only (ARGS='--v2-prompts 16 --v2-probes 16')"
	@echo "  make run-heldout [MODEL=...] [SEEDS=10,11,12] [RUN_ID=name]   S3-S15"
	@echo "  make run-sweep | run-characterization | run-calibration [MODEL=...] [RUN_ID=name]"
	@echo "  make attribute [MODEL=...] [ARGS='--pairs 32 --verify-pairs 8']   AtP of every head/MLP/residual at every position"
	@echo "  make circuit [MODEL=...] TASK=file.jsonl|induction [RUN_ID=name]   edge circuits, EAP/EAP-IG, exact faithfulness; the same RUN_ID resumes (docs/circuits.md)"
	@echo "Tables:"
	@echo "  make report RUN=results/<run>               (re)write the run's report.html and print its verdict"
	@echo "  make check-report RUN=results/<run> [MIN_FIGURES=4]   open its report.html in chromium as the browser test does"
	@echo "  make diff A=results/<run> B=results/<run>   compare two runs (or two parts of runs)"
	@echo "  make columns [RUN=results/<run>]            the column glossary (writes COLUMNS.md), or a run's tables"
	@echo "Scale out (Apache Spark; module spark/, built only for these):"
	@echo "  any run target ENGINE=spark [SPARK_MASTER=local[2]|local[2,3]|spark://host:7077] [PARTITION_ROWS=1024]"
	@echo "  make spark-jar                 spark/target/milab-spark.jar for spark-submit"
	@echo "  make bench-spark [ARGS='--seeds 10 --heads-per-layer 1']   held-out sweep, local engine vs Spark local[2]"
	@echo "  make bench-circuit [ARGS='--ig-steps 10']   edge attribution timing by phase on GPT-2 small's shape (32 examples)"
	@echo "  make bench-v2 [ARGS='--v2-sequential off']   protocol v2 at full counts on GPT-2 small's shape: rows and seconds per step"
	@echo "  make bench-v2-planted [ARGS=...]   the same on GPT-2 small's shape with an induction circuit planted (a gap to explain)"
	@echo "  make bench-rows [ARGS='--calls 128x16:greedy,128x16 --rounds 3 --profile']   MINIMAL rows (v2-shaped, held-out) per engine setting, side by side"
	@echo "  make bench-circuit-run [ENGINE=spark] [ARGS='--exact-edges 500']   a whole circuit run on that shape (sweeps included)"
	@echo "  make kill-campaign [KILLS=10] [SEED=n]   kill -9 run-v2 and circuit at random times, resume, compare (docs/reliability-v2.md)"
	@echo "Other: make bench (throughput, not a test; NO_PEER=1 without the PyTorch peer), make bench-peer (engine vs peer only), make build, make clean"
	@echo "Variables: MODEL (gpt2)  DEVICE=cpu|cuda|auto (cpu)  THREADS (0: one per core)  WEIGHTS  RUN_ID  SEEDS  ENGINE"
	@echo "  ARGS='...' any further CLI flags, placed last so they win; ARGS=--help shows a command's options"
	@echo "Exit codes: bin/milab <command> ... exits 0 ok, 1 differs (diff --exit-code), 2 bad input, 3 bug;"
	@echo "  make prints the command's code (\"Error N\") but itself exits 2 on any failure. make diff exits 0"
	@echo "  when it compared the runs (the last line says identical or not), so a failing make diff is a real error."

# only the modules a run needs: the core build never resolves Spark
$(STAMP): $(SOURCES)
	@echo "+ building the lab (mvn package, $(MODULE), $(FLAVOUR)); first time a few minutes$(if $(filter spark,$(MODULE)), (Spark: ~370 MB of jars),)"
	@$(MVN) -q $(PROFILE) -pl $(MODULE) -am -DskipTests package dependency:build-classpath \
	    -Dmdep.outputFile=target/classpath-$(FLAVOUR).txt -Dmdep.includeScope=$(SCOPE)
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
	@echo "  results/$(DEMO_RUN)/v2/summary.md             protocol v2: roles from data, CIs, circuit faithfulness (v2/verdicts.arrow)"
	@echo "  Every table: X.arrow (pandas, Polars) and X.parquet (DuckDB); every column: COLUMNS.md."
	@echo "Next: GPT-2 (README, section 'GPT-2'); make help lists everything else."

export: $(STAMP)
	@$(call milab,export --model $(MODEL) $(if $(WEIGHTS),--weights $(WEIGHTS),) $(ARGS))

# --- the trained zoo (docs/zoo.md): zoo/<model>/ is committed; only make zoo retrains (PyTorch, pinned in ---
# --- tools/zoo/requirements.txt, in a venv of your choice: ZOO_PYTHON). ---
ZOO_PYTHON ?= python3
zoo:
	@while read -r name args; do case "$$name" in ''|'#'*) continue;; esac; \
	  echo "+ $(ZOO_PYTHON) tools/zoo/train.py --name $$name $$args --out zoo"; \
	  $(ZOO_PYTHON) tools/zoo/train.py --name $$name $$args --out zoo || exit 2; done < tools/zoo/models.txt
	@$(MAKE) --no-print-directory zoo-diagnose

zoo-diagnose: $(STAMP)
	@MILAB_MAIN=org.milab.diagnosis.ZooDiagnosis bin/milab zoo

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
	@$(call milab,run-v2 $(RUN_ARGS) $(if $(SEEDS),--v2-seeds $(SEEDS),) $(if $(RUN_ID),--resume,) $(ARGS))

run-characterization: $(STAMP)
	@$(call milab,run-characterization $(RUN_ARGS) $(ARGS))

run-calibration: $(STAMP)
	@$(call milab,run-calibration $(RUN_ARGS) $(ARGS))

attribute: $(STAMP)
	@$(call milab,attribute $(RUN_ARGS) $(ARGS))

circuit: $(STAMP)
	@test -n "$(TASK)" || { echo "usage: make circuit [MODEL=...] TASK=path/task.jsonl|induction [RUN_ID=name]" >&2; exit 2; }
	@$(call milab,circuit --model $(MODEL) --device $(DEVICE) --threads $(THREADS) $(if $(RUN_ID),--run-id '$(RUN_ID)' --resume,) --task $(TASK) $(ENGINE_ARGS) $(ARGS))

diff: $(STAMP)
	@test -n "$(A)" -a -n "$(B)" || { echo "usage: make diff A=results/<run-a> B=results/<run-b>" >&2; exit 2; }
	@$(call milab,diff $(A) $(B) $(ARGS))

columns: $(STAMP)
	@$(call milab,columns $(if $(RUN),--run $(RUN),--out COLUMNS.md) $(ARGS))

report: $(STAMP)
	@test -n "$(RUN)" || { echo "usage: make report RUN=results/<run-id>" >&2; exit 2; }
	@$(call milab,report $(RUN) $(ARGS))

# the report's browser check (ReportBrowserTest's rules) on any run, e.g. a full make demo; needs Debian's chromium
check-report: tools/report-js/node_modules
	@test -n "$(RUN)" || { echo "usage: make check-report RUN=results/<run-id> [MIN_FIGURES=4]" >&2; exit 2; }
	@command -v $${MILAB_CHROMIUM:-chromium} >/dev/null 2>&1 || { echo "make check-report needs chromium: apt-get install chromium (or MILAB_CHROMIUM=/path)" >&2; exit 2; }
	node tools/report-js/check-run.mjs $(RUN) target/check-report $(MIN_FIGURES)

random-checkpoint: $(STAMP)
	@$(call milab,random-checkpoint $(ARGS))

# The benchmark model: a random checkpoint with GPT-2 small's exact shape (the real weights cannot be
# downloaded on these machines), generated and exported once.
BENCH_CKPT := graphs/.bench-checkpoint/model.safetensors
$(BENCH_CKPT): | $(STAMP)
	@$(call milab,random-checkpoint --out graphs/.bench-checkpoint --seed 0)
# (re-)exported when an export predates the newest graph variant (patch_z_minimal)
BENCH_GRAPHS := graphs/gpt2-random/patch_z_minimal_from_0.onnx
$(BENCH_GRAPHS): $(BENCH_CKPT)
	@$(call milab,export --model gpt2-random --weights $(BENCH_CKPT) --allow-unpinned)

# The PyTorch peer and the library MatMul ceilings (tools/peer, docs/benchmarks.md) run in a venv with the
# CPU build of torch from its wheel file (pinned by sha256) and tools/peer/requirements.txt. NO_PEER=1: without.
PEER_VENV          ?= .venv-peer
TORCH_WHEEL        ?= /opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl
TORCH_WHEEL_SHA256 := 6746dbcbeb526eb61330b76b41ff1b4eb848951103a892eeb080dfa2b264667b
PEER_ARGS = $(if $(NO_PEER),,--peer-python $(PEER_VENV)/bin/python --peer-checkpoint $(BENCH_CKPT))
bench-peer-venv: $(PEER_VENV)/.ready
$(PEER_VENV)/.ready: tools/peer/requirements.txt
	@test -f "$(TORCH_WHEEL)" || { echo "The torch wheel $(TORCH_WHEEL) is missing. Fix: download torch-2.13.0+cpu for your Python from https://download.pytorch.org/whl/cpu and pass TORCH_WHEEL=path (or run with NO_PEER=1)." >&2; exit 2; }
	@echo "$(TORCH_WHEEL_SHA256)  $(TORCH_WHEEL)" | sha256sum -c --quiet - || { echo "$(TORCH_WHEEL) is not the pinned torch 2.13.0+cpu wheel (sha256 differs). Fix: use that wheel, or NO_PEER=1." >&2; exit 2; }
	python3 -m venv $(PEER_VENV)
	$(PEER_VENV)/bin/pip install -q "$(TORCH_WHEEL)" -r tools/peer/requirements.txt
	@touch $@

# prints the tables and writes results/bench/<time>/bench.json; ARGS='--engine-path minimal|legacy|both ...'
bench: $(STAMP) $(BENCH_GRAPHS) $(if $(NO_PEER),,$(PEER_VENV)/.ready)
	@$(call milab,bench --model gpt2-random --threads $(THREADS) $(PEER_ARGS) $(ARGS))

# only the engine, the PyTorch peer right after it and the MatMul ceilings (their ratios, minutes not more)
bench-peer: $(STAMP) $(BENCH_GRAPHS) $(PEER_VENV)/.ready
	@$(call milab,bench --model gpt2-random --threads $(THREADS) --engine-path minimal --skip-whole --skip-attribution \
	    --skip-scaling $(PEER_ARGS) $(ARGS))

# circuit timing on GPT-2 small's shape (not a test). bench-circuit: edge attribution (EAP; ARGS='--ig-steps 10' adds
# EAP-IG) for one task of 32 examples, by phase (sessions, forward, backward), CPU seconds and load beside wall time; its
# last line is the one to quote. bench-circuit-run: a whole circuit run (EAP-IG, exact effects, faithfulness sweeps; add
# ENGINE=spark to run the sweeps on Spark); its phases' seconds are in results/<run>/circuit/circuit_summary.json
bench-circuit: $(STAMP) $(BENCH_GRAPHS)
	@export MILAB_MAIN=org.milab.bench.CircuitBench && $(call milab,--model gpt2-random --threads $(THREADS) $(ARGS))

# protocol v2 on GPT-2 small's shape at full counts (not a test): seconds (run manifest) and engine rows per step into
# results/bench/<time>/bench.json, the causal rows beside what they would be without the sequential design; the run
# itself lands in results/bench-v2-<time>. ARGS='--v2-sequential off' (every head on every pair), '--v2-seeds 1 ...'
bench-v2: $(STAMP) $(BENCH_GRAPHS)
	@export MILAB_MAIN=org.milab.bench.V2ScaleBench && $(call milab,--model gpt2-random --threads $(THREADS) $(ARGS))

# the same on a model of GPT-2 small's shape WITH a behaviour: a hand-written previous-token and induction head, every
# other head null (PlantedGpt2Shape; the random checkpoint has no clean - corrupt gap, so the sequential design can stop
# nothing on it). The truth is in graphs/.bench-planted/planted_truth.json, never read by the protocol.
BENCH_PLANTED_CKPT := graphs/.bench-planted/model.safetensors
$(BENCH_PLANTED_CKPT): | $(STAMP)
	@$(call milab,random-checkpoint --out graphs/.bench-planted --seed 0 --plant induction)
BENCH_PLANTED_GRAPHS := graphs/gpt2-shape-planted/patch_z_minimal_from_0.onnx
$(BENCH_PLANTED_GRAPHS): $(BENCH_PLANTED_CKPT)
	@$(call milab,export --model gpt2-shape-planted --weights $(BENCH_PLANTED_CKPT) --allow-unpinned)
bench-v2-planted: $(STAMP) $(BENCH_PLANTED_GRAPHS)
	@export MILAB_MAIN=org.milab.bench.V2ScaleBench && $(call milab,--model gpt2-shape-planted --threads $(THREADS) $(ARGS))
# the engine's MINIMAL rows by call size (not a test): v2-shaped rows (one head at every position >= 1) and the
# held-out matrix, variants alternating in one process; ARGS='--calls 128x16,256x32 --rounds 3 --profile'
bench-rows: $(STAMP) $(BENCH_GRAPHS)
	@export MILAB_MAIN=org.milab.bench.PatchRowsBench && $(call milab,--model gpt2-random --threads $(THREADS) $(ARGS))

bench-circuit-run: $(STAMP) $(BENCH_GRAPHS)
	@echo "loadavg before: $$(cat /proc/loadavg)"
	@$(call milab,circuit --model gpt2-random --task induction --examples 32 --threads $(THREADS) --run-id bench-circuit-$$(date +%Y%m%d-%H%M%S) $(ENGINE_ARGS) $(ARGS))
	@echo "loadavg after: $$(cat /proc/loadavg)"

# one jar for spark-submit: the lab and its dependencies (ONNX Runtime included), Spark excluded
spark-jar:
	@echo "+ building spark/target/milab-spark.jar (mvn -Pspark-jar package)"
	@$(MVN) -q $(PROFILE) -pl spark -am -Pspark-jar -DskipTests package
	@echo "spark-submit --master spark://<host>:7077 --class org.milab.cli.Main spark/target/milab-spark.jar run-heldout --engine spark ..."

# the scale benchmark (not a test): the held-out sweep over every head, local engine vs Spark
bench-spark: $(BENCH_GRAPHS)
	@$(MAKE) --no-print-directory ENGINE=spark build
	@export MILAB_MODULE=spark MILAB_MAIN=org.milab.spark.ScaleBench && $(call milab,--model gpt2-random --threads $(THREADS) \
	    $(if $(SPARK_MASTER),--spark-master '$(SPARK_MASTER)',) $(if $(PARTITION_ROWS),--partition-rows $(PARTITION_ROWS),) $(ARGS))

# issue 22: SIGKILL at random times of run-v2 and circuit (planted models), each resumed on its run id until it
# finishes, every table compared with an uninterrupted run's; CI runs 3 kills per command (KillCampaignTest)
KILLS ?= 10
kill-campaign:
	$(MVN) -q -pl harness -am test -Dtest=KillCampaignTest -Dsurefire.failIfNoSpecifiedTests=false -DfailIfNoTests=false \
	    -Dmilab.kills=$(KILLS) $(if $(SEED),-Dmilab.killSeed=$(SEED),)

clean:
	$(MVN) -q clean
