package org.milab.cli;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.milab.lab.LabFixtures;
import org.milab.run.RunDir;
import org.milab.testing.ChildJvm;
import org.milab.testing.HoldRunLock;
import org.milab.util.UserError;
import org.milab.util.Hashing;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Issue 10, defect 2: a failed resume must not demote a finished run, and a later run with the same id must
 * not delete it. Runs the CLI on a tiny exported model (S19 only: one step, seconds).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RunDirSafetyTest {
    Path root;

    @BeforeAll
    void export(@TempDir Path dir) {
        root = dir;
        LabFixtures.randomWordModel(root, "words", 3).close();
    }

    record Result(int exit, String err) {}

    Result milab(String... args) {
        StringWriter err = new StringWriter();
        String[] all = new String[args.length + 1];
        all[0] = args[0];
        all[1] = "--root=" + root;
        System.arraycopy(args, 1, all, 2, args.length - 1);
        int exit = Main.run(new PrintWriter(err, true), all);
        return new Result(exit, err.toString());
    }

    static Map<String, String> hashes(Path dir) throws IOException {
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> s = Files.walk(dir)) {
            s.filter(Files::isRegularFile).forEach(f -> out.put(dir.relativize(f).toString(), Hashing.sha256(f)));
        }
        return out;
    }

    @Test
    void aFailedResumeNeitherRenamesNorLosesAFinishedRun() throws IOException {
        Result first = milab("run-calibration", "--model=words", "--run-id=r2");
        assertThat(first.exit()).as(first.err()).isZero();
        Path finished = root.resolve("results/r2");
        Map<String, String> before = hashes(finished);

        Result typo = milab("run-calibration", "--model=words", "--run-id=r2", "--resume", "--device=gpu");
        assertThat(typo.exit()).isEqualTo(2);
        assertThat(typo.err()).contains("Unknown device 'gpu'");
        assertThat(root.resolve("results/r2.incomplete")).doesNotExist();
        assertThat(hashes(finished)).isEqualTo(before);

        Result again = milab("run-calibration", "--model=words", "--run-id=r2");
        assertThat(again.exit()).isEqualTo(2);
        assertThat(again.err()).contains("already exists");
        assertThat(hashes(finished)).isEqualTo(before);
    }

    @Test
    void resumingAFinishedRunVerifiesItInPlaceAndRepairsAnEditedOutputInACopy() throws IOException {
        assertThat(milab("run-calibration", "--model=words", "--run-id=c1").exit()).isZero();
        Path run = root.resolve("results/c1");
        Map<String, String> before = hashes(run);

        Result verified = milab("run-calibration", "--model=words", "--run-id=c1", "--resume");
        assertThat(verified.exit()).as(verified.err()).isZero();
        assertThat(hashes(run)).as("an up-to-date finished run is not rewritten").isEqualTo(before);

        Path summary = run.resolve("calibration/metric_calibration_summary.json");
        Files.writeString(summary, Files.readString(summary).replace("\"search_allowed\" : false", "\"search_allowed\" : true"));
        Result repaired = milab("run-calibration", "--model=words", "--run-id=c1", "--resume");
        assertThat(repaired.exit()).as(repaired.err()).isZero();
        assertThat(Files.readString(summary)).contains("\"search_allowed\" : false");
        assertThat(run.resolve("run_manifest.json")).isRegularFile();
        assertThat(root.resolve("results/c1.incomplete")).doesNotExist();
        assertThat(root.resolve("results/.c1.replaced")).doesNotExist();
    }

    @Test
    void aFinishedRunIsNotRecomputedUnderOtherSettings() throws IOException {
        assertThat(milab("run-calibration", "--model=words", "--run-id=c2").exit()).isZero();
        Map<String, String> before = hashes(root.resolve("results/c2"));
        Result other = milab("run-calibration", "--model=words", "--run-id=c2", "--resume", "--device=auto");
        assertThat(other.exit()).isEqualTo(2);
        assertThat(other.err()).contains("never overwritten").contains("another RUN_ID");
        assertThat(hashes(root.resolve("results/c2"))).isEqualTo(before);
    }

    @Test
    void aRunBeingWrittenIsNeitherWrittenNorDeletedByASecondCommand() throws IOException {
        Files.createDirectories(root.resolve("results/busy.incomplete/calibration"));
        Files.writeString(root.resolve("results/busy.incomplete/calibration/partial.txt"), "in progress");
        try (RunDir held = RunDir.acquire(root, "busy", false)) {
            for (String[] args : List.of(new String[]{"run-calibration", "--model=words", "--run-id=busy"},
                    new String[]{"run-calibration", "--model=words", "--run-id=busy", "--resume"})) {
                Result r = milab(args);
                assertThat(r.exit()).isEqualTo(2);
                assertThat(r.err()).contains("is being written by another process");
            }
            assertThat(root.resolve("results/busy.incomplete/calibration/partial.txt")).hasContent("in progress");
        }
    }

    @Test
    void defaultIdsMadeInTheSameSecondGetTheirOwnFolders() {
        try (RunDir a = RunDir.acquire(root, "words-run-calibration-20260101-120000", true);
             RunDir b = RunDir.acquire(root, "words-run-calibration-20260101-120000", true)) {
            assertThat(a.id()).isEqualTo("words-run-calibration-20260101-120000");
            assertThat(b.id()).isEqualTo("words-run-calibration-20260101-120000-2");
        }
    }

    /** Issue 22: lock files do not pile up in results/; a lock file removed under a holder is not reused. */
    @Test
    void theLockFileIsRemovedWhenTheRunIsReleased() throws Exception {
        Path lockFile = root.resolve("results/.tidy.lock");
        try (RunDir a = RunDir.acquire(root, "tidy", false)) {
            assertThat(lockFile).exists();
            assertThatThrownBy(() -> RunDir.acquire(root, "tidy", false)).isInstanceOf(UserError.class);
        }
        assertThat(lockFile).as("removed on release").doesNotExist();
        assertThat(Cli.run("run-calibration", "--root=" + root, "--model=words", "--run-id=tidy2").exit()).isZero();
        assertThat(root.resolve("results/.tidy2.lock")).as("no lock file left by a finished run").doesNotExist();
        try (RunDir again = RunDir.acquire(root, "tidy", false)) {
            assertThat(again.id()).isEqualTo("tidy");
        }
    }

    /** Issue 22: SIGTERM mid-run is not silent: the run says it stopped and how to continue. */
    @Test
    void sigtermSaysHowToContinue() throws Exception {
        Process p = ChildJvm.start(ChildJvm.command(Main.class.getName(), List.of("run-sweep", "--root=" + root, "--model=words",
                "--run-id=term", "--control-seeds=0,1,2", "--controls-per-family=64", "--sweep-per-family=32")), root);
        Path work = root.resolve("results/term.incomplete");
        for (int i = 0; i < 6000 && p.isAlive() && !Files.isDirectory(work.resolve(".steps")); i++) Thread.sleep(10);
        assertThat(p.isAlive()).as("the run is still going when SIGTERM is sent").isTrue();
        p.destroy(); // SIGTERM
        ChildJvm.Result r = ChildJvm.await(p, 60);
        assertThat(r.exit()).isEqualTo(143);
        assertThat(r.err()).contains("milab: stopped by a signal", "--resume");
        assertThat(root.resolve("results/term")).as("nothing finished-looking").doesNotExist();
    }

    /** Issue 22: results/<id> a symlink to a folder elsewhere: a repair keeps the link and redoes only what changed. */
    @Test
    void aSymlinkedRunFolderIsKeptOnRepairAndNothingIsRecomputedNeedlessly() throws IOException {
        assertThat(milab("run-calibration", "--model=words", "--run-id=s1").exit()).isZero();
        Path link = root.resolve("results/s1"), real = root.resolve("elsewhere/s1");
        Files.createDirectories(real.getParent());
        Files.move(link, real);
        Files.createSymbolicLink(link, real);
        Files.writeString(real.resolve("summary.md"), "edited");
        java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
        java.io.PrintStream saved = System.err;
        Result r;
        System.setErr(new java.io.PrintStream(err, true));
        try {
            r = milab("run-calibration", "--model=words", "--run-id=s1", "--resume");
        } finally {
            System.setErr(saved);
        }
        assertThat(r.exit()).as(r.err() + err).isZero();
        assertThat(Files.isSymbolicLink(link)).as("the link is kept").isTrue();
        assertThat(link.toRealPath()).isEqualTo(real.toRealPath());
        assertThat(Files.readString(real.resolve("summary.md"))).as("the finish's outputs are rewritten").isNotEqualTo("edited");
        assertThat(err.toString()).as("the intact step is not recomputed").contains("metric-calibration").contains("skipped");
        assertThat(root.resolve("results/s1.incomplete")).doesNotExist();
        assertThat(root.resolve("elsewhere/.s1.replaced")).doesNotExist();
    }

    @Test
    void theLockHoldsAgainstAnotherProcess() throws Exception {
        Process holder = ChildJvm.start(ChildJvm.command(HoldRunLock.class.getName(), List.of(root.toString(), "shared")), root);
        try {
            Path lockFile = root.resolve("results/.shared.lock");
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (!(Files.exists(lockFile) && Files.readString(lockFile).startsWith("pid")) && System.nanoTime() < deadline)
                Thread.sleep(100);
            assertThatThrownBy(() -> RunDir.acquire(root, "shared", false)).isInstanceOf(UserError.class)
                    .hasMessageContaining("being written by another process").hasMessageContaining("pid " + holder.pid());
        } finally {
            holder.getOutputStream().close();
            ChildJvm.await(holder, 60);
        }
        try (RunDir free = RunDir.acquire(root, "shared", false)) {
            assertThat(free.id()).isEqualTo("shared");
        }
    }

    @Test
    void aKillBetweenTheRenamesOfARepairIsRepairedByTheNextProcess() throws IOException {
        // killed after the finished run was renamed aside and before its finished copy was renamed in
        Path results = root.resolve("results");
        Files.createDirectories(results.resolve(".k1.replaced/.steps"));
        Files.writeString(results.resolve(".k1.replaced/.steps/finished.json"), "old");
        Files.createDirectories(results.resolve("k1.incomplete/.steps"));
        Files.writeString(results.resolve("k1.incomplete/.steps/finished.json"), "new");
        RunDir.acquire(root, "k1", false).close();
        assertThat(results.resolve("k1/.steps/finished.json")).hasContent("new");
        assertThat(results.resolve(".k1.replaced")).doesNotExist();
        assertThat(results.resolve("k1.incomplete")).doesNotExist();

        // the same kill while the copy was not finished: the finished run comes back
        Files.createDirectories(results.resolve(".k2.replaced/.steps"));
        Files.writeString(results.resolve(".k2.replaced/.steps/finished.json"), "old");
        Files.createDirectories(results.resolve("k2.incomplete"));
        RunDir.acquire(root, "k2", false).close();
        assertThat(results.resolve("k2/.steps/finished.json")).hasContent("old");
        assertThat(results.resolve(".k2.replaced")).doesNotExist();

        // killed after the finish record was written and before the rename: the run is published, not deleted
        Files.createDirectories(results.resolve("k3.incomplete/.steps"));
        Files.writeString(results.resolve("k3.incomplete/.steps/finished.json"), "done");
        Result r = milab("run-calibration", "--model=words", "--run-id=k3");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("already exists");
        assertThat(results.resolve("k3/.steps/finished.json")).hasContent("done");
    }

    @Test
    void twoProcessesWithOneRunIdOrTwoDefaultIdsDoNotCorruptEachOther() throws Exception {
        List<String> same = List.of("run-calibration", "--root=" + root, "--model=words", "--run-id=race");
        List<String> dflt = List.of("run-calibration", "--root=" + root, "--model=words");
        Process a = ChildJvm.start(ChildJvm.command(Main.class.getName(), same), root);
        Process b = ChildJvm.start(ChildJvm.command(Main.class.getName(), same), root);
        Process c = ChildJvm.start(ChildJvm.command(Main.class.getName(), dflt), root);
        Process d = ChildJvm.start(ChildJvm.command(Main.class.getName(), dflt), root);
        ChildJvm.Result ra = ChildJvm.await(a, 300), rb = ChildJvm.await(b, 300), rc = ChildJvm.await(c, 300),
                rd = ChildJvm.await(d, 300);
        // one of the two same-id runs wrote it; the other stopped with a clear message and touched nothing
        assertThat(List.of(ra.exit(), rb.exit())).as(ra.err() + rb.err()).containsExactlyInAnyOrder(0, 2);
        String loser = ra.exit() == 2 ? ra.err() : rb.err();
        assertThat(loser).containsAnyOf("is being written by another process", "already exists");
        assertThat(root.resolve("results/race/run_manifest.json")).isRegularFile();
        assertThat(root.resolve("results/race.incomplete")).doesNotExist();
        assertThat(rc.exit()).as(rc.err()).isZero();
        assertThat(rd.exit()).as(rd.err()).isZero();
        try (var s = Files.list(root.resolve("results"))) {
            List<String> defaults = s.map(f -> f.getFileName().toString()).filter(n -> n.startsWith("words-run-calibration-"))
                    .toList();
            assertThat(defaults).hasSize(2).allMatch(n -> !n.endsWith(RunDir.INCOMPLETE));
            for (String n : defaults) assertThat(root.resolve("results").resolve(n).resolve("run_manifest.json")).isRegularFile();
        }
    }
}
