package org.milab.run;

import com.fasterxml.jackson.core.type.TypeReference;
import org.milab.util.AtomicFiles;
import org.milab.util.Hashing;
import org.milab.util.StepCounter;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * Makes a run resumable. Each pipeline step is recorded in {@code .steps/<step>.json} with a fingerprint
 * of everything it depends on (config, model, code commit, and the sha256 of every output of the steps
 * before it) and the sha256 of every file it wrote. A resumed run skips a step only when the fingerprint
 * matches and every recorded output is still there, byte-identical; otherwise the step runs again, and so
 * does everything after it (their fingerprints change). A step interrupted before its record was written
 * is simply redone; its files were written atomically, so earlier outputs are never corrupted.
 */
final class StepLedger {
    private static final String DIR = ".steps";

    /**
     * What a step did, replayed into the run context when the step is skipped: so a resumed run's manifest
     * keeps the timings and engine counters of the steps it did not redo (null in records of older versions).
     */
    record StepRecord(String fingerprint, Map<String, String> outputs, List<String> summary,
                      Map<String, Long> rowCounts, Map<String, Object> hashes, double seconds,
                      Map<String, Double> timings, Map<String, Long> engineCounters) {}

    private final RunContext ctx;
    private final boolean resume;
    private String chain;
    private StepCounter counter;

    StepLedger(RunContext ctx, boolean resume) {
        this.ctx = ctx;
        this.resume = resume;
        Map<String, Object> base = new LinkedHashMap<>();
        base.put("config", ctx.config().toMap());
        Map<String, Object> model = new TreeMap<>(ctx.model().provenance());
        model.remove("device_fallback_reason");
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
        StepRecord done = resume ? read(record) : null;
        if (done != null && done.fingerprint().equals(fingerprint) && intact(done)) {
            counter.skipped(name, "up to date (resume), skipped");
            done.summary().forEach(ctx::summarize);
            ctx.rowCounts().putAll(done.rowCounts());
            ctx.hashes().putAll(done.hashes());
            if (done.timings() != null) ctx.timings().putAll(done.timings());
            if (done.engineCounters() != null) ctx.addReplayedCounters(done.engineCounters());
            stepSeconds.put(name, done.seconds());
            chain = Hashing.sha256(fingerprint + RunContext.json(done.outputs()));
            return;
        }
        Map<String, String> before = snapshot();
        int summaryBefore = ctx.summaryLines().size();
        Map<String, Long> rowsBefore = new LinkedHashMap<>(ctx.rowCounts());
        Map<String, Object> hashesBefore = new LinkedHashMap<>(ctx.hashes());
        Map<String, Double> timingsBefore = new LinkedHashMap<>(ctx.timings());
        Map<String, Long> countersBefore = ctx.model().engine().counters();
        counter.start(name);
        long t0 = System.nanoTime();
        body.run();
        double seconds = (System.nanoTime() - t0) / 1e9;
        counter.done(name);
        stepSeconds.put(name, seconds);
        Map<String, String> outputs = new TreeMap<>();
        snapshot().forEach((f, h) -> {
            if (!h.equals(before.get(f))) outputs.put(f, h);
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
        chain = Hashing.sha256(fingerprint + RunContext.json(outputs));
    }

    private boolean intact(StepRecord rec) {
        for (Map.Entry<String, String> e : rec.outputs().entrySet()) {
            Path f = ctx.runDir().resolve(e.getKey());
            if (!Files.isRegularFile(f) || !Hashing.sha256(f).equals(e.getValue())) return false;
        }
        return true;
    }

    private StepRecord read(Path record) {
        if (!Files.isRegularFile(record)) return null;
        try {
            return RunContext.JSON.readValue(record.toFile(), new TypeReference<StepRecord>() {});
        } catch (IOException e) {
            return null; // an unreadable record means: redo the step
        }
    }

    /** sha256 of every output file of the run so far (run manifest, summary and ledger excluded). */
    private Map<String, String> snapshot() {
        Map<String, String> out = new TreeMap<>();
        if (!Files.isDirectory(ctx.runDir())) return out;
        try (Stream<Path> s = Files.walk(ctx.runDir())) {
            s.filter(Files::isRegularFile).forEach(f -> {
                String rel = ctx.runDir().relativize(f).toString();
                if (rel.startsWith(DIR) || rel.equals("run_manifest.json") || rel.equals("summary.md")
                        || f.getFileName().toString().endsWith(".tmp")) return;
                out.put(rel, Hashing.sha256(f));
            });
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }
}
