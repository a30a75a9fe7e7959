# Local MI Lab for the JVM. `make help` lists the targets.
MODEL   ?= gpt2
DEVICE  ?= cpu
THREADS ?= 0
WEIGHTS ?=
SEEDS   ?=
RUN_ID  ?=
ARGS    ?=
# ENGINE=spark runs the patched passes on Apache Spark (module spark/, built only then); SPARK_MASTER:
# local[N], local[N,F] (F attempts per task) or spark://host:port (default local[*]).
ENGINE  ?= local
SPARK_MASTER   ?=
PARTITION_ROWS ?=

MVN      ?= mvn -B
# DEVICE=cuda builds with the onnxruntime_gpu artifact; never both ORT jars on one classpath.
PROFILE  := $(if $(filter cuda,$(DEVICE)),-Pcuda,)
FLAVOUR  := $(if $(PROFILE),cuda,cpu)
# What Spark 4 needs opened on JDK 17 (its JavaModuleOptions; spark/pom.xml's surefire argLine has the same list).
SPARK_JVM_FLAGS := -XX:+IgnoreUnrecognizedVMOptions --add-opens=java.base/java.lang=ALL-UNNAMED \
  --add-opens=java.base/java.lang.invoke=ALL-UNNAMED --add-opens=java.base/java.lang.reflect=ALL-UNNAMED \
  --add-opens=java.base/java.io=ALL-UNNAMED --add-opens=java.base/java.net=ALL-UNNAMED \
  --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/java.util=ALL-UNNAMED \
  --add-opens=java.base/java.util.concurrent=ALL-UNNAMED --add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED \
  --add-opens=java.base/jdk.internal.ref=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED \
  --add-opens=java.base/sun.nio.cs=ALL-UNNAMED --add-opens=java.base/sun.security.action=ALL-UNNAMED \
  --add-opens=java.base/sun.util.calendar=ALL-UNNAMED -Djdk.reflect.useDirectMethodHandle=false \
  -Dio.netty.tryReflectionSetAccessible=true
ifeq ($(ENGINE),spark)
# Spark is 'provided' (spark-submit supplies it on a cluster): the compile scope lists it for local runs.
MODULE    := spark
SCOPE     := compile
JVM_FLAGS := $(SPARK_JVM_FLAGS)
ENGINE_ARGS := --engine spark $(if $(SPARK_MASTER),--spark-master '$(SPARK_MASTER)',) $(if $(PARTITION_ROWS),--partition-rows $(PARTITION_ROWS),)
else
MODULE    := harness
SCOPE     := runtime
JVM_FLAGS := --add-opens=java.base/java.nio=ALL-UNNAMED
ENGINE_ARGS := $(if $(filter-out local,$(ENGINE)),--engine $(ENGINE),)
endif
CP_FILE  := $(MODULE)/target/classpath-$(FLAVOUR).txt
# The classpath goes in a java @argfile: ONNX Runtime's native start-up crashes (SIGSEGV) when the JVM's
# command line is as long as Spark's classpath (about 20 kB).
CP_ARGS  := $(MODULE)/target/java-classpath-$(FLAVOUR).args
STAMP    := $(MODULE)/target/.built-$(FLAVOUR)
JAVA     ?= java
JAVA_OPTS ?= -Xmx10g
JVM      := $(JAVA) $(JAVA_OPTS) $(JVM_FLAGS) -DOPT_OUT_TRACKING=true @$(CP_ARGS)
MILAB    := $(JVM) org.milab.cli.Main
SOURCES  := $(shell find export/src/main harness/src/main $(if $(filter spark,$(MODULE)),spark/src/main,) -type f 2>/dev/null) \
            pom.xml export/pom.xml harness/pom.xml $(if $(filter spark,$(MODULE)),spark/pom.xml,)

.PHONY: help build test export run-heldout run-sweep run-all run-characterization run-calibration diff inspect bench bench-spark bench-spark-run spark-jar random-checkpoint clean

help:
	@echo "make test                         build and run every test (what CI runs)"
	@echo "make export [MODEL=gpt2|planted-induction] [WEIGHTS=path/model.safetensors]"
	@echo "make inspect MODEL=... ARGS='--prompt \"A B C D A B C\" --hook blocks.0.attn.hook_z'"
	@echo "make run-heldout [MODEL=...] [DEVICE=cpu|cuda|auto] [THREADS=n]"
	@echo "make run-sweep   [MODEL=...]"
	@echo "make run-all RUN_ID=name [MODEL=...]   full progression S3-S19; rerun the same line to resume"
	@echo "make run-characterization / run-calibration [MODEL=...]"
	@echo "make diff A=results/<run> B=results/<run>"
	@echo "make bench                        throughput benchmark (not a test)"
	@echo "any run target ENGINE=spark [SPARK_MASTER=local[2]|spark://host:7077] [PARTITION_ROWS=n]"
	@echo "make spark-jar                    spark/target/milab-spark.jar for spark-submit"
	@echo "make bench-spark [SPARK_MASTER=local[2]] [ARGS='--seeds 10 --heads-per-layer 1']   local engine vs Spark"

# Only the modules a run needs: the core build never resolves Spark.
$(STAMP): $(SOURCES)
	$(MVN) -q $(PROFILE) -pl $(MODULE) -am -DskipTests package dependency:build-classpath \
	    -Dmdep.outputFile=target/classpath-$(FLAVOUR).txt -Dmdep.includeScope=$(SCOPE)
	@echo "-cp $(MODULE)/target/classes:harness/target/classes:export/target/classes:$$(cat $(CP_FILE))" > $(CP_ARGS)
	@touch $@

build: $(STAMP)

tools/arrow-check/node_modules: tools/arrow-check/package.json tools/arrow-check/package-lock.json
	npm ci --prefix tools/arrow-check --no-audit --no-fund
	@touch $@

test: tools/arrow-check/node_modules
	$(MVN) test

export: $(STAMP)
	$(MILAB) export --model $(MODEL) $(if $(WEIGHTS),--weights $(WEIGHTS),) $(ARGS)

inspect: $(STAMP)
	$(MILAB) inspect --model $(MODEL) --device $(DEVICE) $(ARGS)

# Every run command takes the same options, the engine's included (ENGINE=, SPARK_MASTER=, PARTITION_ROWS=).
RUN_ARGS = --model $(MODEL) --device $(DEVICE) --threads $(THREADS) $(if $(SEEDS),--seeds $(SEEDS),) $(if $(RUN_ID),--run-id $(RUN_ID),) $(ENGINE_ARGS) $(ARGS)

run-heldout: $(STAMP)
	$(MILAB) run-heldout $(RUN_ARGS)

run-sweep: $(STAMP)
	$(MILAB) run-sweep $(RUN_ARGS)

# run-all resumes by default when RUN_ID names an existing or interrupted run
run-all: $(STAMP)
	$(MILAB) run-all $(RUN_ARGS) $(if $(RUN_ID),--resume,)

run-characterization: $(STAMP)
	$(MILAB) run-characterization $(RUN_ARGS)

run-calibration: $(STAMP)
	$(MILAB) run-calibration $(RUN_ARGS)

diff: $(STAMP)
	@test -n "$(A)" -a -n "$(B)" || { echo "usage: make diff A=results/<run-a> B=results/<run-b>" >&2; exit 2; }
	$(MILAB) diff $(A) $(B) $(ARGS)

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

# One jar for spark-submit: the lab and its dependencies (ONNX Runtime included), Spark excluded.
spark-jar:
	$(MVN) -q $(PROFILE) -pl spark -am -Pspark-jar -DskipTests package
	@echo "built spark/target/milab-spark.jar (spark-submit --class org.milab.cli.Main spark/target/milab-spark.jar run-heldout --engine spark ...)"

# The scale benchmark: the held-out sweep over every head, local engine vs Spark (not a test).
bench-spark: graphs/gpt2-random/capture.onnx
	$(MAKE) --no-print-directory ENGINE=spark build
	$(MAKE) --no-print-directory ENGINE=spark bench-spark-run
bench-spark-run:
	$(JVM) org.milab.spark.ScaleBench --model gpt2-random --threads $(THREADS) \
	    $(if $(SPARK_MASTER),--spark-master '$(SPARK_MASTER)',) $(if $(PARTITION_ROWS),--partition-rows $(PARTITION_ROWS),) $(ARGS)

clean:
	$(MVN) -q clean
