package org.milab.run;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.milab.catalog.ModelExports;
import org.milab.cli.Main;
import org.milab.planted.PlantedSpec;
import org.milab.stage.StepChunks;
import org.milab.tables.RunDiff;
import org.milab.testing.ChildJvm;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Issue 22: long steps keep partial progress. v2's group-ablation and composition steps and the circuit step are
 * each killed (SIGKILL, child JVM) once the step has kept at least one chunk and before its record; the resumed
 * run reads the kept chunks back (it says so), computes only the rest, leaves no chunk in the finished run, and its
 * tables equal an uninterrupted run's (RunDiff: identical). {@code CausalChunksTest} does the same for v2's causal step.
 */
public class StepChunksKillTest {
    static final List<String> V2 = List.of("--v2-seeds=1,2", "--v2-prompts=4", "--v2-probes=4", "--v2-resamples=1000");

    static List<String> v2(Path root, String id, String... more) {
        // planted-backup: two induction heads, so group ablation has a group to ablate
        List<String> a = new ArrayList<>(List.of("run-v2", "--root=" + root, "--model=planted-backup", "--run-id=" + id));
        a.addAll(V2);
        a.addAll(List.of(more));
        return a;
    }

    static List<String> circuit(Path root, String id, String... more) {
        List<String> a = new ArrayList<>(List.of("circuit", "--root=" + root, "--model=planted-induction", "--task=induction",
                "--examples=8", "--batch-rows=16", "--ig-steps=3", "--exact-edges=48", "--resamples=200", "--run-id=" + id));
        a.addAll(List.of(more));
        return a;
    }

    /**
     * Complete chunks of {@code step} in the run being written: files named {@code *<last>} ({@code last}: the
     * chunk's last table, or the array suffix). A chunk being written is a temp file that may vanish while we look.
     */
    public static long chunks(Path work, String step, String last) {
        Path partial = work.resolve(StepChunks.DIR);
        try (Stream<Path> dirs = Files.list(partial)) {
            long n = 0;
            for (Path d : dirs.filter(d -> d.getFileName().toString().startsWith(step + "-")).toList())
                try (Stream<Path> s = Files.list(d)) {
                    n += s.filter(f -> f.getFileName().toString().endsWith(last) && !f.getFileName().toString().startsWith(".")).count();
                }
            return n;
        } catch (java.io.IOException | java.io.UncheckedIOException e) {
            return 0; // not there yet, or changing under us: look again
        }
    }

    static int run(List<String> args, StringWriter err) {
        return Main.run(new PrintWriter(err, true), args.toArray(String[]::new));
    }

    /** Kills a child running {@code args} once {@code step} kept a chunk, resumes in this JVM, returns its stderr. */
    static String killInStepAndResume(Path root, List<String> args, List<String> resume, String id, String step, String last)
            throws Exception {
        Process child = ChildJvm.start(ChildJvm.command(Main.class.getName(), args), root);
        Path work = root.resolve("results/" + id + ".incomplete");
        long kept = 0;
        for (int i = 0; i < 60_000 && child.isAlive() && (kept = chunks(work, step, last)) == 0; i++) Thread.sleep(5);
        child.destroyForcibly().waitFor();
        assertThat(kept).as("the child was killed after step " + step + " kept a chunk").isPositive();
        assertThat(work.resolve(".steps/" + step + ".json")).as("killed inside step " + step).doesNotExist();
        // the step says on stderr how many chunks it read back
        StringWriter err = new StringWriter();
        java.io.ByteArrayOutputStream stderr = new java.io.ByteArrayOutputStream();
        java.io.PrintStream saved = System.err;
        int code;
        System.setErr(new java.io.PrintStream(stderr, true));
        try {
            code = run(resume, err);
        } finally {
            System.setErr(saved);
        }
        assertThat(code).as(err + "\n" + stderr).isZero();
        assertThat(root.resolve("results/" + id).resolve(StepChunks.DIR)).as("no chunk is left in the finished run").doesNotExist();
        return stderr.toString();
    }

    @Test
    void v2GroupAblationAndCompositionResumeFromTheirChunksToIdenticalTables(@TempDir Path root) throws Exception {
        ModelExports.exportPlanted(root, PlantedSpec.preset("backup"));
        StringWriter err = new StringWriter();
        assertThat(run(v2(root, "whole"), err)).as(err.toString()).isZero();
        assertThat(org.milab.tables.ArrowTables.read(root.resolve("results/whole/v2/group_ablations.arrow")).rowCount())
                .as("group ablation has groups to ablate").isPositive();
        for (String[] step : List.of(new String[]{"v2-group-ablation", ".group_ablations.arrow"},
                new String[]{"v2-composition", ".composition.arrow"})) {
            String id = "killed-" + step[0];
            String resumed = killInStepAndResume(root, v2(root, id), v2(root, id, "--resume"), id, step[0], step[1]);
            assertThat(resumed).as("the resumed step read the kept groups back").containsPattern(
                    step[0] + ": [1-9][0-9]* of 10 groups \\(seed x family\\) read back from an interrupted attempt");
            RunDiff.Result diff = RunDiff.diff(root.resolve("results/whole/v2"), root.resolve("results/" + id + "/v2"));
            assertThat(diff.identical()).as(diff.render(20)).isTrue();
        }
    }

    @Test
    void aCircuitStepResumesFromItsChunksToIdenticalTables(@TempDir Path root) throws Exception {
        ModelExports.exportPlanted(root, PlantedSpec.defaults());
        StringWriter err = new StringWriter();
        assertThat(run(circuit(root, "whole"), err)).as(err.toString()).isZero();
        String resumed = killInStepAndResume(root, circuit(root, "killed"), circuit(root, "killed", "--resume"), "killed", "circuit", ".f64");
        assertThat(resumed).as("the resumed step read kept chunks back").containsPattern(
                "circuit: [1-9][0-9]* of [0-9]+ chunks of edge-graph rows read back from an interrupted attempt");
        RunDiff.Result diff = RunDiff.diff(root.resolve("results/whole/circuit"), root.resolve("results/killed/circuit"));
        assertThat(diff.identical()).as(diff.render(20)).isTrue();
    }
}
