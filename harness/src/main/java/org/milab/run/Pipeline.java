package org.milab.run;

import org.milab.engine.TokenIds;
import org.milab.protocol.reference.AttentionStage;
import org.milab.protocol.reference.BaselineStage;
import org.milab.protocol.reference.CharacterizationConsolidationStage;
import org.milab.protocol.reference.CharacterizationCounterexampleStage;
import org.milab.protocol.reference.CharacterizationStage;
import org.milab.protocol.reference.FailureTaxonomyStage;
import org.milab.protocol.reference.HeldoutCandidateStage;
import org.milab.protocol.reference.HeldoutConsolidationStage;
import org.milab.protocol.reference.HeldoutCounterexampleStage;
import org.milab.protocol.reference.HeldoutRobustnessStage;
import org.milab.protocol.reference.LogitLensStage;
import org.milab.protocol.reference.MetricCalibrationStage;
import org.milab.protocol.reference.PromptSet;

import org.milab.protocol.reference.CandidateSelectionStage;
import org.milab.protocol.reference.HeadSweepStage;
import org.milab.protocol.reference.HookInspectionStage;
import org.milab.protocol.reference.LayerPatchingStage;
import org.milab.protocol.reference.SweepConsolidationStage;

import org.milab.prompts.ControlPrompts;
import org.milab.prompts.HeldoutPrompts;
import org.milab.prompts.PromptRecord;
import org.milab.util.AtomicFiles;
import org.milab.util.Provenance;

import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The reference lab's progression as one ordered chain of stage classes. {@link #sweep} runs the controls
 * runs through the multi-seed head sweep (S3-S12); {@link #heldout} continues through the pre-registered
 * candidate set, the held-out robustness pass and its counterexamples (S13-S15).
 */
public final class Pipeline {
    private final RunContext ctx;
    private final boolean resume;
    private final StepLedger ledger;
    private final long started = System.nanoTime();
    private final String startedUtc = Instant.now().toString();

    public Pipeline(RunContext ctx) {
        this(ctx, false);
    }

    /** @param resume skip steps whose inputs and outputs are unchanged since they ran (see StepLedger) */
    public Pipeline(RunContext ctx, boolean resume) {
        this(ctx, resume ? StepLedger.Mode.RESUME : StepLedger.Mode.RUN);
    }

    private Pipeline(RunContext ctx, StepLedger.Mode mode) {
        this.ctx = ctx;
        this.resume = mode == StepLedger.Mode.RESUME;
        this.ledger = new StepLedger(ctx, mode);
    }

    /** The first step of a resumed command that would run again, and why. */
    public record Staleness(String step, Reason reason, String detail) {
        public enum Reason {
            /** the step has no record: the command goes further than the run did */
            NOT_RUN,
            /** the step was recorded with another config, model, graphs, device or code commit */
            OTHER_INPUTS,
            /** an output of the step is missing or was edited */
            OUTPUT_CHANGED
        }
    }

    /**
     * Checks, without running or writing anything, whether {@code part} of the pipeline is up to date in
     * {@code ctx}'s folder (a finished run, verified in place): empty when every step would be skipped.
     */
    public static java.util.Optional<Staleness> check(RunContext ctx, java.util.function.Consumer<Pipeline> part) {
        try {
            part.accept(new Pipeline(ctx, StepLedger.Mode.VERIFY));
            return java.util.Optional.empty();
        } catch (StepLedger.StaleStep s) {
            return java.util.Optional.of(s.staleness);
        }
    }

    /** S3, S5, S6 for the controls sets, S8-S10, S11 per seed, S12. */
    public void sweep() {
        for (int seed : ctx.config().controlSeeds())
            ledger.step("controls-seed" + seed, () -> describe(promptSet("controls", seed, ControlPrompts.TASK,
                    ControlPrompts.generate(seed, ctx.config().controlsPerFamily()))));
        for (int seed : ctx.config().layerPatchSeeds())
            if (ctx.config().controlSeeds().contains(seed))
                ledger.step("layer-patching-seed" + seed, () -> {
                    new CandidateSelectionStage().run(ctx, seed, seed);
                    new LayerPatchingStage().run(ctx, seed);
                });
        ledger.step("hook-inspection", () -> new HookInspectionStage().run(ctx));
        for (int seed : ctx.config().controlSeeds())
            ledger.step("head-sweep-seed" + seed, () -> new HeadSweepStage().run(ctx, seed));
        ledger.step("head-sweep-multiseed", () -> new SweepConsolidationStage().run(ctx));
    }

    /** Everything of {@link #sweep}, then S13 (registered before scoring), S14 per seed + consolidation, S15. */
    public void heldout() {
        sweep();
        // registered and hashed before any held-out scoring
        ledger.step("heldout-candidates", () -> new HeldoutCandidateStage().run(ctx));
        for (int seed : ctx.config().heldoutSeeds())
            ledger.step("heldout-seed" + seed, () -> {
                describe(promptSet("heldout", seed, HeldoutPrompts.TASK, HeldoutPrompts.generate(seed, ctx.config().heldoutGenerated())));
                new HeldoutRobustnessStage().run(ctx, seed);
            });
        ledger.step("heldout-multiseed", () -> new HeldoutConsolidationStage().run(ctx, ctx.config().heldoutSeeds()));
        ledger.step("heldout-counterexamples", () -> new HeldoutCounterexampleStage().run(ctx));
    }

    /**
     * S16-S17 on the registered held-out candidate set (S13 runs first if this run has none yet: from the
     * sweep for derived models, the hard-coded set for GPT-2, or --candidates).
     */
    public void characterization() {
        if (!ctx.config().modelId().equals("gpt2") && ctx.config().candidateFile() == null) sweep();
        ledger.step("heldout-candidates", () -> new HeldoutCandidateStage().run(ctx));
        characterizationStages();
    }

    private void characterizationStages() {
        RunConfig c = ctx.config();
        for (int seed : c.characterizationSeeds())
            ledger.step("characterization-seed" + seed, () -> new CharacterizationStage()
                    .run(ctx, seed, c.characterizationGenerated(), c.characterizationScored()));
        ledger.step("characterization-multiseed", () -> new CharacterizationConsolidationStage().run(ctx, c.characterizationSeeds()));
        ledger.step("characterization-counterexamples", () -> new CharacterizationCounterexampleStage().run(ctx, c.characterizationSeeds()));
        ledger.step("failure-taxonomy", () -> new FailureTaxonomyStage().run(ctx, c.characterizationSeeds()));
    }

    /** S19 metric calibration: needs only the exported model. */
    public void calibration() {
        ledger.step("metric-calibration", () -> new MetricCalibrationStage().run(ctx));
    }

    /**
     * The reference lab's full progression in one resumable chain: baseline -> ... -> held-out (S3-S15),
     * characterization and its counterexamples (S16, S17), failure taxonomy (S18), metric calibration (S19).
     */
    public void all() {
        heldout();
        characterizationStages();
        calibration();
    }

    /** The descriptive stages of one prompt file: baseline, logit lens, attention. */
    private void describe(PromptSet set) {
        new BaselineStage().run(ctx, set);
        new LogitLensStage().run(ctx, set);
        new AttentionStage().run(ctx, set);
    }

    /** Captures every prompt and control prompt of a set once, with the hooks the descriptive stages read. */
    private PromptSet promptSet(String dataset, int seed, String task, List<PromptRecord> records) {
        Set<TokenIds> prompts = new LinkedHashSet<>();
        for (PromptRecord r : records) {
            prompts.add(ctx.tokens(r.prompt()));
            prompts.add(ctx.tokens(r.controlPrompt()));
        }
        Set<String> hooks = new LinkedHashSet<>(LogitLensStage.hooksNeeded(ctx.model().config()));
        hooks.addAll(AttentionStage.hooksNeeded(ctx.model().config()));
        return new PromptSet(dataset, seed, task, records,
                ctx.model().engine().capture(prompts, hooks, dataset + " seed " + seed + ": capture"));
    }

    /** run_manifest.json and summary.md: what ran, on what, with which code, how long, how many rows. */
    public void finish(String command) {
        if (resume) removeLeftovers();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("schema", "milab.run_manifest/1");
        m.put("command", command);
        m.put("run_id", ctx.config().runId());
        m.put("started_utc", startedUtc);
        m.put("finished_utc", Instant.now().toString());
        m.put("wall_seconds", (System.nanoTime() - started) / 1e9);
        m.put("config", ctx.config().toMap());
        m.put("model", ctx.model().provenance());
        m.put("model_manifest_sha256", manifestHashes());
        m.put("code_git_commit", ctx.codeCommit());
        m.put("java", Provenance.javaVersion());
        m.put("machine", Provenance.machine());
        m.put("decision_tolerance", org.milab.stats.Decisions.TOLERANCE);
        m.put("hashes", ctx.hashes());
        m.put("engine_counters", ctx.model().engine().counters());
        m.put("timings_seconds", ctx.timings());
        m.put("row_counts", ctx.rowCounts());
        StringBuilder md = new StringBuilder("# Run ").append(ctx.config().runId()).append("\n\n")
                .append("- command: `").append(command).append("`\n")
                .append("- model: `").append(ctx.model().id()).append("` (checkpoint sha256 `")
                .append(ctx.model().provenance().get("checkpoint_sha256")).append("`, pinned: ")
                .append(ctx.model().provenance().get("checkpoint_pinned")).append(")\n")
                .append("- device: ").append(ctx.model().provenance().get("execution_provider")).append('\n')
                .append("- code: `").append(ctx.codeCommit()).append("`\n")
                .append(String.format(java.util.Locale.ROOT, "- wall time: %.1f s%n%n", (System.nanoTime() - started) / 1e9))
                .append("## Stages\n\n");
        ctx.summaryLines().forEach(l -> md.append(l).append('\n'));
        md.append("\nTables are Arrow IPC files (open with pyarrow, Polars or DuckDB); provenance is in each file's "
                + "schema metadata (`milab.provenance`).\n");
        AtomicFiles.writeString(ctx.runDir().resolve("summary.md"), md.toString());
        // the manifest is written last: its presence marks the folder as a finished run (see RunFolder.recover)
        AtomicFiles.writeString(ctx.runDir().resolve(RunFolder.MANIFEST), RunContext.json(m) + "\n");
        RunFolder.publish(ctx.runDir(), ctx.finalDir());
    }

    /**
     * A resumed run may hold files of an earlier attempt with other settings that no step of this run wrote;
     * they are not verified by any step record, so they do not stay in the finished run.
     */
    private void removeLeftovers() {
        for (String f : ledger.untracked()) {
            System.err.println("resume: removing " + f + ": no step of this run wrote it (left by an earlier attempt)");
            try {
                java.nio.file.Files.delete(ctx.runDir().resolve(f));
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException("Cannot remove " + f + " from " + ctx.runDir(), e);
            }
        }
    }

    private Map<String, String> manifestHashes() {
        Map<String, String> out = new LinkedHashMap<>();
        try (var files = java.nio.file.Files.list(ctx.model().layout().manifestDir())) {
            files.filter(p -> p.toString().endsWith(".json")).sorted()
                    .forEach(p -> out.put(p.getFileName().toString(), org.milab.util.Hashing.sha256(p)));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return out;
    }
}
