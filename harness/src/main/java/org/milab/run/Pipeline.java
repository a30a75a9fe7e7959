package org.milab.run;

import org.milab.circuit.CircuitConfig;
import org.milab.circuit.CircuitStage;
import org.milab.circuit.CircuitTask;
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

import org.milab.protocol.v2.AttentionProbeStage;
import org.milab.protocol.v2.CausalStage;
import org.milab.protocol.v2.CompositionStage;
import org.milab.protocol.v2.CopyingStage;
import org.milab.protocol.v2.GroupAblationStage;
import org.milab.protocol.v2.ProtocolComparisonStage;
import org.milab.protocol.v2.ProtocolStage;
import org.milab.protocol.v2.V2Protocol;
import org.milab.protocol.v2.VerdictStage;

import org.milab.prompts.ControlPrompts;
import org.milab.prompts.HeldoutPrompts;
import org.milab.prompts.PromptRecord;
import org.milab.stage.RunFolder;
import org.milab.report.RunReport;
import org.milab.report.RunVerdict;
import org.milab.report.VerdictMarkdown;
import org.milab.util.AtomicFiles;
import org.milab.util.Provenance;

import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.milab.stage.RunConfig;
import org.milab.stage.RunManifest;
import org.milab.lab.ModelProvenance;
import org.milab.util.Hashing;

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
        Pipeline p = new Pipeline(ctx, StepLedger.Mode.VERIFY);
        try {
            part.accept(p);
        } catch (StepLedger.StaleStep s) {
            return java.util.Optional.of(s.staleness);
        }
        String finish = p.ledger.finishDamage();
        return finish == null ? java.util.Optional.empty()
                : java.util.Optional.of(new Staleness("finish", Staleness.Reason.OUTPUT_CHANGED, finish));
    }

    /** One named, resumable step of the chain. */
    private record Step(String name, Object inputs, Runnable body) {
        Step(String name, Runnable body) {
            this(name, null, body);
        }
    }

    /** S3, S5, S6 for the controls sets, S8-S10, S11 per seed, S12. */
    public void sweep() {
        execute(sweepSteps());
    }

    /** Everything of {@link #sweep}, then S13 (registered before scoring), S14 per seed + consolidation, S15. */
    public void heldout() {
        execute(heldoutSteps());
    }

    /**
     * S16-S17 on the registered held-out candidate set (S13 runs first if this run has none yet: from the
     * sweep for derived models, the hard-coded set for GPT-2, or --candidates).
     */
    public void characterization() {
        List<Step> steps = new ArrayList<>();
        if (!ctx.config().modelId().equals("gpt2") && ctx.config().candidateFile() == null) steps.addAll(sweepSteps());
        steps.add(new Step("heldout-candidates", () -> new HeldoutCandidateStage().run(ctx)));
        steps.addAll(characterizationSteps());
        execute(steps);
    }

    /** S19 metric calibration: needs only the exported model. */
    public void calibration() {
        execute(calibrationSteps());
    }

    /**
     * The reference lab's full progression in one resumable chain: baseline -> ... -> held-out (S3-S15),
     * characterization and its counterexamples (S16, S17), failure taxonomy (S18), metric calibration (S19).
     */
    public void all() {
        List<Step> steps = heldoutSteps();
        steps.addAll(characterizationSteps());
        steps.addAll(calibrationSteps());
        execute(steps);
    }

    /** Runs the steps through the ledger, which knows the whole plan first (step i of n, time left). */
    private void execute(List<Step> steps) {
        ledger.plan(steps.stream().map(Step::name).toList());
        for (Step s : steps) ledger.step(s.name(), s.inputs(), s.body());
    }

    private List<Step> sweepSteps() {
        List<Step> steps = new ArrayList<>();
        for (int seed : ctx.config().controlSeeds())
            steps.add(new Step("controls-seed" + seed, () -> describe(promptSet("controls", seed, ControlPrompts.TASK,
                    ControlPrompts.generate(seed, ctx.config().controlsPerFamily())))));
        for (int seed : ctx.config().layerPatchSeeds())
            if (ctx.config().controlSeeds().contains(seed))
                steps.add(new Step("layer-patching-seed" + seed, () -> {
                    new CandidateSelectionStage().run(ctx, seed, seed);
                    new LayerPatchingStage().run(ctx, seed);
                }));
        steps.add(new Step("hook-inspection", () -> new HookInspectionStage().run(ctx)));
        for (int seed : ctx.config().controlSeeds())
            steps.add(new Step("head-sweep-seed" + seed, () -> new HeadSweepStage().run(ctx, seed)));
        steps.add(new Step("head-sweep-multiseed", () -> new SweepConsolidationStage().run(ctx)));
        return steps;
    }

    private List<Step> heldoutSteps() {
        List<Step> steps = sweepSteps();
        // registered and hashed before any held-out scoring
        steps.add(new Step("heldout-candidates", () -> new HeldoutCandidateStage().run(ctx)));
        for (int seed : ctx.config().heldoutSeeds())
            steps.add(new Step("heldout-seed" + seed, () -> {
                describe(promptSet("heldout", seed, HeldoutPrompts.TASK, HeldoutPrompts.generate(seed, ctx.config().heldoutGenerated())));
                new HeldoutRobustnessStage().run(ctx, seed);
            }));
        steps.add(new Step("heldout-multiseed", () -> new HeldoutConsolidationStage().run(ctx, ctx.config().heldoutSeeds())));
        steps.add(new Step("heldout-counterexamples", () -> new HeldoutCounterexampleStage().run(ctx)));
        return steps;
    }

    private List<Step> characterizationSteps() {
        RunConfig c = ctx.config();
        List<Step> steps = new ArrayList<>();
        for (int seed : c.characterizationSeeds())
            steps.add(new Step("characterization-seed" + seed, () -> new CharacterizationStage()
                    .run(ctx, seed, c.characterizationGenerated(), c.characterizationScored())));
        steps.add(new Step("characterization-multiseed", () -> new CharacterizationConsolidationStage().run(ctx, c.characterizationSeeds())));
        steps.add(new Step("characterization-counterexamples", () -> new CharacterizationCounterexampleStage().run(ctx, c.characterizationSeeds())));
        steps.add(new Step("failure-taxonomy", () -> new FailureTaxonomyStage().run(ctx, c.characterizationSeeds())));
        return steps;
    }

    private List<Step> calibrationSteps() {
        return new ArrayList<>(List.of(new Step("metric-calibration", () -> new MetricCalibrationStage().run(ctx))));
    }

    /**
     * Protocol v2 (see org.milab.protocol.v2): the protocol is registered and hashed before anything is
     * scored; then attention and copying of every head, single-head causal tests, group ablation, composition
     * by path patching into keys, and the verdicts with their stability.
     */
    public void v2(V2Protocol.Counts counts) {
        execute(v2Steps(counts));
    }

    private List<Step> v2Steps(V2Protocol.Counts counts) {
        return new ArrayList<>(List.of(
                new Step("v2-protocol", counts, () -> new ProtocolStage().run(ctx, counts)),
                new Step("v2-attention", () -> new AttentionProbeStage().run(ctx)),
                new Step("v2-copying", () -> new CopyingStage().run(ctx)),
                new Step("v2-causal", () -> new CausalStage().run(ctx)),
                new Step("v2-group-ablation", () -> new GroupAblationStage().run(ctx)),
                new Step("v2-composition", () -> new CompositionStage().run(ctx)),
                new Step("v2-verdicts", () -> new VerdictStage().run(ctx))));
    }

    /**
     * Edge-level circuit discovery for {@code task} (see org.milab.circuit): one step whose inputs are the task's
     * examples (their sha256) and the settings, so a resume redoes it only when either changed.
     */
    public void circuit(CircuitTask task, CircuitConfig cfg) {
        Map<String, Object> inputs = new LinkedHashMap<>();
        inputs.put("task_sha256", Hashing.sha256(task.toJsonl()));
        inputs.put("circuit_config", cfg.toMap());
        execute(new ArrayList<>(List.of(new Step("circuit", inputs, () -> CircuitStage.run(ctx, task, cfg)))));
    }

    /** {@link #all}, then protocol v2 and a per-head table of both protocols' verdicts. */
    public void allWithV2(V2Protocol.Counts counts) {
        List<Step> steps = heldoutSteps();
        steps.addAll(characterizationSteps());
        steps.addAll(calibrationSteps());
        steps.addAll(v2Steps(counts));
        steps.add(new Step("protocol-comparison", () -> new ProtocolComparisonStage().run(ctx)));
        execute(steps);
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

    /**
     * run_manifest.json, report.html and summary.md (verdict first, then what ran, on what, with which code, how
     * long, how many rows); then the run folder is renamed to its final name.
     */
    public void finish(String command) {
        // chunks a killed attempt kept for a step this command did not run again: never part of a finished run
        org.milab.util.FileTrees.delete(ctx.runDir().resolve(org.milab.stage.StepChunks.DIR));
        List<String> leftovers = resume ? leftovers() : List.of();
        ModelProvenance model = ctx.model().modelProvenance();
        // counters and timings cover every step, also those a resumed run skipped (recorded when they ran)
        RunManifest manifest = new RunManifest(RunManifest.SCHEMA, command, ctx.config().runId(), startedUtc,
                Instant.now().toString(), (System.nanoTime() - started) / 1e9, ctx.config().toMap(), model,
                manifestHashes(), ctx.codeCommit(), Provenance.javaVersion(), Provenance.machine(),
                org.milab.stats.Decisions.TOLERANCE, ctx.hashes(), ctx.model().engine().describe(), ctx.engineCounters(),
                ctx.timings(), ledger.stepSeconds(), ctx.rowCounts(), leftovers.isEmpty() ? null : leftovers);
        AtomicFiles.writeString(ctx.runDir().resolve(RunManifest.FILE), RunContext.json(manifest.toMap()) + "\n");
        // the answer first: verdicts per protocol (and vs the ground truth), then how the run was made
        RunVerdict verdict = RunVerdict.read(ctx.root(), new RunFolder(ctx.runDir()));
        String report;
        try {
            RunReport.write(ctx.root(), ctx.runDir(), ctx.model());
            report = "Figures: [" + RunReport.FILE + "](" + RunReport.FILE + ") (open it in a browser; it works offline).";
        } catch (RuntimeException e) { // the run's tables stand without their report; it can be written again later
            // the message, never the exception's toString (a class name is no explanation for a reader of summary.md)
            report = RunReport.FILE + " could not be written (" + (e.getMessage() == null ? "an internal error" : e.getMessage())
                    + "); retry with `make report RUN=results/" + ctx.config().runId() + "`.";
            System.err.println(report);
        }
        StringBuilder md = new StringBuilder(String.join("\n", VerdictMarkdown.opening(verdict))).append("\n\n").append(report)
                .append("\n\n## Run\n\n")
                .append("- command: `").append(command).append("`\n")
                .append("- model: `").append(ctx.model().id()).append("` (checkpoint sha256 `")
                .append(model.checkpointSha256()).append("`, pinned: ")
                .append(model.checkpointPinned()).append(")\n")
                .append("- device: ").append(model.executionProvider()).append('\n')
                .append("- code: `").append(ctx.codeCommit()).append("`\n")
                .append(String.format(java.util.Locale.ROOT, "- wall time: %.1f s%n", (System.nanoTime() - started) / 1e9))
                .append(VerdictMarkdown.details(verdict))
                .append("\n## Stages\n\n");
        ctx.summaryLines().forEach(l -> md.append(l).append('\n'));
        // DuckDB reads Arrow IPC only through a downloaded extension, so every table also gets a Parquet copy
        int copies = org.milab.tables.ParquetCopies.writeAll(ctx.runDir()).size();
        md.append("\nTables are Arrow IPC files (`*.arrow`: pyarrow, pandas, Polars) with a Parquet copy beside each (")
                .append(copies).append(" `*.parquet`: DuckDB, Spark, any Parquet reader); provenance is in each file's "
                + "schema metadata (`milab.provenance`), one-line column descriptions in the field metadata "
                + "(`description`; all of them: `make columns`).\n");
        AtomicFiles.writeString(ctx.runDir().resolve("summary.md"), md.toString());
        // last: the record of these files, whose presence marks the folder as a finished run (RunDir.recover)
        ledger.recordFinish();
        RunDir.publish(ctx.runDir(), ctx.finalDir());
    }

    /**
     * A resumed run may hold files that no step of this run wrote: outputs of an earlier attempt with other
     * settings, or of a run finished by a version that did not record every output. Nothing is deleted; they are
     * named on the terminal and in run_manifest.json ({@code untracked_files}) as not produced or verified by this
     * run. (Files at the top of the run folder are finish()'s own or the user's.)
     */
    private List<String> leftovers() {
        List<String> out = ledger.untracked().stream().filter(f -> f.contains("/")).toList();
        if (!out.isEmpty())
            System.err.println("resume: " + out.size() + " file(s) in this run were not written by any of its steps (an earlier "
                    + "attempt with other settings?), kept and listed as untracked_files in run_manifest.json: "
                    + String.join(", ", out.subList(0, Math.min(5, out.size()))) + (out.size() > 5 ? ", ..." : ""));
        return out;
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
