package org.milab.protocol.reference;

import org.milab.engine.Capture;
import org.milab.stage.StageContext;
import org.milab.stats.Scores;
import org.milab.stats.Stats;

import ai.onnxruntime.OrtException;
import org.milab.graph.GraphVariant;
import org.milab.graph.HookNames;
import org.milab.model.ModelConfig;
import org.milab.prompts.PromptRecord;
import org.milab.runtime.Feeds;
import org.milab.runtime.ModelSessions;
import org.milab.tables.RecordSchema;
import org.milab.tables.Table;
import org.milab.tables.TableBuilder;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * S5 logit lens: for each record and each auto_even_6 layer, ln_f + unembedding of the pre-ln_f residual
 * after that block at the prompt's final position, scored for {@code expected_next_token} (plus the argmax
 * token). Descriptive only. Writes logit_lens_by_layer, logit_lens_by_family and logit_lens_summary.json.
 */
public final class LogitLensStage {
    public static final String BY_LAYER = "logit_lens_by_layer";
    public static final String BY_FAMILY = "logit_lens_by_family";
    public static final String SUMMARY = "logit_lens_summary.json";
    /** Residual rows per unembed call: 64 x 50257 floats is 13 MB of logits. */
    static final int UNEMBED_ROWS = 64;

    /** Hooks the clean captures of the prompt set must include: resid_post of the lens layers. */
    public static Set<String> hooksNeeded(ModelConfig cfg) {
        Set<String> hooks = new LinkedHashSet<>();
        for (int l : Layers.autoEven6(cfg.nLayer())) hooks.add(HookNames.hookResidPost(l));
        return hooks;
    }

    public void run(StageContext ctx, PromptSet set) {
        long t0 = System.nanoTime();
        List<Integer> layers = Layers.autoEven6(ctx.model().config().nLayer());
        List<PromptRecord> rowRecord = new ArrayList<>();
        List<Integer> rowLayer = new ArrayList<>();
        List<float[]> resid = new ArrayList<>();
        for (PromptRecord r : set.records()) {
            Capture c = set.capture(ctx.tokens(r.prompt()));
            for (int l : layers) {
                rowRecord.add(r);
                rowLayer.add(l);
                resid.add(c.vector(HookNames.hookResidPost(l), c.prompt().length() - 1));
            }
        }
        List<LayerRow> rows = new ArrayList<>();
        for (int from = 0; from < resid.size(); from += UNEMBED_ROWS) {
            int to = Math.min(resid.size(), from + UNEMBED_ROWS);
            float[][] logits = unembed(ctx.model().sessions(), resid.subList(from, to));
            for (int i = from; i < to; i++) {
                PromptRecord r = rowRecord.get(i);
                float[] l = logits[i - from];
                int t = ctx.singleToken(r.expectedNextToken(), r.exampleId() + " expected_next_token");
                int top = Scores.argmax(l);
                rows.add(new LayerRow(r.exampleId(), r.family(), r.controlFamily(), r.shouldShowInductionBehavior(),
                        rowLayer.get(i), r.expectedNextToken(), t, Scores.logit(l, t), Scores.probability(l, t),
                        Scores.rank(l, t), ctx.model().tokenizer().tokenText(top), top));
            }
        }
        Table byLayer = ctx.write(set.dataset(), set.seed(), RecordSchema.of(LayerRow.class).builder(BY_LAYER, rows, "example_id", "layer"));
        Table byFamily = ctx.write(set.dataset(), set.seed(), byFamily(byLayer));
        Map<String, Object> summary = new LinkedHashMap<>();
        summary.put("model", ctx.model().id());
        summary.put("n_examples", set.records().size());
        summary.put("layers", layers);
        List<Map<String, Object>> perLayer = byLayerSummary(byLayer);
        summary.put("best_layer_by_mean_probability", bestLayer(perLayer));
        summary.put("by_layer", perLayer);
        summary.put("by_family", byFamily.rows().stream().map(Table.Row::toMap).toList());
        summary.putAll(controlSummary(byFamily));
        summary.put("interpretation_note", "Logit lens is descriptive and is not causal mechanism evidence.");
        ctx.writeJson(set.dataset(), set.seed(), SUMMARY, summary);
        ctx.summarize(String.format(java.util.Locale.ROOT,
                "- logit lens %s seed %d: best layer by mean p(expected) %s; positive separates from controls: %s",
                set.dataset(), set.seed(), org.milab.stats.Num.text(summary.get("best_layer_by_mean_probability")),
                summary.get("positive_separates_from_controls_descriptively")));
        ctx.recordTiming(set.dataset() + "/seed" + set.seed() + "/logit_lens", (System.nanoTime() - t0) / 1e9);
    }

    /**
     * ln_f + unembedding of pre-ln_f residual vectors in one call of the unembed graph: centred logits
     * [rows][vocab], the TransformerLens frame of every other logit in the lab.
     */
    public static float[][] unembed(ModelSessions sessions, List<float[]> resid) {
        if (resid.isEmpty()) return new float[0][];
        int n = resid.size(), d = resid.get(0).length;
        float[] flat = new float[n * d];
        for (int i = 0; i < n; i++) {
            if (resid.get(i).length != d) throw new IllegalArgumentException("residual rows of unequal width");
            System.arraycopy(resid.get(i), 0, flat, i * d, d);
        }
        try (Feeds f = new Feeds(sessions.env()).floats(HookNames.UNEMBED_RESID, flat, n, d)) {
            Feeds.Output o = f.run(sessions.session(GraphVariant.UNEMBED), Set.of(HookNames.UNEMBED_LOGITS))
                    .get(HookNames.UNEMBED_LOGITS);
            int v = (int) o.shape()[1];
            float[][] out = new float[n][];
            for (int i = 0; i < n; i++) out[i] = java.util.Arrays.copyOfRange(o.data(), i * v, (i + 1) * v);
            return out;
        } catch (OrtException e) {
            throw new IllegalStateException("unembed pass failed: " + e.getMessage(), e);
        }
    }

    /** One (prompt, lens layer) of logit_lens_by_layer. */
    record LayerRow(String exampleId, String family, String controlFamily, boolean shouldShowInductionBehavior,
                    int layer, String expectedToken, int expectedTokenId, double expectedLogit, double expectedProbability,
                    int expectedRank, String topToken, int topTokenId) {}

    /** One (family, layer) of logit_lens_by_family. */
    record FamilyRow(String family, long layer, long nExamples, double meanExpectedLogit, double meanExpectedProbability,
                     double medianExpectedRank, boolean shouldShowInductionBehavior) {}

    /** groupby(family, layer), sorted by family then layer, as the reference's logit_lens_by_family. */
    static TableBuilder byFamily(Table byLayer) {
        List<FamilyRow> rows = new ArrayList<>();
        for (Map.Entry<List<Object>, Table> g : PandasRules.groupBySorted(byLayer, "family", "layer").entrySet()) {
            Table f = g.getValue();
            rows.add(new FamilyRow((String) g.getKey().get(0), (Long) g.getKey().get(1), PandasRules.nunique(f, "example_id"),
                    Stats.mean(f.doubles("expected_logit")), Stats.mean(f.doubles("expected_probability")),
                    Stats.median(f.longs("expected_rank")), f.bools("should_show_induction_behavior").get(0)));
        }
        return RecordSchema.of(FamilyRow.class).builder(BY_FAMILY, rows, "family", "layer");
    }

    /** The summary's by_layer list: per layer (ascending) mean logit, mean probability, median rank. */
    static List<Map<String, Object>> byLayerSummary(Table byLayer) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (Map.Entry<List<Object>, Table> g : PandasRules.groupBySorted(byLayer, "layer").entrySet()) {
            out.add(RecordSchema.treeMap(new LayerMean((Long) g.getKey().get(0), Stats.mean(g.getValue().doubles("expected_logit")),
                    Stats.mean(g.getValue().doubles("expected_probability")), Stats.median(g.getValue().longs("expected_rank")))));
        }
        return out;
    }

    /** One layer of the summary's by_layer list. */
    record LayerMean(long layer, double meanExpectedLogit, double meanExpectedProbability, double medianExpectedRank) {}

    /** The summary's best positive (family, layer). */
    record BestLayer(Long layer, String family, Double meanExpectedProbability) {}

    /** One control family's mean of its per-layer mean probabilities. */
    record FamilyMean(String family, double meanExpectedProbability) {}

    /** Layer with the highest mean probability (first layer on a tie), null when there are no rows. */
    static Object bestLayer(List<Map<String, Object>> byLayerSummary) {
        List<Map<String, Object>> sorted = PandasRules.sortDescending(byLayerSummary,
                m -> (Double) m.get("mean_expected_probability"));
        return sorted.isEmpty() ? null : sorted.get(0).get("layer");
    }

    /**
     * The reference's positive-vs-control reading of the family table: best positive (family, layer) by mean
     * probability; hardest control family = highest mean of its per-layer means; separates = best > hardest
     * (null unless both exist).
     */
    static Map<String, Object> controlSummary(Table byFamily) {
        Map<String, Object> best = null, hardest = null;
        List<Table.Row> positive = byFamily.filter(r -> r.getBool("should_show_induction_behavior")).rows();
        List<Table.Row> sortedPositive = PandasRules.sortDescending(positive, r -> r.getDouble("mean_expected_probability"));
        if (!sortedPositive.isEmpty()) {
            Table.Row r = sortedPositive.get(0);
            best = RecordSchema.treeMap(new BestLayer(r.getLong("layer"), r.getString("family"), r.getDouble("mean_expected_probability")));
        }
        Table controls = byFamily.filter(r -> !r.getBool("should_show_induction_behavior"));
        List<Map<String, Object>> controlMeans = new ArrayList<>();
        for (Map.Entry<List<Object>, Table> g : PandasRules.groupBySorted(controls, "family").entrySet()) {
            controlMeans.add(RecordSchema.treeMap(new FamilyMean((String) g.getKey().get(0),
                    Stats.mean(g.getValue().doubles("mean_expected_probability")))));
        }
        List<Map<String, Object>> sortedControls = PandasRules.sortDescending(controlMeans,
                m -> (Double) m.get("mean_expected_probability"));
        if (!sortedControls.isEmpty()) hardest = sortedControls.get(0);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("best_positive_layer", best);
        out.put("hardest_control_family_by_expected_probability", hardest);
        out.put("positive_separates_from_controls_descriptively", best == null || hardest == null ? null
                : (Double) best.get("mean_expected_probability") > (Double) hardest.get("mean_expected_probability"));
        return out;
    }
}
