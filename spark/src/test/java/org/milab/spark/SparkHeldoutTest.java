package org.milab.spark;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.milab.cli.Main;
import org.milab.engine.RecomputePath;
import org.milab.graph.PatchSite;
import org.milab.lab.LabModel;
import org.milab.catalog.ModelLayout;
import org.milab.model.ModelConfig;
import org.milab.run.RunContext;
import org.milab.runtime.Device;
import org.milab.tables.RunDiff;
import org.milab.util.AtomicFiles;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A reduced held-out pass (S3-S15: one controls seed, one held-out seed, few prompts, every head
 * pre-registered) on the planted model, through the CLI as {@code make run-heldout} runs it, once with the
 * local engine and once with {@code --engine spark --spark-master local[2]}: every table must be identical
 * (keys, strings and numbers, bit for bit), since Spark's partitions are runs of the local engine's batches.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SparkHeldoutTest {
    Path localRoot, sparkRoot;

    @BeforeAll
    void export(@TempDir Path a, @TempDir Path b) {
        localRoot = a;
        sparkRoot = b;
        SparkFixtures.exportPlanted(localRoot);
        SparkFixtures.copyExport(localRoot, sparkRoot);
        // every head, pre-registered: a reduced sweep finds too few negative controls to derive a set
        StringBuilder csv = new StringBuilder("layer,head,candidate_group\n");
        ModelConfig cfg = ModelConfig.read(new ModelLayout(localRoot, SparkFixtures.MODEL).graphDir().resolve("config.json"));
        for (int l = 0; l < cfg.nLayer(); l++)
            for (int h = 0; h < cfg.nHead(); h++) csv.append(l).append(',').append(h).append(",replicated_candidate\n");
        for (Path root : List.of(localRoot, sparkRoot)) AtomicFiles.writeString(root.resolve("candidates.csv"), csv.toString());
    }

    /** The mirror of the engine's batches is checked against the engine itself, on every path and several limits. */
    @Test
    void batchPlanCountsTheCallsTheLocalEngineMakes() {
        for (int[] limits : new int[][]{{128, 128 * 16}, {7, 60}, {16, 90}})
            try (LabModel m = LabModel.open(localRoot, SparkFixtures.MODEL, Device.CPU, 0, limits[0], limits[1])) {
                SparkFixtures.Job job = SparkFixtures.headJob(m.engine(), 5, 3);
                for (RecomputePath path : RecomputePath.values()) {
                    Map<String, Long> before = m.engine().counters();
                    m.engine().patch(PatchSite.HOOK_Z, job.rows(), "plan check", job.kv(), path);
                    Map<String, Long> after = m.engine().counters();
                    LocalBatches.Plan plan = LocalBatches.plan(job.rows(), path, m.localEngine());
                    assertThat(plan.unique()).hasSize(job.rows().size() / 2);
                    assertThat(List.of(after.get("forward_calls") - before.get("forward_calls"),
                            after.get("forward_rows") - before.get("forward_rows"),
                            after.get("forward_tokens") - before.get("forward_tokens")))
                            .as("calls, rows, padded tokens at limits %d/%d, %s path", limits[0], limits[1], path)
                            .containsExactly((long) plan.calls().size(), (long) plan.unique().size(), plan.paddedTokens());
                }
            }
    }

    private void runHeldout(Path root, String... engine) {
        List<String> args = new ArrayList<>(List.of("run-heldout", "--root", root.toString(), "--model", SparkFixtures.MODEL,
                "--run-id", "heldout", "--seeds", "10", "--control-seeds", "0", "--controls-per-family", "8",
                "--sweep-per-family", "2", "--layer-patch-per-family", "2", "--heldout-generated", "8",
                "--heldout-scored", "4", "--candidates", root.resolve("candidates.csv").toString()));
        args.addAll(List.of(engine));
        StringWriter err = new StringWriter();
        long t0 = System.nanoTime();
        int code = Main.run(new PrintWriter(err, true), args.toArray(String[]::new));
        System.out.printf("run-heldout %s: exit %d in %.1f s%n", List.of(engine), code, (System.nanoTime() - t0) / 1e9);
        assertThat(code).as("exit code; stderr: %s", err).isZero();
    }

    @Test
    void sparkRunHasTheLocalRunsTablesBitForBitAndRecordsItsPartitions() throws Exception {
        runHeldout(localRoot);
        // small partitions: every job splits into several
        runHeldout(sparkRoot, "--engine", "spark", "--spark-master", "local[2]", "--partition-rows", "300");
        Path a = localRoot.resolve("results/heldout"), b = sparkRoot.resolve("results/heldout");

        RunDiff.Result diff = RunDiff.diff(a, b, 0.0);
        assertThat(diff.tables()).as("tables compared").hasSizeGreaterThan(30);
        assertThat(diff.identical()).as(diff.render(20)).isTrue();

        JsonNode local = RunContext.JSON.readTree(a.resolve("run_manifest.json").toFile()).path("engine");
        assertThat(local.path("engine").asText()).isEqualTo("local");
        JsonNode spark = RunContext.JSON.readTree(b.resolve("run_manifest.json").toFile()).path("engine");
        assertThat(spark.path("engine").asText()).isEqualTo("spark");
        assertThat(spark.path("master").asText()).isEqualTo("local[2]");
        assertThat(spark.path("executors").asInt()).isEqualTo(1);
        assertThat(spark.path("default_parallelism").asInt()).isEqualTo(2);
        assertThat(spark.path("partition_rows_target").asInt()).isEqualTo(300);
        JsonNode jobs = spark.path("jobs");
        assertThat(jobs.size()).as("patch jobs: layer patching, head sweep, held-out").isGreaterThanOrEqualTo(3);
        boolean split = false;
        for (JsonNode j : jobs) {
            int sum = 0;
            for (JsonNode n : j.path("partition_rows")) sum += n.asInt();
            assertThat(sum).as("rows of %s", j.path("label")).isEqualTo(j.path("distinct_rows").asInt());
            assertThat(j.path("partition_rows").size()).isEqualTo(j.path("partitions").asInt());
            assertThat(j.path("batches_match_local_engine").asBoolean()).as("batches of %s", j.path("label")).isTrue();
            split |= j.path("partitions").asInt() > 1;
        }
        assertThat(split).as("some job ran as several partitions").isTrue();
        // the resuming paths' jobs (here the reference protocol's resume path) record the cached key/value
        // positions every partition attended over
        assertThat(jobs).filteredOn(j -> j.path("path").asText().matches("resume|minimal")).isNotEmpty()
                .allSatisfy(j -> assertThat(j.path("past_positions").asInt()).isPositive());
        assertThat(spark.path("failed_task_attempts").asInt()).isZero();
        assertThat(spark.path("executor_counters").path("forward_rows").asLong()).isPositive();
    }
}
