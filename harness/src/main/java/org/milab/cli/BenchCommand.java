package org.milab.cli;

import org.milab.atp.PromptPair;
import org.milab.atp.AttributionPatching;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.milab.protocol.reference.HeadPatching;
import org.milab.engine.InterventionEngine;
import org.milab.engine.InterventionEngine.RecomputePath;
import org.milab.engine.PatchRow;
import org.milab.engine.SitePatch;
import org.milab.engine.TokenIds;
import org.milab.graph.GraphVariant;
import org.milab.graph.HookNames;
import org.milab.graph.PatchSite;
import org.milab.lab.LabModel;
import org.milab.model.ModelConfig;
import org.milab.stage.RunConfig;
import org.milab.run.RunContext;
import org.milab.runtime.Device;
import org.milab.runtime.Feeds;
import org.milab.runtime.ModelSessions;
import org.milab.runtime.TokenBatch;
import org.milab.util.AtomicFiles;
import org.milab.util.Provenance;
import org.milab.util.UserError;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import org.milab.protocol.reference.HeldoutMatrix;
import org.milab.util.Json;

/**
 * Throughput benchmarks (never timed tests): reported as rates, ratios, and fractions of the machine's
 * MatMul ceiling, so they mean something on another machine too. Prints tables and writes the same numbers
 * to results/bench/<time>/bench.json.
 */
@Command(name = "bench", mixinStandardHelpOptions = true, description = "Measure forward and patching throughput.")
public final class BenchCommand implements Callable<Integer> {
    /** ONNX Runtime MatMul [64,768]x[768,3072] fp32 with 2 threads on these machines (shared/spec/stack-notes.md). */
    static final double CEILING_GFLOPS = 380.0;
    private static final ObjectMapper JSON = Json.MAPPER;

    @Mixin RootOption root;
    @Option(names = "--model", defaultValue = "gpt2-random",
            description = "Exported model to time (make bench exports a GPT-2-small-shaped random one). Default: ${DEFAULT-VALUE}.")
    String model;
    @Option(names = "--threads", defaultValue = "0",
            description = "ONNX Runtime intra-op threads; 0 lets ONNX Runtime choose. Default: ${DEFAULT-VALUE}.") int threads;
    @Option(names = "--batch", defaultValue = "32", description = "Prompts per forward call. Default: ${DEFAULT-VALUE}.") int batch;
    @Option(names = "--tokens", defaultValue = "24", description = "Tokens per prompt. Default: ${DEFAULT-VALUE}.") int tokens;
    @Option(names = "--repeats", defaultValue = "5", description = "Timed forward calls (after 2 warm-up calls). Default: ${DEFAULT-VALUE}.")
    int repeats;
    @Option(names = "--patch-sample", defaultValue = "2",
            description = "Candidates timed at batch 1 (the slow baseline). Default: ${DEFAULT-VALUE}.")
    int patchSample;
    @Option(names = "--candidates", defaultValue = "16",
            description = "Held-out candidates (heads) in the matrix, 1-16. Default: ${DEFAULT-VALUE}.")
    int candidates;
    @Option(names = "--rounds", defaultValue = "1",
            description = "Held-out rounds; the engine paths alternate within each. Default: ${DEFAULT-VALUE}.")
    int rounds;
    @Option(names = "--batch-rows", defaultValue = "128",
            description = "Rows per ONNX Runtime call of the batched engine. Default: ${DEFAULT-VALUE}.") int batchRows;
    @Option(names = "--engine-path", defaultValue = "both",
            description = "Held-out engine rows: minimal (FLOP-minimal recompute), legacy (suffix recompute, the "
                    + "previous engine), or both, timed alternately in one run. Default: ${DEFAULT-VALUE}.")
    String enginePath;
    @Option(names = "--skip-patching", description = "Only the forward benchmark.") boolean skipPatching;
    @Option(names = "--skip-attribution", description = "No attribution-patching benchmark.") boolean skipAttribution;
    @Option(names = "--attribution-pairs", defaultValue = "32",
            description = "Clean/corrupt pairs of the attribution-patching benchmark. Default: ${DEFAULT-VALUE}.")
    int attributionPairs;
    @Option(names = "--attribution-exact-pairs", defaultValue = "4",
            description = "Pairs the exact all-heads-all-positions sweep is timed on (scaled to --attribution-pairs). "
                    + "Default: ${DEFAULT-VALUE}.")
    int attributionExactPairs;
    @Option(names = "--skip-scaling", description = "no scaling table") boolean skipScaling;
    @Option(names = "--skip-whole", description = "no (a) and (b0) rows (they take the longest)") boolean skipWhole;
    @Option(names = "--tuning", description = "also time ORT session options one by one on a fixed workload")
    boolean tuningSweep;
    @Option(names = "--tuning-rounds", defaultValue = "3", description = "Alternating rounds of the --tuning sweep. Default: ${DEFAULT-VALUE}.") int tuningRounds;
    @Option(names = "--profile", description = "also break ORT time down by operator (capture forward and the engine)")
    boolean profile;

    private final ObjectNode report = JSON.createObjectNode();
    /** The MatMul ceiling measured at the start of this run (the load this run saw). */
    private double ceilingNow = CEILING_GFLOPS;

    @Override
    public Integer call() throws OrtException {
        if (!Set.of("both", "minimal", "legacy").contains(enginePath))
            throw new UserError("--engine-path " + enginePath + " is not known.", "Use minimal, legacy or both.");
        if (candidates < 1 || candidates > HeldoutMatrix.REFERENCE_HEADS.size())
            throw new UserError("--candidates " + candidates + " is outside 1-16.", "Give 1 to 16 candidates.");
        OptionChecks.bounded("--threads", threads, 0, OptionChecks.MAX_THREADS);
        OptionChecks.bounded("--batch", batch, 1, OptionChecks.MAX_BATCH_ROWS);
        OptionChecks.bounded("--tokens", tokens, 2, 1024); // GPT-2's n_positions
        OptionChecks.bounded("--repeats", repeats, 1, 1000);
        OptionChecks.bounded("--patch-sample", patchSample, 0, HeldoutMatrix.REFERENCE_HEADS.size());
        OptionChecks.bounded("--rounds", rounds, 1, 100);
        OptionChecks.bounded("--batch-rows", batchRows, 1, OptionChecks.MAX_BATCH_ROWS);
        OptionChecks.bounded("--attribution-pairs", attributionPairs, 1, 10_000);
        OptionChecks.bounded("--attribution-exact-pairs", attributionExactPairs, 1, attributionPairs);
        OptionChecks.bounded("--tuning-rounds", tuningRounds, 1, 100);
        Instant started = Instant.now();
        report.put("schema", "milab.bench/1");
        report.put("started_utc", started.toString());
        report.put("ceiling_gflops", CEILING_GFLOPS);
        report.put("ceiling_meaning", "ONNX Runtime MatMul [64,768]x[768,3072] fp32, 2 threads (shared/spec/stack-notes.md)");
        report.put("flop_counting", "2 per multiply-add of MatMul work (projections, MLP, QK^T, PV, unembedding); "
                + "useful = what a FLOP-minimal computation needs: each distinct prompt's capture once, and per patched "
                + "row blocks >= its first patched layer at positions >= its first patched position (causal keys); "
                + "executed = what the ORT calls ran, padding and full score matrices included");
        ObjectNode machine = report.putObject("machine");
        machine.put("description", Provenance.machine());
        machine.put("cores", Runtime.getRuntime().availableProcessors());
        machine.put("loadavg_start", loadAverage());
        machine.put("code_commit", Provenance.gitCommit(root.root()));
        System.out.println("| measurement | value |");
        System.out.println("|---|---|");
        ceilingNow = measureCeiling("start");
        try (LabModel m = LabModel.open(root.root(), model, Device.CPU, threads)) {
            report.set("provenance", JSON.valueToTree(m.provenance()));
            report.put("ort_intra_op_threads", threads == 0 ? "default" : Integer.toString(threads));
            report.put("ort_session_options", m.sessions().tuning().describe());
            benchCapture(m);
        }
        if (profile) benchProfile();
        if (!skipPatching) benchHeldout();
        if (!skipAttribution) benchAttribution();
        if (tuningSweep) benchTuning();
        if (!skipScaling) benchScaling();
        measureCeiling("end");
        machine.put("loadavg_end", loadAverage());
        Path out = root.root().resolve("results").resolve("bench")
                .resolve(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss").withZone(ZoneOffset.UTC).format(started));
        try {
            AtomicFiles.writeString(out.resolve("bench.json"), JSON.writeValueAsString(report) + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        System.out.println();
        System.out.println("wrote " + root.root().relativize(out.resolve("bench.json")));
        return 0;
    }

    private void benchCapture(LabModel m) throws OrtException {
        ModelConfig c = m.config();
        SplittableRandom rng = new SplittableRandom(0);
        List<int[]> prompts = new ArrayList<>();
        for (int r = 0; r < batch; r++) prompts.add(rng.ints(tokens, 0, c.vocabSize()).toArray());
        TokenBatch b = TokenBatch.of(prompts);
        double secs = timeCapture(m, b, 2) / 2; // warm-up
        secs = timeCapture(m, b, repeats) / repeats;
        double tokPerSec = batch * tokens / secs;
        double gflops = forwardFlops(c, batch, tokens) / secs / 1e9;
        System.out.printf(Locale.ROOT, "| capture forward, batch %d x %d tokens | %.3f s per call |%n", batch, tokens, secs);
        System.out.printf(Locale.ROOT, "| forward tokens/s | %.0f |%n", tokPerSec);
        System.out.printf(Locale.ROOT, "| achieved GFLOP/s (analytic count) | %.1f |%n", gflops);
        System.out.printf(Locale.ROOT, "| fraction of the %.0f GFLOP/s MatMul ceiling | %.2f |%n", CEILING_GFLOPS,
                gflops / CEILING_GFLOPS);
        System.out.printf(Locale.ROOT, "| fraction of the MatMul ceiling measured now | %.2f |%n", gflops / ceilingNow);
        System.out.printf(Locale.ROOT, "| ORT intra-op threads | %s |%n", threads == 0 ? "default" : threads);
        ObjectNode n = report.putObject("capture_forward");
        n.put("batch", batch);
        n.put("tokens", tokens);
        n.put("seconds_per_call", secs);
        n.put("tokens_per_s", tokPerSec);
        n.put("gflops", gflops);
        n.put("fraction_of_ceiling", gflops / CEILING_GFLOPS);
        n.put("fraction_of_measured_ceiling", gflops / ceilingNow);
    }

    /** One timed pass: what ran, how long, the engine's FLOP counters and the peak RSS during it. */
    private record Timed(String id, String what, int interventions, double seconds, double usefulFlops,
                         double executedFlops, long peakRssBytes, Map<String, Long> counters) {
        double rate() {
            return interventions / seconds;
        }

        double usefulGflops() {
            return usefulFlops / seconds / 1e9;
        }

        ObjectNode json(double ceilingNow) {
            ObjectNode n = JSON.createObjectNode();
            n.put("id", id);
            n.put("what", what);
            n.put("interventions", interventions);
            n.put("seconds", seconds);
            n.put("interventions_per_s", rate());
            n.put("useful_gflop", usefulFlops / 1e9);
            n.put("useful_gflops", usefulGflops());
            n.put("useful_fraction_of_ceiling", usefulGflops() / CEILING_GFLOPS);
            n.put("useful_fraction_of_ceiling_measured_at_start", usefulGflops() / ceilingNow);
            n.put("executed_gflops", executedFlops / seconds / 1e9);
            n.put("executed_fraction_of_ceiling", executedFlops / seconds / 1e9 / CEILING_GFLOPS);
            n.put("peak_rss_mb", peakRssBytes / 1e6);
            n.set("engine_counters", JSON.valueToTree(counters));
            n.put("capture_seconds", counters.get("capture_nanos") / 1e9);
            n.put("patch_seconds", counters.get("patch_nanos") / 1e9);
            double patchGflops = counters.get("useful_patch_flops") / (counters.get("patch_nanos") / 1e9) / 1e9;
            n.put("patch_phase_useful_gflops", patchGflops);
            n.put("patch_phase_useful_fraction_of_ceiling", patchGflops / CEILING_GFLOPS);
            return n;
        }
    }

    /**
     * The held-out matrix of seed 10 (the reference's 16 GPT-2 heads x 72 records x 3 interventions x 2
     * positions = 6912 interventions): (a) one forward pass per intervention at batch 1, timed on a sample of
     * candidates; (b0) whole prompts batched; (b-legacy) the previous engine (suffix recompute over per-row
     * K/V copies); (b) the engine (FLOP-minimal recompute over shared prompt caches). All run the same code path
     * (HeadPatching) and include the unpatched baseline rows and the captures. The engine paths alternate
     * within each round, so their ratio is measured under the same load.
     */
    private void benchHeldout() {
        List<HeadPatching.Job> all = HeldoutMatrix.jobs(10).stream()
                .filter(j -> HeldoutMatrix.candidateIndex(j) < candidates).toList();
        List<HeadPatching.Job> sample = all.stream().filter(j -> HeldoutMatrix.candidateIndex(j) < patchSample).toList();
        List<Timed> runs = new ArrayList<>();
        for (int round = 0; round < rounds; round++) {
            if (!enginePath.equals("legacy"))
                runs.add(timeJobs("b", "batched + FLOP-minimal recompute over shared prompt caches (the engine)",
                        all, batchRows, RecomputePath.MINIMAL));
            if (!enginePath.equals("minimal"))
                runs.add(timeJobs("b_legacy", "batched + suffix-only recompute over per-row K/V (previous engine)",
                        all, batchRows, RecomputePath.SUFFIX));
        }
        if (!skipWhole) {
            runs.add(timeJobs("b0", "batched, whole prompts, " + batchRows + " rows per call", all, batchRows, RecomputePath.WHOLE));
            runs.add(timeJobs("a", "one forward per intervention, batch 1 (" + patchSample + " candidates)", sample, 1,
                    RecomputePath.WHOLE));
        }
        Timed a = runs.stream().filter(t -> t.id.equals("a")).findFirst().orElse(null);
        System.out.println();
        System.out.printf(Locale.ROOT, "| held-out matrix, seed 10, %d of 16 candidates (GPT-2-small shape) | interventions | "
                + "seconds (capture + patch) | interventions/s | useful GFLOP/s | of ceiling (of measured) | executed GFLOP/s | peak RSS MB |%s%n",
                candidates, a == null ? "" : " vs (a) |");
        System.out.println("|---|---|---|---|---|---|---|---|" + (a == null ? "" : "---|"));
        ArrayNode arr = report.putArray("heldout");
        for (Timed t : runs) {
            System.out.printf(Locale.ROOT, "| (%s) %s | %d | %.1f (%.1f + %.1f) | %.1f | %.1f | %.2f | %.1f | %.0f |%s%n", t.id, t.what,
                    t.interventions, t.seconds, t.counters.get("capture_nanos") / 1e9, t.counters.get("patch_nanos") / 1e9, t.rate(), t.usefulGflops(), t.usefulGflops() / CEILING_GFLOPS,
                    t.executedFlops / t.seconds / 1e9, t.peakRssBytes / 1e6,
                    a == null ? "" : String.format(Locale.ROOT, " %.1fx |", t.rate() / a.rate()));
            arr.add(t.json(ceilingNow));
        }
        ratio(runs, "b", "b_legacy");
    }

    /**
     * Attribution patching vs the exact sweep it replaces, in one run: AtP (two gradient passes per pair) and
     * AtP-IG (10 more) for every head, MLP, attention and residual node at every position of
     * {@code attributionPairs} repeated-token pairs (length 10, 21 tokens), against one suffix-reusing patched
     * forward pass per (pair, head, position), timed on the first {@code attributionExactPairs} pairs.
     */
    private void benchAttribution() {
        try (LabModel m = LabModel.open(root.root(), model, Device.CPU, threads, batchRows, batchRows * 16)) {
            ModelConfig c = m.config();
            java.util.List<org.milab.atp.PromptPair> pairs = org.milab.attribution.RepeatedTokenPairs.generate(
                    attributionPairs, 10, 0, c.vocabSize(), m.tokenizer().bosId(), java.util.Set.of(), c.nPositions());
            org.milab.atp.AttributionPatching.run(m, pairs.subList(0, 2), 32, 0); // warm-up
            var atp = org.milab.atp.AttributionPatching.run(m, pairs, 32, 0);
            var ig = org.milab.atp.AttributionPatching.run(m, pairs, 32, 10);
            var exact = org.milab.attribution.ExactHeadPatching.cells(m, pairs.subList(0, attributionExactPairs));
            double scale = (double) attributionPairs / attributionExactPairs, exactAll = exact.seconds() * scale;
            int T = pairs.get(0).length(), heads = c.nLayer() * c.nHead();
            System.out.println();
            System.out.printf(Locale.ROOT, "| attribution, %d prompt pairs x %d heads x %d positions (GPT-2-small shape) | seconds | vs exact sweep |%n",
                    attributionPairs, heads, T);
            System.out.println("|---|---|---|");
            System.out.printf(Locale.ROOT, "| AtP, both directions (2 gradient passes per pair; + MLP, attn, resid nodes) | %.2f | %.0fx faster |%n",
                    atp.seconds(), exactAll / atp.seconds());
            System.out.printf(Locale.ROOT, "| AtP + AtP-IG, 10 steps (12 gradient passes per pair) | %.2f | %.0fx faster |%n",
                    ig.seconds(), exactAll / ig.seconds());
            System.out.printf(Locale.ROOT, "| exact sweep, measured on %d pairs (%d patched rows, suffix reuse, %d rows per call) | %.1f | %.1f rows/s |%n",
                    attributionExactPairs, exact.patchedRows(), batchRows, exact.seconds(), exact.patchedRows() / exact.seconds());
            System.out.printf(Locale.ROOT, "| exact sweep, all %d pairs (%s) | %.1f | 1x |%n", attributionPairs,
                    scale == 1 ? "measured" : "scaled from the measured pairs", exactAll);
        }
    }

    /** Mean rate of {@code num} over mean rate of {@code den}, printed and recorded when both ran. */
    private void ratio(List<Timed> runs, String num, String den) {
        double n = runs.stream().filter(t -> t.id.equals(num)).mapToDouble(Timed::rate).average().orElse(Double.NaN);
        double d = runs.stream().filter(t -> t.id.equals(den)).mapToDouble(Timed::rate).average().orElse(Double.NaN);
        if (Double.isNaN(n) || Double.isNaN(d)) return;
        System.out.printf(Locale.ROOT, "| speed-up (%s)/(%s), same run | %.2fx |%n", num, den, n / d);
        report.putObject("ratios").put(num + "/" + den, n / d);
    }

    private Timed timeJobs(String id, String what, List<HeadPatching.Job> jobs, int rows, RecomputePath path) {
        Path tmp;
        try {
            tmp = Files.createTempDirectory("milab-bench");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        resetPeakRss();
        try (LabModel m = LabModel.open(root.root(), model, Device.CPU, threads, rows, Math.max(rows, 1) * 16)) {
            m.localEngine().setRecomputePath(path);
            RunContext ctx = new RunContext(tmp, RunConfig.reference(model, "bench"), m);
            warmUp(ctx, jobs);
            Map<String, Long> before = m.engine().counters();
            long t0 = System.nanoTime();
            HeadPatching.run(ctx, jobs, "bench " + id);
            double secs = (System.nanoTime() - t0) / 1e9;
            Map<String, Long> k = since(m.engine().counters(), before);
            return new Timed(id, what, jobs.size(), secs, k.get("useful_flops"), k.get("executed_flops"), peakRss(), k);
        }
    }

    /**
     * Interventions/s of the engine against the number of heads patched, prompt length and rows per call, on
     * random-token prompts: every row zero-ablates one head at one position (final, or the middle), and each
     * entry includes its prompts' capture.
     */
    private void benchScaling() {
        System.out.println();
        System.out.println("| scaling (engine, minimal path) | heads | prompt tokens | rows per call | interventions | "
                + "interventions/s | useful GFLOP/s | of ceiling | peak RSS MB |");
        System.out.println("|---|---|---|---|---|---|---|---|---|");
        ArrayNode arr = report.putArray("scaling");
        for (int heads : new int[]{1, 12, 48, 144}) scalingEntry(arr, "heads", heads, 24, batchRows);
        for (int len : new int[]{12, 48, 96}) scalingEntry(arr, "prompt_tokens", 12, len, batchRows);
        for (int rows : new int[]{16, 64, 256}) scalingEntry(arr, "rows_per_call", 12, 24, rows);
    }

    private static final int SCALING_PROMPTS = 4;

    private void scalingEntry(ArrayNode arr, String axis, int heads, int length, int rowsPerCall) {
        resetPeakRss();
        try (LabModel m = LabModel.open(root.root(), model, Device.CPU, threads, rowsPerCall, rowsPerCall * 16)) {
            ModelConfig c = m.config();
            SplittableRandom rng = new SplittableRandom(length * 1000L + heads);
            List<TokenIds> prompts = new ArrayList<>();
            for (int i = 0; i < SCALING_PROMPTS; i++) prompts.add(new TokenIds(rng.ints(length, 0, c.vocabSize()).toArray()));
            int total = c.nLayer() * c.nHead();
            List<PatchRow> rows = new ArrayList<>();
            for (int i = 0; i < heads; i++) {
                int flat = (int) ((long) i * total / heads); // spread evenly over the layers
                int layer = flat / c.nHead(), head = flat % c.nHead();
                for (TokenIds p : prompts)
                    for (int pos : new int[]{length - 1, length / 2})
                        rows.add(new PatchRow(p, List.of(new SitePatch(layer, pos, head, new float[c.dHead()])), new int[]{1, 2}));
            }
            InterventionEngine e = m.localEngine();
            e.setRecomputePath(RecomputePath.MINIMAL);
            // one row per start layer first: opens the sessions (one-time cost, untimed)
            Map<Integer, PatchRow> warm = new LinkedHashMap<>();
            for (PatchRow r : rows) warm.putIfAbsent(r.overrides().get(0).layer(), r);
            e.patch(PatchSite.HOOK_Z, new ArrayList<>(warm.values()), "scaling warm-up",
                    e.capture(List.of(prompts.get(0)), e.suffixHooks(), "scaling warm-up"));
            Map<String, Long> before = e.counters();
            long t0 = System.nanoTime();
            Map<TokenIds, org.milab.engine.Capture> caps = e.capture(prompts, e.suffixHooks(), "scaling capture");
            e.patch(PatchSite.HOOK_Z, rows, "scaling " + axis, caps);
            double secs = (System.nanoTime() - t0) / 1e9;
            Map<String, Long> k = since(e.counters(), before);
            Timed t = new Timed(axis, axis, rows.size(), secs, k.get("useful_flops"), k.get("executed_flops"), peakRss(), k);
            System.out.printf(Locale.ROOT, "| %s | %d | %d | %d | %d | %.1f | %.1f | %.2f | %.0f |%n", axis, heads, length,
                    rowsPerCall, rows.size(), t.rate(), t.usefulGflops(), t.usefulGflops() / CEILING_GFLOPS, t.peakRssBytes / 1e6);
            ObjectNode n = t.json(ceilingNow);
            n.put("heads", heads);
            n.put("prompt_tokens", length);
            n.put("rows_per_call", rowsPerCall);
            arr.add(n);
        }
    }

    /**
     * ORT session options one at a time against the default, on the engine's held-out workload of the first
     * two candidates; the variants alternate over --tuning-rounds rounds, each round starting with the next
     * variant, so load drifts and position in the round hit them alike.
     */
    private void benchTuning() {
        List<HeadPatching.Job> jobs = HeldoutMatrix.jobs(10).stream().filter(j -> HeldoutMatrix.candidateIndex(j) < 2).toList();
        ModelSessions.Tuning d = ModelSessions.Tuning.DEFAULT;
        Map<String, ModelSessions.Tuning> variants = new LinkedHashMap<>();
        variants.put("default", d);
        variants.put("no_prepack", new ModelSessions.Tuning(d.optLevel(), false, d.spin(), d.arena()));
        variants.put("no_spin", new ModelSessions.Tuning(d.optLevel(), d.prepack(), false, d.arena()));
        variants.put("no_arena", new ModelSessions.Tuning(d.optLevel(), d.prepack(), d.spin(), false));
        variants.put("opt_extended", new ModelSessions.Tuning(OrtSession.SessionOptions.OptLevel.EXTENDED_OPT, d.prepack(), d.spin(), d.arena()));
        variants.put("opt_basic", new ModelSessions.Tuning(OrtSession.SessionOptions.OptLevel.BASIC_OPT, d.prepack(), d.spin(), d.arena()));
        Map<String, List<Double>> secs = new LinkedHashMap<>();
        Map<String, Long> rss = new LinkedHashMap<>();
        Path tmp;
        try {
            tmp = Files.createTempDirectory("milab-bench");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        List<Map.Entry<String, ModelSessions.Tuning>> order = new ArrayList<>(variants.entrySet());
        for (int round = 0; round < tuningRounds; round++, java.util.Collections.rotate(order, -1)) // each round starts elsewhere
            for (Map.Entry<String, ModelSessions.Tuning> v : order) {
                resetPeakRss();
                try (LabModel m = LabModel.open(root.root(), model, Device.CPU, threads, batchRows, batchRows * 16)) {
                    m.sessions().tune(v.getValue());
                    RunContext ctx = new RunContext(tmp, RunConfig.reference(model, "bench"), m);
                    warmUp(ctx, jobs);
                    long t0 = System.nanoTime();
                    HeadPatching.run(ctx, jobs, "tuning " + v.getKey());
                    secs.computeIfAbsent(v.getKey(), k -> new ArrayList<>()).add((System.nanoTime() - t0) / 1e9);
                    rss.merge(v.getKey(), peakRss(), Math::max);
                }
            }
        System.out.println();
        System.out.println("| ORT session option (engine, 2 candidates, " + tuningRounds + " alternating rounds) | median s | vs default | peak RSS MB |");
        System.out.println("|---|---|---|---|");
        double base = median(secs.get("default"));
        ArrayNode arr = report.putArray("ort_tuning");
        for (Map.Entry<String, List<Double>> e : secs.entrySet()) {
            double med = median(e.getValue());
            System.out.printf(Locale.ROOT, "| %s (%s) | %.1f | %.2fx speed | %.0f |%n", e.getKey(), variants.get(e.getKey()).describe(),
                    med, base / med, rss.get(e.getKey()) / 1e6);
            ObjectNode n = arr.addObject();
            n.put("variant", e.getKey());
            n.put("options", variants.get(e.getKey()).describe());
            n.set("seconds", JSON.valueToTree(e.getValue()));
            n.put("speed_vs_default", base / med);
            n.put("peak_rss_mb", rss.get(e.getKey()) / 1e6);
        }
    }

    /**
     * Where the time goes, by ORT operator type (ORT's own per-node profiler): for the capture forward at
     * batch x tokens, and for the engine on the held-out matrix's first two candidates. MatMul-class kernels'
     * share of the time and their own GFLOP/s (analytic MatMul FLOPs over MatMul kernel time) locate the
     * limit: kernels below the ceiling, or time outside the kernels that do the FLOPs.
     */
    private void benchProfile() {
        Path dir;
        try {
            dir = Files.createTempDirectory("milab-profile");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        ObjectNode node = report.putObject("profile");
        try (LabModel m = LabModel.open(root.root(), model, Device.CPU, threads, batchRows, batchRows * 16)) {
            ModelConfig c = m.config();
            SplittableRandom rng = new SplittableRandom(0);
            List<int[]> prompts = new ArrayList<>();
            for (int r = 0; r < batch; r++) prompts.add(rng.ints(tokens, 0, c.vocabSize()).toArray());
            TokenBatch b = TokenBatch.of(prompts);
            try {
                timeCapture(m, b, 1); // warm-up outside the profile
                m.sessions().profileInto(dir.resolve("capture"));
                Files.createDirectories(dir.resolve("capture"));
                timeCapture(m, b, 3);
            } catch (OrtException | IOException e) {
                throw new IllegalStateException("profiled capture failed: " + e.getMessage(), e);
            }
            breakdown(node, "capture forward " + batch + " x " + tokens + " (3 calls)", m.sessions().endProfiling(),
                    3 * forwardFlops(c, batch, tokens));
        }
        try (LabModel m = LabModel.open(root.root(), model, Device.CPU, threads, batchRows, batchRows * 16)) {
            List<HeadPatching.Job> jobs = HeldoutMatrix.jobs(10).stream().filter(j -> HeldoutMatrix.candidateIndex(j) < 2).toList();
            Path sub = dir.resolve("engine");
            try {
                Files.createDirectories(sub);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            m.sessions().profileInto(sub);
            HeadPatching.run(new RunContext(dir, RunConfig.reference(model, "bench"), m), jobs, "profile engine");
            breakdown(node, "engine, held-out candidates 0-1 (captures included)", m.sessions().endProfiling(),
                    m.engine().counters().get("executed_flops"));
        }
    }

    /** Sums ORT profile kernel times by operator type; prints and records the table. */
    private void breakdown(ObjectNode into, String what, List<Path> files, double matmulFlops) {
        Map<String, Double> micros = new java.util.TreeMap<>();
        for (Path f : files) {
            try {
                for (com.fasterxml.jackson.databind.JsonNode e : JSON.readTree(f.toFile())) {
                    if (!e.path("name").asText().endsWith("_kernel_time")) continue;
                    String op = e.path("args").path("op_name").asText("?");
                    // MatMul against a 2-D weight is a projection; 4-D by 4-D is attention (QK^T, PV)
                    com.fasterxml.jackson.databind.JsonNode shapes = e.path("args").path("input_type_shape");
                    // (a pre-packed weight is not listed among the inputs)
                    if (op.equals("MatMul"))
                        op += shapes.size() == 2 && shapes.get(1).path("float").size() == 4 ? " (attention)" : " (weights)";
                    micros.merge(op, e.path("dur").asDouble(), Double::sum);
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        double total = micros.values().stream().mapToDouble(Double::doubleValue).sum();
        // the analytic FLOPs are (almost all) projection and unembedding work: weights MatMuls and Gemm
        double mm = micros.entrySet().stream().filter(e -> e.getKey().equals("MatMul (weights)") || e.getKey().equals("Gemm"))
                .mapToDouble(Map.Entry::getValue).sum();
        System.out.println();
        System.out.printf(Locale.ROOT, "| ORT kernel time by operator: %s | ms | share |%n", what);
        System.out.println("|---|---|---|");
        ObjectNode n = into.putObject(what);
        micros.entrySet().stream().sorted((x, y) -> Double.compare(y.getValue(), x.getValue())).forEach(e -> {
            System.out.printf(Locale.ROOT, "| %s | %.0f | %.3f |%n", e.getKey(), e.getValue() / 1e3, e.getValue() / total);
            n.put(e.getKey() + "_ms", e.getValue() / 1e3);
        });
        double mmGflops = matmulFlops / (mm / 1e6) / 1e9;
        System.out.printf(Locale.ROOT, "| weight MatMul + Gemm kernels: share of kernel time; their GFLOP/s; of ceiling | %.3f | %.1f GFLOP/s, %.2f |%n",
                mm / total, mmGflops, mmGflops / CEILING_GFLOPS);
        n.put("matmul_share_of_kernel_time", mm / total);
        n.put("matmul_kernel_gflops", mmGflops);
        n.put("matmul_kernel_fraction_of_ceiling", mmGflops / CEILING_GFLOPS);
        n.put("kernel_ms_total", total / 1e3);
    }

    /**
     * The MatMul ceiling measured now, in this process, with these session options: [64,768]x[768,3072]
     * (the shape of shared/spec/stack-notes.md's 380 GFLOP/s), median of 10 timings of 20 calls each. On a
     * shared machine it says how much of the CPU this run got, so fractions can be read against it too. The
     * same product with M = 768 rows (the capture forward's 32 x 24 tokens) is measured beside it: how fast
     * MatMul runs at the shapes the forward passes actually multiply. Returns the faster of the two: the
     * small product's rate swings with thread scheduling (46-107 GFLOP/s in one quiet run), the large one's
     * hardly at all.
     */
    private double measureCeiling(String when) {
        try (LabModel lab = LabModel.open(root.root(), model, Device.CPU, threads)) {
            return Math.max(matMulRate(lab, when, 64), matMulRate(lab, when, 768));
        }
    }

    private double matMulRate(LabModel lab, String when, int m) {
        int k = 768, n = 3072;
        List<Double> rates = new ArrayList<>();
        try (OrtSession s = lab.sessions().probe(org.milab.graph.MatMulProbe.model(m, k, n));
             Feeds f = new Feeds(lab.sessions().env()).floats(org.milab.graph.MatMulProbe.INPUT, new float[m * k], m, k)) {
            int calls = Math.max(2, 20 * 64 / m);
            for (int rep = 0; rep < 11; rep++) {
                long t0 = System.nanoTime();
                for (int i = 0; i < calls; i++) f.run(s, Set.of(org.milab.graph.MatMulProbe.OUTPUT));
                double secs = (System.nanoTime() - t0) / 1e9;
                if (rep > 0) rates.add(calls * 2.0 * m * k * n / secs / 1e9); // the first round warms up
            }
        } catch (OrtException e) {
            throw new IllegalStateException("MatMul probe failed: " + e.getMessage(), e);
        }
        double med = median(rates);
        System.out.printf(Locale.ROOT, "| MatMul ceiling measured %s ([%d,768]x[768,3072]) | %.1f GFLOP/s (%.2f of %.0f) |%n",
                when, m, med, med / CEILING_GFLOPS, CEILING_GFLOPS);
        String key = "ceiling_measured_" + when + (m == 64 ? "" : "_m" + m);
        report.putObject(key).put("rows", m).put("gflops", med).put("fraction_of_nominal", med / CEILING_GFLOPS);
        return med;
    }

    /** One job per candidate and position: opens every session a pass uses (a one-time cost, kept out of timings). */
    private static void warmUp(RunContext ctx, List<HeadPatching.Job> jobs) {
        Map<List<Object>, HeadPatching.Job> warm = new LinkedHashMap<>();
        for (HeadPatching.Job j : jobs) warm.putIfAbsent(List.of(j.candidateId(), j.position()), j);
        HeadPatching.run(ctx, new ArrayList<>(warm.values()), "warm-up");
    }

    /** Counter increments since {@code before}. */
    private static Map<String, Long> since(Map<String, Long> now, Map<String, Long> before) {
        Map<String, Long> d = new LinkedHashMap<>();
        now.forEach((k, v) -> d.put(k, v - before.getOrDefault(k, 0L)));
        return d;
    }

    private static double median(List<Double> xs) {
        List<Double> s = new ArrayList<>(xs);
        s.sort(Double::compare);
        return s.get(s.size() / 2);
    }

    private static double timeCapture(LabModel m, TokenBatch b, int n) throws OrtException {
        long t0 = System.nanoTime();
        for (int i = 0; i < n; i++)
            try (Feeds f = new Feeds(m.sessions().env()).batch(b)) {
                f.run(m.sessions().session(GraphVariant.CAPTURE), Set.of(HookNames.LOGITS_FINAL));
            }
        return (System.nanoTime() - t0) / 1e9;
    }

    /**
     * Multiply-adds x 2 of one forward pass: per token and layer the four projections (3d^2 + d^2 + 8d^2
     * MACs for the default 4d MLP; n_inner generally) and attention over the full padded width (ORT
     * computes the whole score matrix), plus the final-position unembedding per row.
     */
    static double forwardFlops(ModelConfig c, int rows, int width) {
        double d = c.dModel(), f = c.dMlp();
        double perTokenLayer = 2 * (4 * d * d + 2 * d * f) + 4.0 * width * d;
        return rows * (width * c.nLayer() * perTokenLayer + 2 * d * c.vocabSize());
    }

    // ---- process memory: peak RSS per phase (Linux /proc; elsewhere 0) ----

    /** Lets the JVM return freed heap, then restarts the kernel's peak-RSS mark from the current RSS. */
    private static void resetPeakRss() {
        System.gc();
        try {
            Files.writeString(Path.of("/proc/self/clear_refs"), "5");
        } catch (IOException | UnsupportedOperationException | SecurityException e) {
            // not Linux, or not allowed: peaks then cover the whole process lifetime (the JSON says so)
        }
    }

    private static long peakRss() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status")))
                if (line.startsWith("VmHWM:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        } catch (IOException | NumberFormatException e) {
            return 0;
        }
        return 0;
    }

    private static String loadAverage() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).trim();
        } catch (IOException e) {
            return "unknown";
        }
    }
}
