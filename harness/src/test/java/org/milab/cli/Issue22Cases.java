package org.milab.cli;

import org.milab.testing.ChildJvm;
import org.milab.testing.TestFiles;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;

/**
 * Issue 22's audit, numbered as in docs/reliability-v2.md: the cases the issue names (failures F, partials P,
 * minors M; K1/K2, the random kill campaigns, are {@code run.KillCampaignTest}; F7/P7 and the other Spark master
 * cases need the spark module and are {@code spark.SparkFailureTest}), then the cases reconstructed over the same
 * surfaces (the issue counted them but did not list them). {@link BadInputSuiteTest#issue22Audit} runs them all on
 * the suite's one exported model and one finished run, prints the PASS/PARTIAL/FAIL table and fails on anything
 * but PASS.
 */
final class Issue22Cases {
    private Issue22Cases() {}

    enum Result { PASS, PARTIAL, FAIL }

    /** How one case ended: its judgement, exit code, what it printed (the error line) and what fell short. */
    record Verdict(Result result, int exit, String observed, List<String> problems) {
        static Verdict of(int exit, String observed, List<String> fail, List<String> partial) {
            List<String> all = new ArrayList<>(fail);
            all.addAll(partial);
            return new Verdict(!fail.isEmpty() ? Result.FAIL : !partial.isEmpty() ? Result.PARTIAL : Result.PASS, exit, observed, all);
        }

        /** A behaviour checked by assertions (an existing test's method, or a few lines here): FAIL when one fails. */
        static Verdict behaviour(String observed, Check body) throws Exception {
            try {
                body.run();
                return of(0, observed, List.of(), List.of());
            } catch (AssertionError e) {
                return of(-1, observed, List.of(e.getMessage().lines().limit(3).collect(Collectors.joining(" "))), List.of());
            }
        }

        /** A case that must also end within {@code seconds} (an unbounded count used to hang or run out of memory). */
        Verdict within(double seconds, double took, String clock) {
            return failUnless(took <= seconds, String.format(Locale.ROOT, "took %.0f s of %s, more than %.0f s", took, clock, seconds));
        }

        Verdict failUnless(boolean ok, String problem) {
            if (ok) return this;
            List<String> fail = new ArrayList<>(problems);
            fail.add(problem);
            return new Verdict(Result.FAIL, exit, observed, fail);
        }

        String shortObserved() {
            String m = observed.replace("\n", " ").replace("|", "\\|");
            return m.length() > 90 ? m.substring(0, 87) + "..." : m;
        }
    }

    interface Check {
        void run() throws Exception;
    }

    interface Body {
        Verdict run() throws Exception;
    }

    /**
     * One case: its number, the issue's label (F1, P3, M2; empty for a reconstructed case), the surface, the command
     * and input, what must happen, and how to run it.
     */
    record Case(int no, String issue, String surface, String command, String expected, Body body) {}

    /** A bad input refused with one message containing {@code message} (see {@link BadInputSuiteTest#judge}). */
    static Case bad(int no, String issue, String surface, String command, String message, BadInputSuiteTest.ThrowingSupplier<BadInputSuiteTest.Outcome> run,
                    BadInputSuiteTest t) {
        return new Case(no, issue, surface, command, "exit 2, one message saying '" + message + "'", () -> t.judge(message, run));
    }

    /** As {@link #bad}, refused within 20 s: a count checked against the resource estimate before anything runs. */
    static Case bounded(int no, String issue, String command, BadInputSuiteTest t, String... args) {
        return bounded(no, issue, command, "estimate", "the estimate in the message", t, args);
    }

    /** As {@link #bad}, refused within 20 s; {@code message}: the estimate, or the fixed range of a count that has one. */
    static Case bounded(int no, String issue, String command, String message, String says, BadInputSuiteTest t, String... args) {
        return new Case(no, issue, "unbounded counts", command, "exit 2 within 20 s of CPU (120 s of wall time), " + says, () -> {
            // CPU time of this thread: the refusal happens here, and a busy shared machine stretches wall time
            java.lang.management.ThreadMXBean threads = java.lang.management.ManagementFactory.getThreadMXBean();
            long t0 = System.nanoTime(), cpu0 = threads.getCurrentThreadCpuTime();
            Verdict v = t.judge(message, () -> t.cli(args));
            return v.within(20, (threads.getCurrentThreadCpuTime() - cpu0) / 1e9, "CPU").within(120, (System.nanoTime() - t0) / 1e9, "wall time");
        });
    }

    static List<Case> all(BadInputSuiteTest t) throws Exception {
        Path root = t.root, keep = root.resolve("results/keep");
        String k = keep.toString();
        List<Case> c = new ArrayList<>();
        // ---------------------------------------------------------------- named by the issue
        c.add(bad(1, "F1", "v2 options", "run-v2 --v2-seeds 1,1", "repeats a seed", () -> t.cli("run-v2", "--model=words", "--run-id=a", "--v2-seeds=1,1"), t));
        c.add(bad(2, "F2", "v2 options", "run-v2 --v2-seeds -1", "seed -1 is out of range", () -> t.cli("run-v2", "--model=words", "--run-id=a", "--v2-seeds=-1"), t));
        c.add(bad(3, "F3", "v2 options", "run-v2 --v2-seeds 2000000000", "seed 2000000000 is out of range",
                () -> t.cli("run-v2", "--model=words", "--run-id=a", "--v2-seeds=2000000000"), t));
        c.add(bounded(4, "F4", "run-v2 --v2-prompts 99999999", t, "run-v2", "--model=words", "--run-id=big", "--v2-prompts=99999999"));
        c.add(bounded(5, "F5", "run-v2 --v2-resamples 2000000000", t, "run-v2", "--model=words", "--run-id=big", "--v2-resamples=2000000000"));
        c.add(bounded(6, "F6", "attribute --pairs 99999999", t, "attribute", "--model=words", "--run-id=big", "--pairs=99999999"));
        Path tampered = root.resolve("results/tampered");
        String edited = tampered.relativize(t.tamperedCopy("tampered")).toString();
        c.add(new Case(8, "F8", "finished runs", "report results/tampered (a table edited after the run)",
                "exit 2 naming the edited table; report.html not rewritten", () -> {
            Verdict v = t.judge(edited, () -> t.cli("report", tampered.toString()));
            // a rewritten report would render the edited table
            return v.failUnless(Files.mismatch(tampered.resolve("report.html"), keep.resolve("report.html")) == -1, "report.html was rewritten");
        }));
        c.add(bad(9, "P1", "export", "export of a checkpoint with a NaN weight", "This is a bad checkpoint: tensor", t::nonFiniteExport, t));
        c.add(bad(10, "P2", "export offline", "export --model gpt2 --weights <file>, tokenizer files unreachable",
                "MILAB_GPT2_BPE", t::offlineTokenizerExport, t));
        Path latin1 = root.resolve("latin1.csv");
        Files.write(latin1, "layer,head,candidate_group\n1,0,replicated_candidate # caf\u00e9\n".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
        c.add(bad(11, "P3", "candidates", "run-heldout --candidates <Latin-1 file>", "is not UTF-8",
                () -> t.cli("run-heldout", "--model=words", "--run-id=enc", "--candidates=" + latin1), t));
        RunDirSafetyTest safety = new RunDirSafetyTest();
        safety.root = root;
        c.add(new Case(12, "P4", "run folders", "run-calibration --resume on results/s1 -> a folder elsewhere, one output edited",
                "the link kept, the intact step skipped, the edited output rewritten",
                () -> Verdict.behaviour("RunDirSafetyTest.aSymlinkedRunFolderIsKeptOnRepair... on this root",
                        safety::aSymlinkedRunFolderIsKeptOnRepairAndNothingIsRecomputedNeedlessly)));
        c.add(bad(13, "P5", "run ids", "run-calibration --run-id my run (make RUN_ID='my run' unquoted)", "'run'",
                () -> t.cli("run-calibration", "--model=words", "--run-id", "my", "run"), t));
        Path notRun = Files.createDirectories(root.resolve("not-a-run"));
        Files.writeString(notRun.resolve("notes.txt"), "hello");
        c.add(bad(14, "P6", "finished runs", "diff results/keep <a folder that is not a run>", "is not a run",
                () -> BadInputSuiteTest.raw("diff", k, notRun.toString()), t));
        c.add(bad(16, "P8", "attribute", "attribute --pairs 0", "--pairs 0 is out of range", () -> t.cli("attribute", "--model=words", "--pairs=0"), t));
        c.add(new Case(17, "M1", "locks", "run-calibration, then look for results/.<id>.lock", "the lock file removed on release",
                () -> Verdict.behaviour("RunDirSafetyTest.theLockFileIsRemovedWhenTheRunIsReleased on this root",
                        safety::theLockFileIsRemovedWhenTheRunIsReleased)));
        c.add(new Case(18, "M2", "signals", "SIGTERM to run-sweep mid-run", "exit 143 with 'stopped by a signal' and --resume",
                () -> Verdict.behaviour("RunDirSafetyTest.sigtermSaysHowToContinue on this root", safety::sigtermSaysHowToContinue)));
        c.add(new Case(19, "M3", "export", "export with the project on a 128 KB tmpfs (disk full)", "exit 2, 'run the export again', no staging folder",
                () -> t.canMountOrSkip() ? t.judge("run the export again", t::diskFullExport) : Verdict.of(-1, "skipped", List.of(), List.of("not run: " + BadInputSuiteTest.MOUNT_SKIPPED))));
        c.add(new Case(20, "M4", "finished runs", "report results/<copy of keep> in two fresh JVMs", "report.html the same bytes as the run wrote",
                () -> Verdict.behaviour("report.html rewritten in 2 JVMs", () -> reportIsReproducible(root, keep))));
        // ---------------------------------------------------------------- reconstructed: v2 options
        c.add(bad(23, "", "v2 options", "run-v2 --v2-seeds one", "not a comma-separated list of integers",
                () -> t.cli("run-v2", "--model=words", "--run-id=a", "--v2-seeds=one"), t));
        String many = IntStream.rangeClosed(0, 100).mapToObj(Integer::toString).collect(Collectors.joining(","));
        c.add(bad(24, "", "v2 options", "run-v2 --v2-seeds 0,1,...,100 (101 seeds)", "--v2-seeds",
                () -> t.cli("run-v2", "--model=words", "--run-id=a", "--v2-seeds=" + many), t));
        c.add(bad(25, "", "v2 options", "run-v2 --v2-prompts 3", "--v2-prompts 3 is out of range", () -> t.cli("run-v2", "--model=words", "--run-id=a", "--v2-prompts=3"), t));
        c.add(bad(26, "", "v2 options", "run-v2 --v2-probes 1", "--v2-probes 1 is out of range", () -> t.cli("run-v2", "--model=words", "--run-id=a", "--v2-probes=1"), t));
        c.add(bad(27, "", "v2 options", "run-v2 --v2-resamples 10", "--v2-resamples 10 is out of range",
                () -> t.cli("run-v2", "--model=words", "--run-id=a", "--v2-resamples=10"), t));
        c.add(bad(28, "", "v2 options", "run-all --v2-seeds 3,3", "repeats a seed", () -> t.cli("run-all", "--model=words", "--run-id=a", "--v2-seeds=3,3"), t));
        c.add(bad(29, "", "v2 options", "run-v2 --v2-prompts ten", "--v2-prompts", () -> t.cli("run-v2", "--model=words", "--run-id=a", "--v2-prompts=ten"), t));
        // ---------------------------------------------------------------- reconstructed: unbounded counts
        c.add(bounded(30, "", "run-v2 --v2-probes 99999999", t, "run-v2", "--model=words", "--run-id=big", "--v2-probes=99999999"));
        c.add(bounded(31, "", "run-all --v2-prompts 99999999", t, "run-all", "--model=words", "--run-id=big", "--v2-prompts=99999999"));
        c.add(bounded(32, "", "attribute --resamples 2000000000", t, "attribute", "--model=words", "--run-id=big", "--resamples=2000000000"));
        // these counts have a fixed range (checked first); the estimate covers the counts without one
        String range = "its fixed range in the message";
        c.add(bounded(33, "", "run-heldout --heldout-generated 99999999", "--heldout-generated 99999999 is out of range", range, t,
                "run-heldout", "--model=words", "--run-id=big", "--heldout-generated=99999999"));
        c.add(bounded(34, "", "circuit --task induction --examples 99999999", "--examples 99999999 is out of range", range, t,
                "circuit", "--model=words", "--run-id=big", "--task=induction", "--examples=99999999"));
        c.add(bounded(35, "", "circuit --task induction --resamples 2000000000", "--resamples 2000000000 is out of range", range, t,
                "circuit", "--model=words", "--run-id=big", "--task=induction", "--resamples=2000000000"));
        // ---------------------------------------------------------------- reconstructed: attribute
        c.add(bad(36, "", "attribute", "attribute --length 0", "--length 0 is out of range", () -> t.cli("attribute", "--model=words", "--length=0"), t));
        c.add(bad(37, "", "attribute", "attribute --length 20 (prompt longer than n_positions 24)", "--length 20",
                () -> t.cli("attribute", "--model=words", "--length=20"), t));
        c.add(bad(38, "", "attribute", "attribute --top-k 0", "--top-k 0 is out of range", () -> t.cli("attribute", "--model=words", "--top-k=0"), t));
        c.add(bad(39, "", "attribute", "attribute --verify-pairs 40 (> --pairs 32)", "--verify-pairs",
                () -> t.cli("attribute", "--model=words", "--verify-pairs=40"), t));
        c.add(bad(40, "", "attribute", "attribute --batch-rows 0", "--batch-rows 0 is out of range", () -> t.cli("attribute", "--model=words", "--batch-rows=0"), t));
        c.add(bad(41, "", "attribute", "attribute --ig-steps 99999999", "--ig-steps 99999999 is out of range",
                () -> t.cli("attribute", "--model=words", "--ig-steps=99999999"), t));
        c.add(bad(42, "", "attribute", "attribute --run-id 'my run'", "Run id 'my run' is not usable", () -> t.cli("attribute", "--model=words", "--run-id=my run"), t));
        // ---------------------------------------------------------------- reconstructed: circuit
        c.add(bad(43, "", "circuit", "circuit --task no-such-task", "no-such-task", () -> t.cli("circuit", "--model=words", "--run-id=a", "--task=no-such-task"), t));
        Path task = t.file("broken-task.jsonl", "{\"clean\": \"A B\",\n");
        c.add(bad(44, "", "circuit", "circuit --task <a .jsonl file with a syntax error>", "broken-task.jsonl",
                () -> t.cli("circuit", "--model=words", "--run-id=a", "--task=" + task), t));
        c.add(bad(45, "", "circuit", "circuit --task induction --examples 0", "--examples 0", () -> t.cli("circuit", "--model=words", "--run-id=a",
                "--task=induction", "--examples=0"), t));
        c.add(bad(46, "", "circuit", "circuit --task induction --threshold 1.5", "--threshold", () -> t.cli("circuit", "--model=words", "--run-id=a",
                "--task=induction", "--threshold=1.5"), t));
        c.add(bad(47, "", "run ids", "circuit --run-id keep (a finished run) without --resume", "already exists",
                () -> t.cli("circuit", "--model=words", "--run-id=keep", "--task=induction"), t));
        // ---------------------------------------------------------------- reconstructed: bench
        c.add(bad(48, "", "bench", "bench --batch 0", "--batch 0 is out of range", () -> t.cli("bench", "--model=words", "--batch=0"), t));
        c.add(bad(49, "", "bench", "bench --attribution-exact-pairs 40 (> --attribution-pairs 32)", "--attribution-exact-pairs 40",
                () -> t.cli("bench", "--model=words", "--attribution-exact-pairs=40"), t));
        String checkpoint = root.resolve("graphs/words/weights.bin").toString(); // any file: the python is checked first
        c.add(bad(50, "", "bench", "bench --peer-python /nonexistent/python3 --peer-checkpoint <a file>", "/nonexistent/python3",
                () -> t.cli("bench", "--model=words", "--peer-python=/nonexistent/python3", "--peer-checkpoint=" + checkpoint), t));
        // ---------------------------------------------------------------- reconstructed: readers of finished runs
        c.add(bad(51, "", "finished runs", "diff results/keep results/tampered", edited, () -> BadInputSuiteTest.raw("diff", k, tampered.toString()), t));
        c.add(bad(52, "", "finished runs", "columns --run results/tampered", edited, () -> BadInputSuiteTest.raw("columns", "--run=" + tampered), t));
        Path deleted = root.resolve("results/deleted");
        TestFiles.copyTree(keep, deleted);
        String gone = firstTable(deleted);
        Files.delete(deleted.resolve(gone));
        c.add(bad(53, "", "finished runs", "report results/deleted (a table deleted after the run)", gone,
                () -> t.cli("report", deleted.toString()), t));
        Path cut = root.resolve("results/cut");
        TestFiles.copyTree(keep, cut);
        String cutTable = firstTable(cut);
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(cut.resolve(cutTable).toFile(), "rw")) {
            f.setLength(f.length() / 2);
        }
        c.add(bad(54, "", "finished runs", "columns --run results/cut (a table cut in half after the run)", cutTable,
                () -> BadInputSuiteTest.raw("columns", "--run=" + cut), t));
        c.add(bad(55, "", "finished runs", "report <a folder that is not a run>", "not-a-run", () -> t.cli("report", notRun.toString()), t));
        c.add(bad(56, "", "finished runs", "diff --tolerance -1", "--tolerance -1.0", () -> BadInputSuiteTest.raw("diff", k, k, "--tolerance=-1"), t));
        c.add(bad(57, "", "finished runs", "diff results/keep results/no-such-run", "no-such-run",
                () -> BadInputSuiteTest.raw("diff", k, root.resolve("results/no-such-run").toString()), t));
        // ---------------------------------------------------------------- reconstructed: export offline paths
        c.add(bad(58, "", "export offline", "export --weights <a file that does not exist>", "does not exist",
                () -> t.cli("export", "--model=other", "--weights=" + root.resolve("nope.safetensors"), "--allow-unpinned"), t));
        c.add(bad(59, "", "export offline", "export --gpt2-bpe <a folder that does not exist>", "/nonexistent/bpe",
                () -> t.cli("export", "--model=gpt2", "--gpt2-bpe=/nonexistent/bpe"), t));
        c.add(bad(60, "", "export", "export --planted-noise -1", "--planted-noise -1.0 is out of range",
                () -> t.cli("export", "--model=planted-induction", "--planted-noise=-1"), t));
        // ---------------------------------------------------------------- reconstructed: run ids and locks
        c.add(bad(61, "", "run ids", "run-v2 --run-id ../x", "is not usable", () -> t.cli("run-v2", "--model=words", "--run-id=../x"), t));
        c.add(bad(62, "", "run ids", "run-v2 --resume without --run-id", "needs the run to resume", () -> t.cli("run-v2", "--model=words", "--resume"), t));
        c.add(bad(63, "", "run ids", "run-v2 --run-id keep (a finished run) without --resume", "already exists",
                () -> t.cli("run-v2", "--model=words", "--run-id=keep"), t));
        c.add(bad(64, "", "locks", "run-v2 --resume on a run id another process is writing", "is being written by another process", () -> {
            try (org.milab.run.RunDir held = org.milab.run.RunDir.acquire(root, "busy", false)) {
                return t.cli("run-v2", "--model=words", "--run-id=busy", "--resume");
            }
        }, t));
        c.add(bad(65, "", "run ids", "run-calibration --resume of a finished run under other settings", "never overwritten",
                () -> t.cli("run-calibration", "--model=words", "--run-id=keep", "--resume", "--device=auto"), t));
        // ---------------------------------------------------------------- reconstructed: Spark options at the command line
        c.add(bad(66, "", "Spark options", "run-v2 --spark-master local[2] without --engine spark", "apply only to --engine spark",
                () -> t.cli("run-v2", "--model=words", "--run-id=a", "--spark-master=local[2]"), t));
        c.add(bad(67, "", "Spark options", "run-v2 --engine mapreduce", "mapreduce", () -> t.cli("run-v2", "--model=words", "--run-id=a", "--engine=mapreduce"), t));
        c.add(bad(68, "", "Spark options", "run-v2 --engine spark without the spark module built", "ENGINE=spark",
                () -> t.cli("run-v2", "--model=words", "--run-id=a", "--engine=spark"), t));
        // ---------------------------------------------------------------- reconstructed: other values at the command line
        c.add(bad(69, "", "other commands", "inspect --top-k 0", "--top-k 0 is out of range", () -> t.cli("inspect", "--model=words", "--prompt=A B", "--top-k=0"), t));
        c.add(bad(70, "", "run ids", "run-v2 --threads two (not a number)", "--threads", () -> t.cli("run-v2", "--model=words", "--run-id=a", "--threads=two"), t));
        c.add(bad(71, "", "v2 options", "run-v2 --no-such-option", "--no-such-option", () -> t.cli("run-v2", "--model=words", "--run-id=a", "--no-such-option"), t));
        return c;
    }

    /** The first table of a run folder, relative to it (sorted, so the same table every time). */
    static String firstTable(Path run) throws java.io.IOException {
        try (Stream<Path> s = Files.walk(run)) {
            return run.relativize(s.filter(f -> f.toString().endsWith(".arrow")).sorted().findFirst().orElseThrow()).toString();
        }
    }

    /** M4: report.html written again by two fresh JVMs (each its own hash seed) is the bytes the run wrote. */
    static void reportIsReproducible(Path root, Path keep) throws Exception {
        Path copy = root.resolve("results/reproduce");
        TestFiles.copyTree(keep, copy);
        for (int i = 1; i <= 2; i++) {
            ChildJvm.Result r = ChildJvm.run(ChildJvm.command(Main.class.getName(), List.of("report", "--root=" + root, copy.toString())), root, 300);
            org.assertj.core.api.Assertions.assertThat(r.exit()).as(r.err()).isZero();
            org.assertj.core.api.Assertions.assertThat(Files.mismatch(copy.resolve("report.html"), keep.resolve("report.html")))
                    .as("report.html rewritten by JVM %d: first differing byte", i).isEqualTo(-1L);
        }
    }
}
