# Local MI Lab for the JVM. `make help` lists the targets.
MODEL   ?= gpt2
DEVICE  ?= cpu
THREADS ?= 0
WEIGHTS ?=
SEEDS   ?=
RUN_ID  ?=
ARGS    ?=

MVN      ?= mvn -B
# DEVICE=cuda builds with the onnxruntime_gpu artifact; never both ORT jars on one classpath.
PROFILE  := $(if $(filter cuda,$(DEVICE)),-Pcuda,)
FLAVOUR  := $(if $(PROFILE),cuda,cpu)
CP_FILE  := harness/target/classpath-$(FLAVOUR).txt
STAMP    := harness/target/.built-$(FLAVOUR)
JAVA     ?= java
JAVA_OPTS ?= -Xmx10g
JVM      := $(JAVA) $(JAVA_OPTS) --add-opens=java.base/java.nio=ALL-UNNAMED -DOPT_OUT_TRACKING=true \
            -cp "harness/target/classes:export/target/classes:$$(cat $(CP_FILE))"
MILAB    := $(JVM) org.milab.cli.Main
SOURCES  := $(shell find export/src/main harness/src/main -name '*.java' 2>/dev/null) pom.xml export/pom.xml harness/pom.xml

.PHONY: help build test export attribute run-heldout run-sweep run-all run-v2 run-characterization run-calibration diff report inspect bench random-checkpoint clean

help:
	@echo "make test                         build and run every test (what CI runs)"
	@echo "make export [MODEL=gpt2|planted-induction] [WEIGHTS=path/model.safetensors]"
	@echo "make inspect MODEL=... ARGS='--prompt \"A B C D A B C\" --hook blocks.0.attn.hook_z'"
	@echo "make run-heldout [MODEL=...] [DEVICE=cpu|cuda|auto] [THREADS=n]"
	@echo "make run-sweep   [MODEL=...]"
	@echo "make run-all RUN_ID=name [MODEL=...]   full progression S3-S19, then protocol v2 and both protocols' verdicts per head; rerun the same line to resume"
	@echo "make run-v2 [MODEL=...] [RUN_ID=...] [SEEDS=1,2,3] [ARGS='--v2-prompts 16 --v2-probes 16']   protocol v2 only"
	@echo "make run-characterization / run-calibration [MODEL=...]"
	@echo "make attribute [MODEL=...] [ARGS='--pairs 32 --verify-pairs 8']   AtP of every head/MLP/residual at every position"
	@echo "make diff A=results/<run> B=results/<run>"
	@echo "make report RUN=results/<run>     (re)write the run's report.html and print its verdict"
	@echo "make bench                        throughput benchmark (not a test)"

$(STAMP): $(SOURCES)
	$(MVN) -q $(PROFILE) -DskipTests package dependency:build-classpath \
	    -Dmdep.outputFile=target/classpath-$(FLAVOUR).txt -Dmdep.includeScope=runtime
	@touch $@

build: $(STAMP)

tools/arrow-check/node_modules: tools/arrow-check/package.json tools/arrow-check/package-lock.json
	npm ci --prefix tools/arrow-check --no-audit --no-fund
	@touch $@

# pinned chart libraries (vendored into the report) and playwright-core (drives Debian's chromium in the report's browser test)
tools/report-js/node_modules: tools/report-js/package.json tools/report-js/package-lock.json
	npm ci --prefix tools/report-js --no-audit --no-fund
	@touch $@

test: tools/arrow-check/node_modules tools/report-js/node_modules
	$(MVN) test

export: $(STAMP)
	$(MILAB) export --model $(MODEL) $(if $(WEIGHTS),--weights $(WEIGHTS),) $(ARGS)

inspect: $(STAMP)
	$(MILAB) inspect --model $(MODEL) --device $(DEVICE) $(ARGS)

run-heldout: $(STAMP)
	$(MILAB) run-heldout --model $(MODEL) --device $(DEVICE) --threads $(THREADS) $(if $(SEEDS),--seeds $(SEEDS),) $(if $(RUN_ID),--run-id $(RUN_ID),) $(ARGS)

run-sweep: $(STAMP)
	$(MILAB) run-sweep --model $(MODEL) --device $(DEVICE) --threads $(THREADS) $(if $(SEEDS),--seeds $(SEEDS),) $(if $(RUN_ID),--run-id $(RUN_ID),) $(ARGS)

RUN_ARGS = --model $(MODEL) --device $(DEVICE) --threads $(THREADS) $(if $(SEEDS),--seeds $(SEEDS),) $(if $(RUN_ID),--run-id $(RUN_ID),) $(ARGS)

# run-all resumes by default when RUN_ID names an existing or interrupted run
run-all: $(STAMP)
	$(MILAB) run-all $(RUN_ARGS) $(if $(RUN_ID),--resume,)

# protocol v2; SEEDS are its prompt seeds; resumes when RUN_ID names an existing or interrupted run
run-v2: $(STAMP)
	$(MILAB) run-v2 --model $(MODEL) --device $(DEVICE) --threads $(THREADS) $(if $(SEEDS),--v2-seeds $(SEEDS),) $(if $(RUN_ID),--run-id $(RUN_ID) --resume,) $(ARGS)

run-characterization: $(STAMP)
	$(MILAB) run-characterization $(RUN_ARGS)

run-calibration: $(STAMP)
	$(MILAB) run-calibration $(RUN_ARGS)

attribute: $(STAMP)
	$(MILAB) attribute --model $(MODEL) --device $(DEVICE) --threads $(THREADS) $(if $(RUN_ID),--run-id $(RUN_ID),) $(ARGS)

diff: $(STAMP)
	@test -n "$(A)" -a -n "$(B)" || { echo "usage: make diff A=results/<run-a> B=results/<run-b>" >&2; exit 2; }
	$(MILAB) diff $(A) $(B) $(ARGS)

report: $(STAMP)
	@test -n "$(RUN)" || { echo "usage: make report RUN=results/<run-id>" >&2; exit 2; }
	$(MILAB) report $(RUN) $(ARGS)

random-checkpoint: $(STAMP)
	$(MILAB) random-checkpoint $(ARGS)

# The benchmark model: a random checkpoint with GPT-2 small's exact shape (the real weights cannot be
# downloaded on these machines), generated and exported once.
BENCH_CKPT := graphs/.bench-checkpoint/model.safetensors
$(BENCH_CKPT): | $(STAMP)
	$(MILAB) random-checkpoint --out graphs/.bench-checkpoint --seed 0
graphs/gpt2-random/capture.onnx: $(BENCH_CKPT)
	$(MILAB) export --model gpt2-random --weights $(BENCH_CKPT) --allow-unpinned

bench: $(STAMP) graphs/gpt2-random/capture.onnx
	$(MILAB) bench --model gpt2-random --threads $(THREADS) $(ARGS)

clean:
	$(MVN) -q clean
