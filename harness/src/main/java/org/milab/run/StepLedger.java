package org.milab.run;

import com.fasterxml.jackson.core.type.TypeReference;
import org.milab.util.AtomicFiles;
import org.milab.util.FileStamp;
import org.milab.util.Hashing;
import org.milab.util.StepCounter;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * Makes a run resumable. Each pipeline step is recorded in {@code .steps/<step>.json} with a fingerprint
 * of everything it depends on (config, model, code commit, and the sha256 of every output of the steps
 * before it) and the sha256 of every file it wrote. A resumed run skips a step only when the fingerprint
 * matches and every recorded output is still there, byte-identical; otherwise the step runs again, and so
 * does everything after it (their fingerprints change). A step interrupted before its record was written
 * is simply redone; its files were written atomically, so earlier outputs are never corrupted. The record
 * lists every file the step wrote, also those a killed earlier attempt had already written with the same
 * bytes, so no output of a finished run is left unverified.
 */
final class StepLedger {
    private static final String DIR = ".steps";
    /**
     * The record of what {@link Pipeline#finish} wrote (manifest, summary, report, Parquet copies), written last:
     * a folder that has it holds a finished run ({@link RunDir}).
     */
    static final String FINISHED = DIR + "/finished.json";

    /**
     * What a step did, replayed into the run context when the step is skipped: so a resumed run's manifest
     * keeps the timings and engine counters of the steps it did not redo (null in records of older versions).
     */
    record StepRecord(String fingerprint, Map<String, String> outputs, List<String> summary,
                      Map<String, Long> rowCounts, Map<String, Object> hashes, double seconds,
                      Map<String, Double> timings, Map<String, Long> engineCounters) {}

    /** RUN: run every step; RESUME: skip steps that are up to date; VERIFY: run nothing, stop at the first stale step. */
    enum Mode { RUN, RESUME, VERIFY }

    /** Thrown in VERIFY mode by the first step that would run. */
    static final class StaleStep extends RuntimeException {
        final Pipeline.Staleness staleness;

        StaleStep(Pipeline.Staleness staleness) {
            super(staleness.toString(), null, false, false);
            this.staleness = staleness;
        }
    }

    private final RunContext ctx;
    private final Mode mode;
    /** Outputs of the steps run or replayed so far. */
    private final Set<String> tracked = new HashSet<>();
    /** Hash cache: relative path -> what the file was when last hashed. */
    private final Map<String, FileState> seen = new HashMap<>();
    private String chain;
    private StepCounter counter;

    StepLedger(RunContext ctx, boolean resume) {
        this(ctx, resume ? Mode.RESUME : Mode.RUN);
    }

    StepLedger(RunContext ctx, Mode mode) {
        this.ctx = ctx;
        this.mode = mode;
        Map<String, Object> base = new LinkedHashMap<>();
        base.put("config", ctx.config().toMap());
        Map<String, Object> model = new TreeMap<>(ctx.model().modelProvenance().withoutFallbackReason().toMap());
        base.put("model", model);
        base.put("code", ctx.codeCommit());
        this.chain = Hashing.sha256(RunContext.json(base));
    }

    /** The steps about to run, in order: progress lines then say "step i of n" and estimate the time left. */
    void plan(List<String> names) {
        Map<String, Double> earlier = new LinkedHashMap<>();
        for (String n : names) {
            StepRecord r = read(ctx.runDir().resolve(DIR).resolve(n + ".json"));
            if (r != null && r.seconds() > 0) earlier.put(n, r.seconds());
        }
        counter = new StepCounter(ctx.config().runId(), names, earlier, System.err);
    }

    /** Seconds each step took when it last ran, in the order the steps ran or were skipped. */
    Map<String, Double> stepSeconds() {
        return stepSeconds;
    }

    private final Map<String, Double> stepSeconds = new LinkedHashMap<>();

    void step(String name, Runnable body) {
        step(name, null, body);
    }

    /**
     * A step whose inputs include settings outside the run config (e.g. protocol v2's counts): they join its
     * fingerprint, so a resumed run with other settings redoes the step and everything after it.
     */
    void step(String name, Object inputs, Runnable body) {
        if (counter == null) plan(List.of()); // a step outside any plan: counted as it comes
        String fingerprint = Hashing.sha256(chain + "|" + name + (inputs == null ? "" : "|" + RunContext.json(inputs)));
        Path record = ctx.runDir().resolve(DIR).resolve(name + ".json");
        StepRecord done = mode != Mode.RUN ? read(record) : null;
        String damaged = done == null || !done.fingerprint().equals(fingerprint) ? null : damaged(done);
        if (done != null && done.fingerprint().equals(fingerprint) && damaged == null) {
            if (mode == Mode.RESUME) counter.skipped(name, "up to date (resume), skipped");
            done.summary().forEach(ctx::summarize);
            ctx.rowCounts().putAll(done.rowCounts());
            ctx.hashes().putAll(done.hashes());
            if (done.timings() != null) ctx.timings().putAll(done.timings());
            if (done.engineCounters() != null) ctx.addReplayedCounters(done.engineCounters());
            stepSeconds.put(name, done.seconds());
            tracked.addAll(done.outputs().keySet());
            chain = Hashing.sha256(fingerprint + RunContext.json(done.outputs()));
            return;
        }
        if (mode == Mode.VERIFY)
            throw new StaleStep(done == null ? new Pipeline.Staleness(name, Pipeline.Staleness.Reason.NOT_RUN, "not run yet")
                    : !done.fingerprint().equals(fingerprint)
                    ? new Pipeline.Staleness(name, Pipeline.Staleness.Reason.OTHER_INPUTS,
                            "recorded with other settings, model, graphs or code")
                    : new Pipeline.Staleness(name, Pipeline.Staleness.Reason.OUTPUT_CHANGED, damaged));
        Map<String, FileState> before = snapshot();
        ctx.clearWritten();
        int summaryBefore = ctx.summaryLines().size();
        Map<String, Long> rowsBefore = new LinkedHashMap<>(ctx.rowCounts());
        Map<String, Object> hashesBefore = new LinkedHashMap<>(ctx.hashes());
        Map<String, Double> timingsBefore = new LinkedHashMap<>(ctx.timings());
        Map<String, Long> countersBefore = ctx.model().engine().counters();
        counter.start(name);
        long t0 = System.nanoTime();
        ctx.stepFingerprint(fingerprint); // the key of the step's partial progress (StepChunks)
        try {
            body.run();
        } finally {
            ctx.stepFingerprint("");
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        counter.done(name);
        stepSeconds.put(name, seconds);
        // every file the step wrote, including files an interrupted earlier attempt had already written with the
        // same bytes: written through the context, or new, or replaced (another inode), or modified since
        Set<String> written = new TreeSet<>();
        ctx.writtenFiles().forEach(f -> written.add(relative(f)));
        Map<String, String> outputs = new TreeMap<>();
        snapshot().forEach((f, st) -> {
            if (written.contains(f) || !st.sameFile(before.get(f))) outputs.put(f, st.sha256());
        });
        Map<String, Long> rows = new LinkedHashMap<>(ctx.rowCounts());
        rows.keySet().removeIf(k -> rows.get(k).equals(rowsBefore.get(k)));
        Map<String, Object> hashes = new LinkedHashMap<>(ctx.hashes());
        hashes.keySet().removeIf(k -> hashes.get(k).equals(hashesBefore.get(k)));
        List<String> summary = new ArrayList<>(ctx.summaryLines().subList(summaryBefore, ctx.summaryLines().size()));
        Map<String, Double> timings = new LinkedHashMap<>(ctx.timings());
        timings.keySet().removeIf(k -> timings.get(k).equals(timingsBefore.get(k)));
        Map<String, Long> counters = new TreeMap<>();
        ctx.model().engine().counters().forEach((k, v) -> counters.put(k, v - countersBefore.getOrDefault(k, 0L)));
        StepRecord rec = new StepRecord(fingerprint, outputs, summary, rows, hashes, seconds, timings, counters);
        AtomicFiles.writeString(record, RunContext.json(rec) + "\n");
        tracked.addAll(outputs.keySet());
        chain = Hashing.sha256(fingerprint + RunContext.json(outputs));
    }

    /** Output files of the run (relative paths) that no step of this process ran or replayed lists as its own. */
    List<String> untracked() {
        return snapshot().keySet().stream().filter(f -> !tracked.contains(f)).toList();
    }

    /** Records the sha256 of every file outside the step records that no step wrote: what finish() wrote. */
    void recordFinish() {
        Map<String, String> outputs = new TreeMap<>();
        finishFiles().forEach(f -> outputs.put(f, Hashing.sha256(ctx.runDir().resolve(f))));
        AtomicFiles.writeString(ctx.runDir().resolve(FINISHED), RunContext.json(Map.of("outputs", outputs)) + "\n");
    }

    /** Null when finish()'s record is there and its files are intact, else what is wrong. */
    String finishDamage() {
        if (!Files.isRegularFile(ctx.runDir().resolve(FINISHED)))
            return "the run's manifest, summary and report are not recorded (finished by an older version)";
        Map<String, String> outputs = readFinish(ctx.runDir());
        if (outputs == null) return FINISHED + " is unreadable";
        return damaged(new StepRecord("", outputs, List.of(), Map.of(), Map.of(), 0, null, null));
    }

    /** The files the finish record of {@code runDir} lists (empty when it has none). */
    static Set<String> finishOutputs(Path runDir) {
        Map<String, String> outputs = readFinish(runDir);
        return outputs == null ? Set.of() : outputs.keySet();
    }

    private static Map<String, String> readFinish(Path runDir) {
        Path f = runDir.resolve(FINISHED);
        if (!Files.isRegularFile(f)) return null;
        try {
            Map<String, String> outputs = RunContext.JSON.readValue(f.toFile(),
                    new TypeReference<Map<String, Map<String, String>>>() {}).get("outputs");
            return outputs == null ? Map.of() : outputs;
        } catch (IOException e) {
            return null;
        }
    }

    private List<String> finishFiles() {
        try (Stream<Path> s = Files.walk(ctx.runDir())) {
            return s.filter(Files::isRegularFile).map(p -> ctx.runDir().relativize(p).toString())
                    .filter(rel -> !rel.startsWith(DIR) && !rel.endsWith(".tmp") && !tracked.contains(rel)).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private String relative(Path f) {
        return ctx.runDir().toAbsolutePath().relativize(f.toAbsolutePath()).toString();
    }

    /** Null when every recorded output is there with its recorded sha256, else what is wrong. */
    private String damaged(StepRecord rec) {
        for (Map.Entry<String, String> e : rec.outputs().entrySet()) {
            Path f = ctx.runDir().resolve(e.getKey());
            if (!Files.isRegularFile(f)) return e.getKey() + " is missing";
            if (!Hashing.sha256(f).equals(e.getValue())) return e.getKey() + " changed since the step wrote it";
        }
        return null;
    }

    private StepRecord read(Path record) {
        if (!Files.isRegularFile(record)) return null;
        try {
            return RunContext.JSON.readValue(record.toFile(), new TypeReference<StepRecord>() {});
        } catch (IOException e) {
            return null; // an unreadable record means: redo the step
        }
    }

    /** A file as last hashed: its stamp (identity, size, times) and sha256. */
    private record FileState(FileStamp stamp, String sha256) {
        boolean sameFile(FileState o) {
            return o != null && stamp.equals(o.stamp) && sha256.equals(o.sha256);
        }
    }

    /** Every output file of the run so far (run manifest, summary, ledger and temp files excluded). */
    private Map<String, FileState> snapshot() {
        Map<String, FileState> out = new TreeMap<>();
        if (!Files.isDirectory(ctx.runDir())) return out;
        try (Stream<Path> s = Files.walk(ctx.runDir())) {
            for (Path f : s.filter(Files::isRegularFile).toList()) {
                String rel = ctx.runDir().relativize(f).toString();
                if (rel.startsWith(DIR) || rel.equals("run_manifest.json") || rel.equals("summary.md")
                        || f.getFileName().toString().endsWith(".tmp")) continue;
                FileStamp stamp = FileStamp.of(f);
                FileState last = seen.get(rel);
                FileState now = last != null && last.stamp().equals(stamp) ? last : new FileState(stamp, Hashing.sha256(f));
                seen.put(rel, now);
                out.put(rel, now);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }
}
