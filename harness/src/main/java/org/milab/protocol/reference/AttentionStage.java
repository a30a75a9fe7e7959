package org.milab.protocol.reference;

import org.milab.engine.Capture;
import org.milab.stage.StageContext;
import org.milab.stats.Decisions;
import org.milab.stats.Stats;

import org.milab.graph.HookNames;
import org.milab.model.ModelConfig;
import org.milab.prompts.PromptRecord;
import org.milab.tables.RecordSchema;
import org.milab.tables.Table;
import org.milab.tables.TableBuilder;
import org.milab.util.UserError;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;

/**
 * S6 attention patterns: for each record, each auto_even_6 layer and each head, the attention row of the
 * final token, scored at the "previous occurrence" (the last token of the word at the record's hint: the
 * earlier copy of the final word, a duplicate-token score, spec section 10.5). Descriptive only.
 * Writes attention_patterns_by_head, attention_by_family and attention_summary.json.
 */
public final class AttentionStage {
    public static final String BY_HEAD = "attention_patterns_by_head";
    public static final String BY_FAMILY = "attention_by_family";
    public static final String SUMMARY = "attention_summary.json";
    public static final String POSITIVE_FAMILY = "positive_repeat_sequence";
    static final Set<String> TASKS = Set.of("induction", "induction_controls", "induction_heldout");
    /** The reference's summarize_attention_heads is called with its default top_k. */
    static final int OVERALL_TOP_K = 10;
    static final String SCORE = "attention_to_previous_occurrence";
    static final String MEAN = "mean_attention_to_previous_occurrence";
    static final String MEDIAN = "median_attention_to_previous_occurrence";

    /** Hooks the clean captures of the prompt set must include: hook_pattern of the attention layers. */
    public static Set<String> hooksNeeded(ModelConfig cfg) {
        Set<String> hooks = new LinkedHashSet<>();
        for (int l : Layers.autoEven6(cfg.nLayer())) hooks.add(HookNames.hookPattern(l));
        return hooks;
    }

    public void run(StageContext ctx, PromptSet set) {
        long t0 = System.nanoTime();
        List<Integer> layers = Layers.autoEven6(ctx.model().config().nLayer());
        int nHead = ctx.model().config().nHead();
        Function<String, int[]> encode = ctx.model().tokenizer()::encode;
        Function<Integer, String> decode = ctx.model().tokenizer()::tokenText;
        List<HeadRow> rows = new ArrayList<>();
        for (PromptRecord r : set.records()) {
            requireInductionMetadata(r);
            int[] tokens = ctx.tokens(r.prompt()).ids();
            List<int[]> spans = wordSpans(encode, tokens, r.promptTokensText(), r.exampleId());
            int target = spans.get(spans.size() - 1)[1];
            Integer previous = r.expectedSourcePositionHint() == null ? null : spans.get(r.expectedSourcePositionHint())[1];
            if (previous != null && previous >= target)
                throw new UserError("Prompt " + r.exampleId() + ": the previous occurrence (token " + previous
                        + ") is not before the target position (token " + target + ").",
                        "Fix the record's expected_source_position_hint (a word index before the final word).");
            Capture c = set.capture(ctx.tokens(r.prompt()));
            for (int layer : layers)
                for (int head = 0; head < nHead; head++) {
                    double[] row = new double[tokens.length];
                    for (int k = 0; k < row.length; k++) row[k] = c.pattern(layer, head, target, k);
                    int attended = argmax(row, target + 1);
                    rows.add(new HeadRow(r.exampleId(), r.family(), r.controlFamily(), r.shouldShowInductionBehavior(),
                            layer, head, tokens.length, r.expectedNextToken(), attended, decode.apply(tokens[attended]),
                            target, decode.apply(tokens[target]), previous, previous == null ? "" : decode.apply(tokens[previous]),
                            previous == null ? null : row[previous], row[0], entropy(row)));
                }
        }
        TableBuilder b = byHeadBuilder();
        rows.forEach(row -> HEAD_ROWS.add(b, row));
        Table byHead = ctx.write(set.dataset(), set.seed(), b);
        Table byFamily = ctx.write(set.dataset(), set.seed(), byFamily(byHead));
        Map<String, Object> summary = new LinkedHashMap<>();
        summary.put("model", ctx.model().id());
        summary.put("n_examples", set.records().size());
        summary.put("layers", layers);
        summary.put("n_rows", byHead.rowCount());
        summary.putAll(overallSummary(byHead));
        summary.putAll(controlSummary(byHead, ctx.config().topKHeads()));
        summary.put("interpretation_note",
                "High scores are induction-like attention pattern candidates, not identified induction heads.");
        summary.put("limitation", "Attention-pattern evidence is descriptive. It can suggest where to inspect, "
                + "but it is not causal evidence by itself.");
        ctx.writeJson(set.dataset(), set.seed(), SUMMARY, summary);
        ctx.summarize("- attention " + set.dataset() + " seed " + set.seed() + ": top positive heads "
                + headNames(summary.get("top_heads_on_positive_examples"), 5) + "; hardest control family "
                + org.milab.stats.Num.text(summary.get("hardest_control_family_by_attention")));
        ctx.recordTiming(set.dataset() + "/seed" + set.seed() + "/attention", (System.nanoTime() - t0) / 1e9);
    }

    /**
     * One (prompt, head) of attention_patterns_by_head: the head's attention from the final position, where it
     * looks most, and how much it gives the previous occurrence of the final word and BOS.
     */
    record HeadRow(String exampleId, String family, String controlFamily, boolean shouldShowInductionBehavior,
                   int layer, int head, int seqLen, String expectedNextToken, int attendedSourcePosition,
                   String attendedSourceToken, int targetPosition, String targetToken, Integer previousOccurrencePosition,
                   String previousOccurrenceToken, Double attentionToPreviousOccurrence, double attentionToBos,
                   double attentionEntropy) {}

    private static final RecordSchema<HeadRow> HEAD_ROWS = RecordSchema.of(HeadRow.class);

    /** One (family, head) of attention_by_family. */
    record FamilyRow(String family, long layer, long head, long nExamples, Double meanAttentionToPreviousOccurrence,
                     Double medianAttentionToPreviousOccurrence, double meanAttentionToBos, double meanAttentionEntropy) {}

    /** The attention_patterns_by_head schema ({@link HeadRow}), in the reference's column order. */
    static TableBuilder byHeadBuilder() {
        return HEAD_ROWS.builder(BY_HEAD, "example_id", "layer", "head");
    }

    static void requireInductionMetadata(PromptRecord r) {
        if (!TASKS.contains(r.task()))
            throw new UserError("Attention-pattern inspection expects induction records, but " + r.exampleId()
                    + " has task '" + r.task() + "'.", "Run the attention stage on the controls or held-out prompt sets.");
        if (r.promptTokensText().isEmpty())
            throw new UserError("Prompt " + r.exampleId() + " has no prompt_tokens_text.",
                    "Regenerate the prompts with the lab's generators.");
        Integer hint = r.expectedSourcePositionHint();
        if (hint != null && (hint < 0 || hint >= r.promptTokensText().size()))
            throw new UserError("Prompt " + r.exampleId() + " has expected_source_position_hint " + hint
                    + " outside its " + r.promptTokensText().size() + " words.", "Fix the hint (a 0-based word index).");
    }

    /**
     * Inclusive [first, last] model-token span of each prompt word: every word is encoded on its own (the
     * first without, later ones with a leading space); the concatenation must equal the model tokens, either
     * exactly or after a leading BOS, which shifts every span by one.
     */
    public static List<int[]> wordSpans(Function<String, int[]> encode, int[] modelTokens, List<String> words,
                                        String exampleId) {
        List<int[]> spans = new ArrayList<>();
        List<Integer> ids = new ArrayList<>();
        for (int i = 0; i < words.size(); i++) {
            int[] w = encode.apply(i == 0 ? words.get(i) : " " + words.get(i));
            if (w.length == 0)
                throw new UserError("Prompt " + exampleId + ": word '" + words.get(i) + "' encodes to no tokens.",
                        "Use prompt words the tokenizer can encode.");
            spans.add(new int[]{ids.size(), ids.size() + w.length - 1});
            for (int t : w) ids.add(t);
        }
        int[] concat = ids.stream().mapToInt(Integer::intValue).toArray();
        int offset;
        if (Arrays.equals(modelTokens, concat)) offset = 0;
        else if (modelTokens.length > 0 && Arrays.equals(Arrays.copyOfRange(modelTokens, 1, modelTokens.length), concat))
            offset = 1;
        else
            throw new UserError("Prompt " + exampleId + ": its prompt_tokens_text does not reconstruct the model "
                    + "tokenization (words encode to " + Arrays.toString(concat) + ", the prompt to "
                    + Arrays.toString(modelTokens) + ").", "Regenerate the prompts or use simpler one-token prompt words.");
        for (int[] s : spans) {
            s[0] += offset;
            s[1] += offset;
        }
        return spans;
    }

    /** First index of the maximum among {@code row[0..n)} (numpy argmax). */
    static int argmax(double[] row, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) if (row[i] > row[best]) best = i;
        return best;
    }

    /** -sum p log p over the nonzero entries of the row normalized to sum 1; 0 for an all-zero row. */
    static double entropy(double[] row) {
        double total = 0;
        for (double v : row) total += v;
        if (total <= 0) return 0.0;
        double h = 0;
        for (double v : row) {
            double p = v / total;
            if (p > 0) h -= p * Math.log(p);
        }
        return h;
    }

    /** groupby(family, layer, head), sorted, as the reference's attention_by_family. */
    static TableBuilder byFamily(Table byHead) {
        TableBuilder b = byFamilyBuilder();
        for (Map.Entry<List<Object>, Table> g : PandasRules.groupBySorted(byHead, "family", "layer", "head").entrySet()) {
            Table f = g.getValue();
            RecordSchema.of(FamilyRow.class).add(b, new FamilyRow((String) g.getKey().get(0), (Long) g.getKey().get(1),
                    (Long) g.getKey().get(2), PandasRules.nunique(f, "example_id"), Stats.orNull(Stats.mean(f.doubles(SCORE))),
                    Stats.orNull(Stats.median(f.doubles(SCORE))), Stats.mean(f.doubles("attention_to_bos")),
                    Stats.mean(f.doubles("attention_entropy"))));
        }
        return b;
    }

    /** The attention_by_family schema ({@link FamilyRow}), in the reference's column order. */
    static TableBuilder byFamilyBuilder() {
        return RecordSchema.of(FamilyRow.class).builder(BY_FAMILY, "family", "layer", "head");
    }

    /** Overall mean/median score and the top 10 heads over all rows (nulls skipped), full precision. */
    static Map<String, Object> overallSummary(Table byHead) {
        List<Map<String, Object>> heads = PandasRules.sortDescending(headRows(byHead), h -> (Double) h.get(MEAN));
        return RecordSchema.treeMap(new Overall(byHead.rowCount() == 0 ? null : Stats.mean(byHead.doubles(SCORE)),
                byHead.rowCount() == 0 ? null : Stats.median(byHead.doubles(SCORE)),
                heads.subList(0, Math.min(OVERALL_TOP_K, heads.size()))));
    }

    /** The summary's overall part ({@link #MEAN}, {@link #MEDIAN}, the top heads). */
    record Overall(Double meanAttentionToPreviousOccurrence, Double medianAttentionToPreviousOccurrence,
                   List<Map<String, Object>> topHeadsByPreviousOccurrenceAttention) {}

    /**
     * The positive-vs-control reading: rows without a score are dropped first (so no_repeat_control never
     * counts); top heads on positives and on controls by mean; the gap = positive mean minus the highest
     * control-family mean (0 when the head has no control rows); the control family with the highest mean.
     * Lists go through pandas' to_json rounding, as in the reference.
     */
    static Map<String, Object> controlSummary(Table byHead, int topK) {
        Table comparable = byHead.filter(r -> r.getDouble(SCORE) != null && !Double.isNaN(r.getDouble(SCORE)));
        Table positive = comparable.filter(r -> r.getBool("should_show_induction_behavior"));
        Table controls = comparable.filter(r -> !r.getBool("should_show_induction_behavior"));
        List<Map<String, Object>> positiveHeads = PandasRules.sortDescending(headRows(positive), h -> (Double) h.get(MEAN));
        List<Map<String, Object>> controlHeads = PandasRules.sortDescending(headRows(controls), h -> (Double) h.get(MEAN));
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("top_heads_on_positive_examples", records(positiveHeads, topK));
        out.put("top_heads_by_positive_minus_control_gap", records(gapRows(positive, controls), topK));
        out.put("hardest_control_family_by_attention", hardestControlFamily(controls));
        out.put("families_present", new ArrayList<>(new TreeSet<>(byHead.strings("family"))));
        out.put("top_heads_on_controls", records(controlHeads, topK));
        return out;
    }

    /** Per (layer, head), sorted: mean and median score, mean entropy, distinct examples. */
    static List<Map<String, Object>> headRows(Table rows) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (Map.Entry<List<Object>, Table> g : PandasRules.groupBySorted(rows, "layer", "head").entrySet()) {
            Table h = g.getValue();
            out.add(RecordSchema.treeMap(new HeadMean((Long) g.getKey().get(0), (Long) g.getKey().get(1),
                    Stats.mean(h.doubles(SCORE)), Stats.median(h.doubles(SCORE)), Stats.mean(h.doubles("attention_entropy")),
                    PandasRules.nunique(h, "example_id"))));
        }
        return out;
    }

    /** One head of the summary's head lists, before pandas' to_json rounding. */
    record HeadMean(long layer, long head, double meanAttentionToPreviousOccurrence,
                    double medianAttentionToPreviousOccurrence, double meanAttentionEntropy, long nExamples) {}

    /** A head of the summary's gap list, beside its strongest control family. */
    record GapRow(Long layer, Long head, Double positiveMeanAttentionToPreviousOccurrence,
                  Double positiveMedianAttentionToPreviousOccurrence, Double meanAttentionEntropy, Long positiveNExamples,
                  String maxControlFamily, Double maxControlMeanAttentionToPreviousOccurrence,
                  Double positiveMinusControlAttentionGap) {}

    /** {@link GapRow} when no head has control rows: the reference's columns come in this other order. */
    record GapRowWithoutControls(Long layer, Long head, Double positiveMeanAttentionToPreviousOccurrence,
                                 Double positiveMedianAttentionToPreviousOccurrence, Double meanAttentionEntropy,
                                 Long positiveNExamples, Double maxControlMeanAttentionToPreviousOccurrence,
                                 String maxControlFamily, Double positiveMinusControlAttentionGap) {}

    /** Positive head rows with the strongest control family of the same head, sorted by gap descending. */
    static List<Map<String, Object>> gapRows(Table positive, Table controls) {
        // (layer, head) -> [family, mean]: the highest family mean (idxmax), named by the first family
        // (alphabetically) within the decision tolerance of it, so float noise never renames the hardest family
        // while the reported maximum stays the exact one
        Map<List<Object>, Map<String, Double>> familyMeans = new LinkedHashMap<>();
        for (Map.Entry<List<Object>, Table> g : PandasRules.groupBySorted(controls, "layer", "head", "family").entrySet())
            familyMeans.computeIfAbsent(g.getKey().subList(0, 2), k -> new LinkedHashMap<>())
                    .put((String) g.getKey().get(2), Stats.mean(g.getValue().doubles(SCORE)));
        Map<List<Object>, Object[]> maxControl = new LinkedHashMap<>();
        familyMeans.forEach((head, means) -> {
            double max = means.values().stream().mapToDouble(Double::doubleValue).max().orElseThrow();
            String family = means.entrySet().stream().filter(e -> Decisions.atLeast(e.getValue(), max))
                    .findFirst().orElseThrow().getKey();
            maxControl.put(head, new Object[]{family, max});
        });
        List<Map<String, Object>> out = new ArrayList<>();
        for (Map<String, Object> h : headRows(positive)) {
            Long layer = (Long) h.get("layer"), head = (Long) h.get("head");
            Double mean = (Double) h.get(MEAN), median = (Double) h.get(MEDIAN), entropy = (Double) h.get("mean_attention_entropy");
            Long n = (Long) h.get("n_examples");
            if (maxControl.isEmpty()) // no control rows at all: the reference fills NaN and "" (in this order)
                out.add(RecordSchema.treeMap(new GapRowWithoutControls(layer, head, mean, median, entropy, n, null, "", mean)));
            else { // left merge: a head without control rows gets nulls
                Object[] c = maxControl.get(List.of(layer, head));
                Double max = c == null ? null : (Double) c[1];
                out.add(RecordSchema.treeMap(new GapRow(layer, head, mean, median, entropy, n, c == null ? null : (String) c[0],
                        max, mean - (max == null ? 0.0 : max))));
            }
        }
        return PandasRules.sortDescending(out, m -> (Double) m.get("positive_minus_control_attention_gap"));
    }

    /** One control family of the summary: its mean score ({@link #MEAN}) and distinct examples. */
    record FamilyMean(String family, double meanAttentionToPreviousOccurrence, long nExamples) {}

    /** The control family with the highest mean score, with its distinct example count; null without controls. */
    static Map<String, Object> hardestControlFamily(Table controls) {
        List<Map<String, Object>> families = new ArrayList<>();
        for (Map.Entry<List<Object>, Table> g : PandasRules.groupBySorted(controls, "family").entrySet()) {
            families.add(RecordSchema.treeMap(new FamilyMean((String) g.getKey().get(0), Stats.mean(g.getValue().doubles(SCORE)),
                    PandasRules.nunique(g.getValue(), "example_id"))));
        }
        List<Map<String, Object>> r = records(PandasRules.sortDescending(families, m -> (Double) m.get(MEAN)), 1);
        return r.isEmpty() ? null : r.get(0);
    }

    /** The first {@code k} rows as {@code json.loads(df.head(k).to_json(orient="records"))} gives them. */
    static List<Map<String, Object>> records(List<Map<String, Object>> rows, int k) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (Map<String, Object> row : rows.subList(0, Math.min(k, rows.size()))) {
            Map<String, Object> m = new LinkedHashMap<>();
            row.forEach((key, v) -> m.put(key, v instanceof Double d ? PandasRules.toJsonRounded(d) : v));
            out.add(m);
        }
        return out;
    }

    private static String headNames(Object heads, int n) {
        List<String> names = new ArrayList<>();
        if (heads instanceof List<?> list)
            for (Object o : list.subList(0, Math.min(n, list.size())))
                if (o instanceof Map<?, ?> m) names.add("L" + m.get("layer") + "H" + m.get("head"));
        return String.join(", ", names);
    }
}
