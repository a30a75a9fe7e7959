package org.milab.protocol.v2;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import org.milab.graph.Head;
import org.milab.tokenizer.Tokenizer;
import org.milab.util.UserError;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.milab.util.Json;

/**
 * Everything protocol v2 decides with, written to {@code v2/protocol.json} and hashed before any scoring:
 * seeds, counts, families, token pools (as this model's tokenizer kept them), the head universe (every head
 * of every layer), interventions, thresholds and decision rules. The verdict stage reads its thresholds back
 * from this file, so the registered file is the only source of the rules.
 */
public record V2Protocol(String schema, String modelId, List<Integer> seeds, int promptsPerFamily,
                         int probesPerLength, List<Integer> probeLengths, String probePool, String copyPool,
                         List<FamilySpec> families, List<TokenPool> pools, List<String> headUniverse,
                         String metric, Map<String, String> interventions, Thresholds thresholds,
                         List<String> decisionRules, NaturalText naturalText, Sequential sequential) {
    public static final String SCHEMA = "milab.protocol_v2/2";

    /**
     * Declared numbers. Attention margins are in attention probability (excess over the non-repeating
     * control), effect fractions are of the clean - corrupt logit-difference gap.
     *
     * @param attentionMargin       a role needs its attention excess's CI low above this
     * @param copyMargin            copying needs the top-k copy fraction's CI low above chance (k / pool size) + this
     * @param minEffectFraction     a causal effect counts when its mean exceeds this fraction of the gap in
     *                              either direction (one-sided t-tests); negligible when every CI lies inside +-it
     * @param alpha                 error level of the correction over every causal test
     * @param correction            the multiple-testing correction the verdicts apply ({@link Verdicts#CORRECTIONS})
     * @param floatTolerance        |per-prompt delta| below this (logits) is set to 0 before any statistic
     * @param bootstrapResamples    percentile bootstrap resamples over prompts (single-threaded, seeded)
     * @param bootstrapSeed         seed of every bootstrap (mixed with what is resampled)
     * @param confidence            two-sided CI level
     * @param stableSeedFraction    a pooled confirmation stands only when more than this fraction of seeds confirm it
     * @param copyTopK              k of the copy score (Wang et al.'s IOI copy score: the source token among the k
     *                              largest logits of its OV row; anti-copying: among the k smallest)
     */
    public record Thresholds(double attentionMargin, double copyMargin, double minEffectFraction, double alpha,
                             String correction, double floatTolerance, int bootstrapResamples, long bootstrapSeed,
                             double confidence, double stableSeedFraction, int copyTopK) {
        public Thresholds {
            // a protocol.json written before copy_top_k was registered reads as 0: its rules are not these
            if (copyTopK < 1) throw new UserError("thresholds.copy_top_k is " + copyTopK + " (must be >= 1; a protocol.json "
                    + "written before the top-k copy score has none).", "Re-run the v2 protocol step (make run-v2 with a new RUN_ID).");
        }

        /** The same thresholds with intervals at two-sided level {@code level}. */
        public Thresholds withConfidence(double level) {
            return new Thresholds(attentionMargin, copyMargin, minEffectFraction, alpha, correction, floatTolerance,
                    bootstrapResamples, bootstrapSeed, level, stableSeedFraction, copyTopK);
        }

        /** The same thresholds with {@code resamples} bootstrap resamples. */
        public Thresholds withBootstrapResamples(int resamples) {
            return new Thresholds(attentionMargin, copyMargin, minEffectFraction, alpha, correction, floatTolerance,
                    resamples, bootstrapSeed, confidence, stableSeedFraction, copyTopK);
        }
    }

    /** The CLI-tunable part; everything else is fixed by the protocol. */
    public record Counts(List<Integer> seeds, int promptsPerFamily, int probesPerLength, int bootstrapResamples,
                         boolean sequential) {
        /** With the registered sequential design on (the default). */
        public Counts(List<Integer> seeds, int promptsPerFamily, int probesPerLength, int bootstrapResamples) {
            this(seeds, promptsPerFamily, probesPerLength, bootstrapResamples, true);
        }

        public Counts {
            seeds = List.copyOf(seeds);
            if (seeds.isEmpty()) throw new UserError("Protocol v2 needs at least one seed.", "Pass e.g. --seeds 1,2,3.");
            if (promptsPerFamily < 4 || probesPerLength < 2)
                throw new UserError("Protocol v2 needs >= 4 prompts per family and >= 2 probes per length (got "
                        + promptsPerFamily + ", " + probesPerLength + ").", "Raise --v2-prompts / --v2-probes.");
            if (bootstrapResamples < 1000)
                throw new UserError("Bootstrap resamples " + bootstrapResamples + " < 1000.", "Use at least 1000 resamples.");
        }

        /** Full counts (make run-v2). */
        public static Counts full() {
            return new Counts(List.of(1, 2, 3), 16, 16, 2000);
        }
    }

    /** Declared candidate words (from the reference prompt generators' pools); the tokenizer decides which stay. */
    public static final List<String> SYMBOLS = List.of("A B C D E F G H I J K L M N O P Q R S T U V W X Y Z".split(" "));
    public static final List<String> WORDS = List.of(("red blue green yellow black white gray cat dog bird fish horse "
            + "cow mouse lion tiger bear wolf north south east west center left right up down spring summer autumn "
            + "winter dawn night iron copper silver gold circle square triangle star line point Monday Tuesday "
            + "Wednesday Paris London Rome apple banana cherry alpha beta gamma delta omega lambda").split(" "));
    public static final List<String> NUMBERS = List.of(("zero one two three four five six seven eight nine ten eleven "
            + "twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty").split(" "));

    public static final String ALL_POOL = "all";
    /**
     * The attention probes' pool: every token of the vocabulary except the declared special ones (BOS, the unknown
     * token); repeated random tokens are drawn from it, as Olsson et al.'s probe does. The OV copying scores stay on
     * {@link #ALL_POOL} (a pool x pool OV circuit over a 50k vocabulary is out of reach).
     */
    public static final String VOCABULARY_POOL = "vocabulary";

    public static final List<FamilySpec> FAMILIES = List.of(
            new FamilySpec("repeated_random", ALL_POOL, List.of(6, 10, 16)),
            new FamilySpec("words", "words", List.of(5, 8)),
            new FamilySpec("symbols", "symbols", List.of(5, 8)),
            new FamilySpec("numbers", "numbers", List.of(5, 8)),
            new FamilySpec("longer", ALL_POOL, List.of(24)));

    public static final List<Integer> PROBE_LENGTHS = List.of(6, 10, 16);

    /** copy_top_k = 5: Wang et al. (2022)'s copy score reads the top 5 logits (negative copy score: the bottom 5). */
    public static final Thresholds THRESHOLDS = new Thresholds(0.1, 0.1, 0.05, 0.05, "holm", 1e-4, 2000, 20260,
            0.95, 0.5, 5);

    public static final Map<String, String> INTERVENTIONS = declaredInterventions();

    public static final List<String> RULES = List.of(
            "role: among induction (attention to the token after the earlier occurrence of the current token), "
                    + "duplicate_token (to the earlier occurrence) and previous_token (to position i-1), the roles whose "
                    + "attention excess has CI low > attention_margin; the largest excess wins; none: other. Induction and "
                    + "duplicate-token excess = score on BOS+r+r minus the same score on the non-repeating control, over "
                    + "the second-half rows; previous-token excess = score minus uniform 1/#keys, on both probes, rows >= 2.",
            "probes: BOS + r + r with r distinct random tokens of the probe pool (the whole vocabulary minus BOS and the "
                    + "unknown token) at every probe length, and a non-repeating control of the same length.",
            "copying: Wang et al.'s copy score: the fraction of copy pool tokens whose own logit is among the copy_top_k "
                    + "largest of their OV row, the source read through the effective embedding (token embedding + block 0's "
                    + "MLP, as in the IOI work; layer-0 heads: the raw embedding), with CI low > copy_top_k/|pool| + "
                    + "copy_margin; the top-1 fraction, the raw-embedding reading and eigenvalue positivity are reported only.",
            "anti-copying: the negative copy score: the fraction whose own logit is among the copy_top_k smallest of the "
                    + "row, with CI low > copy_top_k/|pool| + copy_margin, and not copying.",
            "role negative: induction or duplicate_token attention AND anti-copying (anti-induction / copy suppression).",
            "significant effect: per causal test two one-sided t-tests over prompts, (effect_i - min_effect_fraction * "
                    + "gap_i) > 0 (positive) and (-effect_i - min_effect_fraction * gap_i) > 0 (negative); every test of "
                    + "every head in both directions and every composition form one family, adjusted by "
                    + "thresholds.correction (holm, benjamini_hochberg or bonferroni); adjusted p < alpha.",
            "necessity: mean AND resample ablation both significant, or the leave-one-out marginal of its role group; "
                    + "negative necessity: the same with the negative tests.",
            "sufficiency: denoising significant (negative sufficiency: significantly negative).",
            "specific (in the role's direction s = +1, negative role -1): the control effect exists AND (s x control "
                    + "effect / gap has CI high < min_effect_fraction, OR s x (mean-ablation effect - control effect) / "
                    + "gap, paired over prompts, has CI low > 0). An undefined control leaves specificity unshown.",
            "negligible: the gap's CI excludes 0 and every causal effect (mean/resample ablation, denoising, "
                    + "leave-one-out marginal) AND every path effect into a receiver's keys (composition) has its CI of "
                    + "effect/gap inside (-min_effect_fraction, +min_effect_fraction), and no test or path significant "
                    + "in either direction.",
            "confirmed induction: role induction AND copying AND (necessity OR sufficiency) AND specific (+1); "
                    + "named backup_induction when its single-head ablations are not both significant and its "
                    + "leave-one-out marginal is.",
            "confirmed negative: role negative AND (negative necessity OR negative sufficiency) AND specific (-1).",
            "confirmed previous_token: role previous_token AND a significant composition (path patch into the keys "
                    + "only, itself a necessity test of the path) into a confirmed induction or negative head; its "
                    + "total effect may be repaired downstream.",
            "rejected: negligible (whatever the role), and only then; a significantly negative head is never negligible.",
            "inconclusive: everything else (CI straddles; causally important or significantly negative but no "
                    + "tested role fits; specificity not shown).",
            "stability: a pooled confirmation that holds in no more than stable_seed_fraction of the seeds is "
                    + "inconclusive (unstable).",
            "natural_text (reported only): spans of the registered corpus under this model's tokenizer, repeated, with "
                    + "corrupt twins by the random families' rule; scored like every family, never read by the pooled or "
                    + "per-seed verdicts; a confirmed head whose natural-text effect (mean ablation, in its role's direction) "
                    + "has CI high < min_effect_fraction is flagged natural_text_unsupported; skipped, with the reason, when "
                    + "the tokenizer cannot encode the corpus.",
            "never used: head indices, layer positions, ground truth.");

    private static Map<String, String> declaredInterventions() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("mean_ablation", "clean run; the head's hook_z at every position >= 1 replaced by its mean over every "
                + "position >= 1 of the same seed's and family's corrupt prompts (the reference distribution)");
        m.put("resample_ablation", "clean run; hook_z at every position >= 1 from the pair's donor prompt (an "
                + "independent sequence, same n and k, same length)");
        m.put("denoising", "corrupt run; hook_z at every position >= 1 from the clean run");
        m.put("control_ablation", "control run (the corrupt prompt scored answer vs control_alt); mean ablation as above");
        m.put("group_ablation", "clean run; every head of a role group mean-ablated together, and each leave-one-out subset");
        m.put("composition", "clean run; only the receiver's hook_k is overridden, recomputed with the sender's hook_z "
                + "replaced by its mean-ablation value on the path into the receiver's keys (KeyPathPatch): attention heads "
                + "in between frozen, the MLPs from the sender's layer to the receiver's recomputed on the changed residual "
                + "(Wang et al.'s path patching)");
        m.put("composition_q_v", "as composition, with the sender's mean-ablated output routed only into the receiver's "
                + "queries (kind q) or values (kind v): its keys and the other input stay clean, so its hook_z is recomputed on "
                + "the host (softmax(q' k / sqrt(d_head)) v, resp. A v') and patched; reported beside K, never read by the verdicts");
        m.put("last_layer_shortcut", "heads of the last layer are patched at the final position only: their "
                + "outputs elsewhere reach no later component, so this is the same intervention");
        m.put("bos_position", "position 0 (BOS) is never patched: its activations are the same in every prompt");
        return m;
    }

    /** The protocol for this model: pools filtered by its tokenizer, every head of every layer. */
    public static V2Protocol build(String modelId, Counts counts, Tokenizer tok, int nLayer, int nHead) {
        TokenPool symbols = TokenPool.build("symbols", SYMBOLS, tok), words = TokenPool.build("words", WORDS, tok),
                numbers = TokenPool.build("numbers", NUMBERS, tok);
        List<TokenPool> pools = List.of(TokenPool.union(ALL_POOL, List.of(symbols, words, numbers)), words, symbols, numbers,
                TokenPool.vocabulary(VOCABULARY_POOL, tok));
        List<String> heads = new ArrayList<>();
        for (int l = 0; l < nLayer; l++) for (int h = 0; h < nHead; h++) heads.add(new Head(l, h).label());
        Thresholds th = THRESHOLDS.withBootstrapResamples(counts.bootstrapResamples());
        return new V2Protocol(SCHEMA, modelId, counts.seeds(), counts.promptsPerFamily(), counts.probesPerLength(),
                PROBE_LENGTHS, VOCABULARY_POOL, ALL_POOL, FAMILIES, pools, heads,
                "LD = L[answer] - L[wrong] at the final position, raw (centred) logits; control: L[answer] - L[control_alt]",
                INTERVENTIONS, th, RULES, NaturalText.plan(tok), Sequential.declared(counts.sequential()));
    }

    /** The sequential design; a protocol.json written before it was registered has none: every head gets every pair. */
    public Sequential design() {
        return sequential == null ? Sequential.declared(false) : sequential;
    }

    public TokenPool pool(String name) {
        return pools.stream().filter(p -> p.name().equals(name)).findFirst()
                .orElseThrow(() -> new IllegalStateException("protocol has no pool " + name));
    }

    private static final ObjectMapper JSON = Json.MAPPER.copy()
            .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE);

    public String toJson() {
        try {
            return JSON.writeValueAsString(this) + "\n";
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static V2Protocol fromJson(String json) {
        try {
            return JSON.readValue(json, V2Protocol.class);
        } catch (IOException e) {
            throw new UserError("protocol.json is not a v2 protocol: " + e.getMessage(),
                    "Re-run the v2 protocol step (make run-v2 with a new RUN_ID).", e);
        }
    }
}
