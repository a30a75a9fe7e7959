package org.milab.run;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.milab.lab.LabFixtures;
import org.milab.lab.LabModel;
import org.milab.protocol.reference.MetricCalibrationStage;
import org.milab.util.Hashing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import org.milab.stage.RunConfig;

/** A resumed run skips intact steps, redoes damaged or interrupted ones and everything after them. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ResumeTest {
    Path root;
    LabModel model;
    RunConfig config;

    @BeforeAll
    void setUp(@TempDir Path dir) {
        root = dir;
        model = LabFixtures.randomWordModel(root, "words", 5);
        config = new RunConfig("words", "resume", List.of(0, 1), 8, List.of(0, 1), 2, 12, 2, List.of(10, 11), 8, 4, 20,
                null, RunConfig.FRAME_TL);
    }

    @AfterAll
    void close() {
        model.close();
    }

    private Map<String, String> hashes(Path runDir) throws IOException {
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> s = Files.walk(runDir)) {
            s.filter(Files::isRegularFile).filter(f -> !runDir.relativize(f).startsWith(".steps"))
                    .forEach(f -> out.put(runDir.relativize(f).toString(), Hashing.sha256(f)));
        }
        return out;
    }

    @Test
    void intactStepsAreSkippedDamagedOnesRedoneWithEverythingAfterThem() throws IOException {
        RunContext first = new RunContext(root, config, model);
        new Pipeline(first, true).sweep();
        Path run = first.runDir();
        Map<String, String> original = hashes(run);
        assertThat(original).containsKey("head_sweep_multiseed/head_specific_multiseed_by_head.arrow");

        new Pipeline(new RunContext(root, config, model), true).sweep();
        assertThat(hashes(run)).as("nothing re-ran").isEqualTo(original);

        Files.delete(run.resolve("head_sweep/seed1/head_specific_patching_by_head.arrow"));
        new Pipeline(new RunContext(root, config, model), true).sweep();
        Map<String, String> after = hashes(run);
        assertThat(after).containsKey("head_sweep/seed1/head_specific_patching_by_head.arrow");
        // steps before the damaged one are untouched; it and the steps after it ran again
        assertThat(after.get("controls/seed0/baseline_by_example.arrow")).isEqualTo(original.get("controls/seed0/baseline_by_example.arrow"));
        assertThat(after.get("head_sweep/seed0/head_specific_patching_results.arrow"))
                .isEqualTo(original.get("head_sweep/seed0/head_specific_patching_results.arrow"));
        assertThat(after.get("head_sweep_multiseed/head_specific_multiseed_by_head.arrow"))
                .isNotEqualTo(original.get("head_sweep_multiseed/head_specific_multiseed_by_head.arrow"));
    }

    @Test
    void anInterruptedStepIsRedoneAndEarlierOutputsSurvive(@TempDir Path other) throws IOException {
        RunContext ctx = new RunContext(other, config, model);
        StepLedger ledger = new StepLedger(ctx, true);
        ledger.step("a", () -> ctx.writeText("a", null, "a.txt", "first"));
        assertThatThrownBy(() -> ledger.step("b", () -> {
            ctx.writeText("b", null, "partial.txt", "half");
            throw new IllegalStateException("killed");
        })).hasMessage("killed");
        Path a = ctx.dir("a", null).resolve("a.txt");
        long stamp = Files.getLastModifiedTime(a).toMillis();
        int[] ran = {0, 0};
        StepLedger again = new StepLedger(ctx, true);
        again.step("a", () -> ran[0]++);
        again.step("b", () -> ran[1]++);
        assertThat(ran).containsExactly(0, 1);
        assertThat(Files.readString(a)).isEqualTo("first");
        assertThat(Files.getLastModifiedTime(a).toMillis()).isEqualTo(stamp);
    }

    /**
     * Issue 10, defect 1: a step redone after a kill rewrote some outputs with identical bytes; they must
     * still be recorded as its outputs, so that editing one of them later makes the step run again.
     */
    @Test
    void aRedoneStepRecordsEveryOutputEvenUnchangedOnes(@TempDir Path other) throws IOException {
        RunContext ctx = new RunContext(other, config, model);
        assertThatThrownBy(() -> new StepLedger(ctx, true).step("metric-calibration", () -> {
            new MetricCalibrationStage().run(ctx);
            throw new IllegalStateException("killed before the record was written");
        })).hasMessageContaining("killed");
        new StepLedger(ctx, true).step("metric-calibration", () -> new MetricCalibrationStage().run(ctx));

        Path summary = ctx.dir(MetricCalibrationStage.DIR, null).resolve(MetricCalibrationStage.SUMMARY_JSON);
        String original = Files.readString(summary);
        assertThat(original).contains("\"search_allowed\" : false");
        Files.writeString(summary, original.replace("\"search_allowed\" : false", "\"search_allowed\" : true"));

        int[] ran = {0};
        new StepLedger(ctx, true).step("metric-calibration", () -> {
            ran[0]++;
            new MetricCalibrationStage().run(ctx);
        });
        assertThat(ran[0]).as("the edited output makes its step run again").isEqualTo(1);
        assertThat(Files.readString(summary)).contains("\"search_allowed\" : false");
    }

    /** Every file a step wrote is in its record, whether or not an earlier attempt had written the same bytes. */
    @Test
    void theRecordListsEveryFileTheStepWrote(@TempDir Path other) throws IOException {
        RunContext ctx = new RunContext(other, config, model);
        assertThatThrownBy(() -> new StepLedger(ctx, true).step("s", () -> {
            ctx.writeText("s", null, "same.txt", "identical bytes");
            throw new IllegalStateException("killed");
        })).hasMessage("killed");
        new StepLedger(ctx, true).step("s", () -> {
            ctx.writeText("s", null, "same.txt", "identical bytes");
            ctx.writeText("s", null, "new.txt", "only in the redo");
        });
        Map<String, Object> record = RunContext.JSON.readValue(ctx.runDir().resolve(".steps/s.json").toFile(),
                new com.fasterxml.jackson.core.type.TypeReference<Map<String, Object>>() {});
        assertThat(((Map<?, ?>) record.get("outputs")).keySet().stream().map(Object::toString).toList()).containsExactlyInAnyOrder("s/same.txt", "s/new.txt");
        // a file no step wrote (left by an attempt with other settings) is not counted as verified (finish lists it)
        Files.writeString(ctx.runDir().resolve("s/stray.txt"), "from an earlier attempt");
        StepLedger again = new StepLedger(ctx, true);
        again.step("s", () -> {});
        assertThat(again.untracked()).containsExactly("s/stray.txt");
    }

    @Test
    void aResumedRunKeepsTheTimingsAndEngineCountersOfTheStepsItSkipped(@TempDir Path other) throws IOException {
        RunContext first = new RunContext(other, config, model);
        Pipeline p1 = new Pipeline(first, true);
        p1.sweep();
        p1.finish("first attempt");
        Map<?, ?> before = RunContext.JSON.readValue(first.finalDir().resolve("run_manifest.json").toFile(), Map.class);
        org.milab.util.AtomicFiles.moveAtomically(first.finalDir(), first.runDir()); // as --resume's working copy

        RunContext second = new RunContext(other, config, model);
        Pipeline p2 = new Pipeline(second, true);
        p2.sweep(); // every step is up to date: nothing runs
        p2.finish("resumed");
        Map<?, ?> after = RunContext.JSON.readValue(second.finalDir().resolve("run_manifest.json").toFile(), Map.class);

        assertThat(((Map<?, ?>) before.get("engine_counters")).get("forward_calls")).isNotEqualTo(0);
        assertThat(after.get("engine_counters")).isEqualTo(before.get("engine_counters"));
        assertThat(after.get("timings_seconds")).isEqualTo(before.get("timings_seconds"));
        assertThat(after.get("step_seconds")).isEqualTo(before.get("step_seconds"));
        assertThat(new java.util.ArrayList<Object>(((Map<?, ?>) after.get("step_seconds")).keySet())).contains("controls-seed0", "head-sweep-multiseed");
    }
}
