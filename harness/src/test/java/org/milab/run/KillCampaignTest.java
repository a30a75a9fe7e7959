package org.milab.run;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.milab.catalog.ModelExports;
import org.milab.cli.Main;
import org.milab.planted.PlantedSpec;
import org.milab.stage.StepChunks;
import org.milab.tables.RunDiff;
import org.milab.tables.RunIntegrity;
import org.milab.testing.ChildJvm;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Issue 22: "kill -9 at random points of {@code make run-v2} and {@code make circuit} resumes to identical tables".
 * Per command: one uninterrupted reference run (a child JVM, the real CLI), timed; then kill times drawn uniformly
 * over that duration (seeded; seed and times printed). Each attempt runs the command as {@code make ... RUN_ID=x}
 * does ({@code --resume} on one run id) and is killed with SIGKILL that long after it started; the next attempt
 * resumes the same run id, so later kills land in resumed attempts, later steps and mid-chunk points. An attempt
 * that finishes before its kill time ends that run id (it is checked, and the next kill starts a new one). The last
 * run id is resumed until it finishes. Every finished run must verify (the hashes its step records hold), hold no
 * kept chunk, and equal the reference table by table ({@link RunDiff}: content, provenance timestamps aside).
 *
 * <p>CI runs {@value #CI_KILLS} kills per command; {@code make kill-campaign KILLS=10 [SEED=n]} runs more
 * ({@code -Dmilab.kills}, {@code -Dmilab.killSeed}).
 */
class KillCampaignTest {
    static final int CI_KILLS = 3;

    static int kills() {
        return Integer.getInteger("milab.kills", CI_KILLS);
    }

    static long seed() {
        String s = System.getProperty("milab.killSeed", "");
        return s.isBlank() ? System.currentTimeMillis() : Long.parseLong(s.strip());
    }

    /** What one kill hit: the attempt, its kill time, the step records and kept chunks found right after it. */
    record Kill(String runId, int attempt, double seconds, boolean killed, long stepRecords, long chunkFiles) {
        String render() {
            return String.format(Locale.ROOT, "%s attempt %d: %s at %.2f s (step records %d, kept chunk files %d)", runId,
                    attempt, killed ? "SIGKILL" : "finished before its kill", seconds, stepRecords, chunkFiles);
        }
    }

    static long count(Path dir, String suffix) {
        if (!Files.isDirectory(dir)) return 0;
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(f -> Files.isRegularFile(f) && f.getFileName().toString().endsWith(suffix)
                    && !f.getFileName().toString().startsWith(".")).count();
        } catch (java.io.IOException | java.io.UncheckedIOException e) {
            return -1; // a chunk written while we counted: the count is only reported
        }
    }

    /** Runs {@code args(id)} in a child JVM; kills it after {@code seconds} (null: waits for it to finish). */
    static Kill attempt(Path root, List<String> args, String id, int attempt, Double seconds) throws Exception {
        Process p = ChildJvm.start(ChildJvm.command(Main.class.getName(), args), root);
        if (seconds != null && !p.waitFor(Math.round(seconds * 1000), TimeUnit.MILLISECONDS)) {
            p.destroyForcibly().waitFor(); // SIGKILL on Linux
            Path work = root.resolve("results/" + id + ".incomplete");
            return new Kill(id, attempt, seconds, true, count(work.resolve(RunIntegrity.RECORDS), ".json"),
                    count(work.resolve(StepChunks.DIR), ""));
        }
        ChildJvm.Result r = ChildJvm.await(p, 1800);
        assertThat(r.exit()).as("%s attempt %d finished; stderr:%n%s", id, attempt, r.err()).isZero();
        return new Kill(id, attempt, seconds == null ? 0 : seconds, false, 0, 0);
    }

    /** A finished killed-and-resumed run: verifies, keeps no chunk, and equals the reference table by table. */
    static void check(Path root, String id) {
        Path run = root.resolve("results/" + id);
        RunIntegrity.verify(run);
        assertThat(run.resolve(StepChunks.DIR)).as("no chunk is left in the finished run %s", id).doesNotExist();
        RunDiff.Result diff = RunDiff.diff(root.resolve("results/reference"), run);
        assertThat(diff.tables()).as("tables compared").isNotEmpty();
        assertThat(diff.identical()).as("%s equals the uninterrupted run:%n%s", id, diff.render(20)).isTrue();
    }

    /** The campaign for one command ({@code label}: its case in issue 22's audit); {@code args.apply(id, resume)} is its command line. */
    static void campaign(Path root, String name, String label, BiFunction<String, Boolean, List<String>> args) throws Exception {
        long seed = seed();
        int n = kills();
        long t0 = System.nanoTime();
        attempt(root, args.apply("reference", false), "reference", 0, null);
        double whole = (System.nanoTime() - t0) / 1e9;
        Random rng = new Random(seed);
        double[] times = new double[n];
        for (int i = 0; i < n; i++) times[i] = rng.nextDouble() * whole;
        System.out.printf(Locale.ROOT, "kill campaign %s: seed %d (-Dmilab.killSeed=%d repeats it), %d kills, uninterrupted run "
                + "%.1f s, load average %s, kill times (s after each attempt's start) %s%n", name, seed, seed, n, whole,
                Files.readString(Path.of("/proc/loadavg")).strip(), java.util.Arrays.toString(times));
        List<Kill> log = new ArrayList<>();
        List<String> finished = new ArrayList<>();
        int runs = 1, attempt = 0;
        String id = name + "-1";
        for (double t : times) {
            Kill k = attempt(root, args.apply(id, true), id, ++attempt, t);
            log.add(k);
            System.out.println("  " + k.render());
            if (!k.killed()) {
                finished.add(id);
                id = name + "-" + (++runs);
                attempt = 0;
            }
        }
        if (attempt > 0) {
            log.add(attempt(root, args.apply(id, true), id, ++attempt, null));
            System.out.println("  " + id + " attempt " + attempt + ": resumed to the end");
            finished.add(id);
        }
        for (String f : finished) check(root, f);
        System.out.printf(Locale.ROOT, "kill campaign %s: %d kills (%d landed), %d runs compared (killed and resumed, or finished before "
                + "their kill), every table identical to the uninterrupted run's; %.0f s in all%n| %s | kill -9 at random points of %s, resumed | PASS |%n", name, n,
                log.stream().filter(Kill::killed).count(), finished.size(), (System.nanoTime() - t0) / 1e9, label, name);
    }

    @Test
    void runV2ResumesFromRandomKillsToIdenticalTables(@TempDir Path root) throws Exception {
        ModelExports.exportPlanted(root, PlantedSpec.preset("backup"));
        campaign(root, "run-v2", "21 (K1)", (id, resume) -> resume ? StepChunksKillTest.v2(root, id, "--resume") : StepChunksKillTest.v2(root, id));
    }

    @Test
    void circuitResumesFromRandomKillsToIdenticalTables(@TempDir Path root) throws Exception {
        ModelExports.exportPlanted(root, PlantedSpec.defaults());
        campaign(root, "circuit", "22 (K2)", (id, resume) -> resume ? StepChunksKillTest.circuit(root, id, "--resume")
                : StepChunksKillTest.circuit(root, id));
    }
}
