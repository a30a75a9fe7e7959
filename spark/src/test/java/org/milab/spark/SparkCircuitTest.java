package org.milab.spark;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.milab.cli.Main;
import org.milab.run.RunContext;
import org.milab.stats.Decisions;
import org.milab.tables.ArrowTables;
import org.milab.tables.RunDiff;
import org.milab.tables.Table;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * {@code make circuit ... ENGINE=spark}: the circuit step's exact single-edge patches and faithfulness sweeps run on
 * Spark {@code local[2]} (attribution stays on the driver). On the planted model the run's faithfulness table must
 * equal the local engine's (every value within the declared tolerance, every verdict the same), with the same
 * smallest circuit, and the exact rows must really have gone to executors, in several partitions.
 */
class SparkCircuitTest {
    private static void circuit(Path root, String... engine) {
        List<String> args = new ArrayList<>(List.of("circuit", "--root", root.toString(), "--model", SparkFixtures.MODEL,
                "--run-id", "c", "--task", "induction", "--examples", "6", "--length", "6", "--ig-steps", "2",
                "--resamples", "200", "--exact-edges", "24"));
        args.addAll(List.of(engine));
        StringWriter err = new StringWriter();
        long t0 = System.nanoTime();
        int code = Main.run(new PrintWriter(err, true), args.toArray(String[]::new));
        System.out.printf("circuit %s: exit %d in %.1f s%n", List.of(engine), code, (System.nanoTime() - t0) / 1e9);
        assertThat(code).as("exit code; stderr: %s", err).isZero();
    }

    @Test
    void sparkSweepHasTheLocalFaithfulnessTableAndCircuit(@TempDir Path localRoot, @TempDir Path sparkRoot) throws Exception {
        SparkFixtures.exportPlanted(localRoot);
        SparkFixtures.copyExport(localRoot, sparkRoot);
        circuit(localRoot);
        circuit(sparkRoot, "--engine", "spark", "--spark-master", "local[2]");
        Path a = localRoot.resolve("results/c/circuit"), b = sparkRoot.resolve("results/c/circuit");

        Table fa = ArrowTables.read(a.resolve("faithfulness.arrow")), fb = ArrowTables.read(b.resolve("faithfulness.arrow"));
        assertThat(fb.rowCount()).isEqualTo(fa.rowCount()).isGreaterThan(20);
        assertThat(fb.strings("method")).isEqualTo(fa.strings("method"));
        assertThat(fb.longs("size")).isEqualTo(fa.longs("size"));
        assertThat(fb.bools("meets_threshold")).as("verdict per size").isEqualTo(fa.bools("meets_threshold"));
        for (String col : List.of("faithfulness", "faithfulness_low", "faithfulness_high", "metric_mean"))
            for (int i = 0; i < fa.rowCount(); i++)
                assertThat(fb.doubles(col).get(i)).as("%s, %s size %d", col, fa.strings("method").get(i), fa.longs("size").get(i))
                        .isCloseTo(fa.doubles(col).get(i), within(Decisions.TOLERANCE));
        // every table of the step, per example too, within the tolerance (in practice bit for bit: see the print)
        RunDiff.Result diff = RunDiff.diff(a, b, Decisions.TOLERANCE);
        assertThat(diff.tables()).as("tables compared").containsKeys("faithfulness", "faithfulness_examples", "edges");
        assertThat(diff.identical()).as(diff.render(20)).isTrue();
        System.out.println("bit for bit: " + RunDiff.diff(a, b, 0.0).identical());

        JsonNode sa = RunContext.JSON.readTree(a.resolve("circuit_summary.json").toFile());
        JsonNode sb = RunContext.JSON.readTree(b.resolve("circuit_summary.json").toFile());
        for (String method : List.of("eap", "eap_ig"))
            assertThat(sb.path(method).path("smallest_size_meeting_threshold"))
                    .as("smallest circuit of %s", method).isEqualTo(sa.path(method).path("smallest_size_meeting_threshold"));
        assertThat(sa.path("eap_ig").path("smallest_size_meeting_threshold").isInt()).as("a circuit keeps 0.9").isTrue();
        assertThat(Files.readString(b.resolve("circuit.json"))).as("the circuit in MIB's format").isEqualTo(Files.readString(a.resolve("circuit.json")));

        JsonNode engine = RunContext.JSON.readTree(sparkRoot.resolve("results/c/run_manifest.json").toFile()).path("engine");
        assertThat(engine.path("engine").asText()).isEqualTo("spark");
        long edgeRows = 0;
        boolean exact = false, curve = false, split = false;
        for (JsonNode j : engine.path("jobs")) {
            if (!j.path("site").asText().equals("edge_mask")) continue;
            assertThat(j.path("batches_match_local_engine").asBoolean()).as("calls of %s", j.path("label")).isTrue();
            int sum = 0;
            for (JsonNode n : j.path("partition_rows")) sum += n.asInt();
            assertThat(sum).as("rows of %s", j.path("label")).isEqualTo(j.path("rows").asInt());
            edgeRows += j.path("rows").asLong();
            exact |= j.path("label").asText().startsWith("circuit exact.");
            curve |= j.path("label").asText().startsWith("circuit eap_ig.curve.");
            split |= j.path("partitions").asInt() > 1;
        }
        assertThat(exact && curve).as("single-edge and sweep jobs went to Spark").isTrue();
        assertThat(split).as("some job ran as several partitions").isTrue();
        // 24 single-edge patches x 6 examples, and the sweeps' rows
        assertThat(edgeRows).isGreaterThan(24 * 6);
        assertThat(engine.path("executor_counters").path(EdgeTask.ROWS).asLong()).as("rows the executors ran").isEqualTo(edgeRows);
    }
}
