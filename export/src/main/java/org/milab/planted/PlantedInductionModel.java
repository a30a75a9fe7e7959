package org.milab.planted;

import org.milab.model.Gpt2Tensors;
import org.milab.model.InMemoryCheckpoint;
import org.milab.model.ModelConfig;
import org.milab.planted.GroundTruth.Constants;
import org.milab.planted.GroundTruth.HeadTruth;
import org.milab.planted.GroundTruth.Role;
import org.milab.planted.PlantedLayout.At;
import org.milab.tokenizer.WordLevelTokenizerJson;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.milab.model.Gpt2Tensors.*;

/**
 * Builds a GPT-2-architecture checkpoint whose induction circuit is written by hand, in the head layout a
 * {@link PlantedLayout} gives (2 to 4 layers; the default layout is the original two-layer model).
 *
 * <p>The residual stream (1536 = 8 heads x 192) holds four 192-wide subspaces (the rest stays empty): current-token one-hot {@link #TOK},
 * previous-token one-hot {@link #PREV}, output one-hot {@link #OUT} (read by the unembedding) and position
 * one-hot {@link #POS}. {@code wte}/{@code wpe} write {@link #EMBED} into the token/position subspaces, so
 * a residual always has k equal non-zero entries (2 entering a layer, 3 once the previous-token head has written
 * its subspace: {@link PlantedLayout#layerNormK}; 4 at the unembedding, with the answer). A LayerNorm with
 * weight 1 and bias sqrt(k/(d-k)) maps such a vector exactly to {@code x * lnGain(k) / EMBED}, so every
 * designed weight below can be O(1): the weight noise is then a small relative perturbation everywhere.
 *
 * <p>Heads (d_head 192; head dims [0, 128) index tokens, [128, 192) positions where needed): a previous-token
 * head, an induction head (the answer), optionally a backup induction head with a weaker OV (parallel, or reactive:
 * one layer later, copying only when the main head's output is absent), a duplicate-token
 * head with null output, a uniform frequency head, a BOS sink, and random noise heads everywhere else (enough
 * heads that the reference protocol's candidate and negative-control selection has material). The default
 * layout: L0H1 previous-token, L0H3 sink, L1H2 induction, L1H0 duplicate-token, L1H1 frequency. The layout is
 * the only source of the assignment; see {@link GroundTruth}.
 */
public final class PlantedInductionModel {
    private PlantedInductionModel() {}

    public static final String MODEL_ID = "planted-induction";

    public static final int N_HEAD = 8, D_HEAD = 192, D_MODEL = N_HEAD * D_HEAD, N_POSITIONS = 64;
    /** The MLPs are zero; a tiny hidden width keeps them from costing anything (Hugging Face's n_inner). */
    public static final int N_INNER = 4;
    /** Subspace offsets in the residual stream. */
    public static final int TOK = 0, PREV = 192, OUT = 384, POS = 576;
    /** Head dims below this index tokens; the duplicate-token head keeps positions in [128, 128 + 64). */
    static final int MAX_VOCAB = 128;

    /** Value of the one-hot entries written by wte and wpe (and by every designed head output). */
    public static final double EMBED = 64;
    /** Attention scores (after GPT-2's division by sqrt(d_head)) of a designed match; other keys score ~0. */
    public static final double PREVIOUS_TOKEN_SCORE = 30, SINK_SCORE = 20, MATCH_SCORE = 30, BOS_DEFAULT_SCORE = 15;
    /**
     * Value weight of the heads whose W_O is zero (duplicate-token, sink): z stays a readable one-hot but
     * small, because the weight noise on W_O turns any z into a random residual write.
     */
    public static final double NULL_VALUE_GAIN = 0.25;
    /** Total output mass of the frequency head in units of EMBED (the induction head writes 1). */
    public static final double FREQUENCY_GAIN = 0.3;
    /** Logit margin of a token written with one EMBED into the output subspace (residual with 4 entries). */
    public static final double LOGIT_GAP = 10;
    /** Random weight scales of the noise heads: sharp random patterns, tiny outputs. */
    public static final double NOISE_HEAD_QK_STD = 0.06, NOISE_HEAD_OV_STD = 0.005;

    private static final double SQRT_D_HEAD = Math.sqrt(D_HEAD);

    /**
     * Builds the model; the same spec always gives bit-identical weights. The noise heads draw from one
     * random stream in (layer, head) order and the weight noise from another, in tensor order, so the
     * default layout reproduces the original two-layer model exactly.
     */
    public static Planted build(PlantedSpec spec) {
        PlantedLayout layout = spec.layout();
        List<String> vocab = PlantedVocabulary.inIdOrder();
        int v = vocab.size();
        if (v > MAX_VOCAB) throw new IllegalStateException("planted vocabulary has " + v + " > " + MAX_VOCAB + " words");
        int bos = vocab.indexOf(PlantedVocabulary.BOS);
        ModelConfig cfg = new ModelConfig(layout.layers(), N_HEAD, D_MODEL, v, N_POSITIONS, 1e-5, ModelConfig.GELU_TANH,
                false, N_INNER);

        Map<String, float[]> w = new LinkedHashMap<>();
        Gpt2Tensors.expectedShapes(cfg).forEach((name, shape) -> {
            long n = 1;
            for (long s : shape) n *= s;
            w.put(name, new float[Math.toIntExact(n)]);
        });
        for (int t = 0; t < v; t++) w.get(WTE)[t * D_MODEL + TOK + t] = (float) EMBED;
        for (int p = 0; p < N_POSITIONS; p++) w.get(WPE)[p * D_MODEL + POS + p] = (float) EMBED;

        Random heads = new Random(mix(spec.seed(), 1));
        for (int l = 0; l < layout.layers(); l++) {
            Block b = new Block(w, l, layout.layerNormK(l));
            for (int h = 0; h < N_HEAD; h++) {
                switch (layout.role(new At(l, h))) {
                    case PREVIOUS_TOKEN -> previousTokenHead(b, h, v);
                    case ATTENTION_SINK -> sinkHead(b, h, bos);
                    case INDUCTION -> inductionHead(b, h, v, bos, 1);
                    case BACKUP_INDUCTION -> {
                        if (layout.reactive() != null)
                            reactiveBackupHead(b, h, v, bos, layout.reactive().gain(), new Random(mix(spec.seed(), 3)));
                        else inductionHead(b, h, v, bos, layout.backup().gain());
                    }
                    case NEGATIVE_COPY -> inductionHead(b, h, v, bos, -layout.negative().gain());
                    case DUPLICATE_TOKEN_NULL_OV -> duplicateTokenHead(b, h, v, bos);
                    case FREQUENCY -> frequencyHead(b, h, v, bos);
                    case NOISE -> b.noiseHead(h, heads);
                }
            }
            fill(w.get(ln2W(l)), 1); // MLPs are zero; ln_2 is left at its identity parameters
        }
        fill(w.get(LN_F_W), 1);     // ln_f centring shifts every logit equally; only its scale matters
        double unembedGain = LOGIT_GAP / lnNorm(4);
        for (int t = 0; t < v; t++) w.get(LM_HEAD)[t * D_MODEL + OUT + t] = (float) unembedGain;

        if (spec.noiseStd() > 0) {
            Random noise = new Random(mix(spec.seed(), 2));
            for (float[] a : w.values())   // expectedShapes order, so the noise stream is fixed
                for (int i = 0; i < a.length; i++) a[i] = (float) (a[i] + spec.noiseStd() * noise.nextGaussian());
        }

        Constants constants = new Constants(D_MODEL, N_HEAD, D_HEAD, layout.layers(), N_POSITIONS, v, TOK, PREV, OUT, POS,
                EMBED, PREVIOUS_TOKEN_SCORE, SINK_SCORE, MATCH_SCORE, BOS_DEFAULT_SCORE, NULL_VALUE_GAIN, FREQUENCY_GAIN,
                unembedGain, NOISE_HEAD_QK_STD, NOISE_HEAD_OV_STD, layout.layerNormKs());
        GroundTruth truth = new GroundTruth(layout.modelId(), spec.seed(), spec.noiseStd(), layout.induction().label(),
                constants, headTruths(layout), layout.name(), layout.spec(), layout.layers());
        return new Planted(spec, new InMemoryCheckpoint(cfg, w), vocab,
                WordLevelTokenizerJson.build(vocab, PlantedVocabulary.UNK, PlantedVocabulary.BOS), truth);
    }

    /** Query at position p matches key position p-1 through the position subspace; copies that token into PREV. */
    private static void previousTokenHead(Block b, int h, int vocab) {
        double a = b.matchWeight(PREVIOUS_TOKEN_SCORE);
        for (int p = 0; p < N_POSITIONS; p++) b.q(h, POS + p, p, a);
        for (int p = 0; p + 1 < N_POSITIONS; p++) b.k(h, POS + p, p + 1, a);
        for (int t = 0; t < vocab; t++) {
            b.copy(h, TOK + t, t, PREV + t, 1);
        }
    }

    /** A constant query bias meets a key dimension fed only by the BOS token; the output matrix is zero. */
    private static void sinkHead(Block b, int h, int bos) {
        b.defaultToBos(h, bos, SINK_SCORE);
        b.v(h, TOK + bos, bos, NULL_VALUE_GAIN);
    }

    /**
     * Query: current token; key: previous-token subspace, so position j scores high when token[j-1] equals
     * the current token. Without a match the BOS default wins. OV copies the attended token into OUT with
     * {@code gain} (1 for the main head, below 1 for a backup, negative for a negative head: it writes minus the token).
     */
    private static void inductionHead(Block b, int h, int vocab, int bos, double gain) {
        double a = b.matchWeight(MATCH_SCORE);
        for (int t = 0; t < vocab; t++) {
            if (t == bos) continue;
            b.q(h, TOK + t, t, a);
            b.k(h, PREV + t, t, a);
            b.copy(h, TOK + t, t, OUT + t, gain);
        }
        b.defaultToBos(h, bos, BOS_DEFAULT_SCORE);
    }

    /**
     * Score by which the main induction head's written answer lowers the reactive backup's score for the position
     * holding that same token (the matched position), at full main-head attention: the match (score
     * {@link #MATCH_SCORE}) then falls just below the BOS default, so on a clean run the backup sends most of its
     * attention to BOS (value zero) and writes little; with the main head's output gone the match wins and it copies.
     */
    public static final double REACTIVE_SUPPRESSION_SCORE = 16.5;
    /** Head dims [128, 192) of the reactive backup: a random code of each token, unused by the match in [0, 128). */
    static final int CODE_DIMS = D_HEAD - MAX_VOCAB;

    /**
     * The induction mechanism of {@link #inductionHead}, plus a suppression term in head dims [128, 192): the query
     * reads the OUTPUT subspace and the key the key position's own token, both through the same random unit code of
     * each token, so their product is -{@link #REACTIVE_SUPPRESSION_SCORE} for a key holding the token the output
     * subspace holds (the answer the main induction head wrote one layer below) and about +-1/8 of it for any other
     * (random codes in 64 dims). Separate dims keep the suppression from mixing with the match.
     */
    private static void reactiveBackupHead(Block b, int h, int vocab, int bos, double gain, Random codes) {
        inductionHead(b, h, vocab, bos, gain);
        double c = b.matchWeight(MATCH_SCORE) * Math.sqrt(REACTIVE_SUPPRESSION_SCORE / MATCH_SCORE);
        for (int t = 0; t < vocab; t++) {
            if (t == bos) continue;
            double[] code = new double[CODE_DIMS];
            double norm = 0;
            for (int d = 0; d < CODE_DIMS; d++) norm += (code[d] = codes.nextGaussian()) * code[d];
            for (int d = 0; d < CODE_DIMS; d++) {
                double x = c * code[d] / Math.sqrt(norm);
                b.q(h, OUT + t, MAX_VOCAB + d, -x);
                b.k(h, TOK + t, MAX_VOCAB + d, x);
            }
        }
    }

    /** Query token matches key token; the position subspace cancels the self match; W_O stays zero. */
    private static void duplicateTokenHead(Block b, int h, int vocab, int bos) {
        double a = b.matchWeight(MATCH_SCORE);
        for (int t = 0; t < vocab; t++) {
            if (t == bos) continue;
            b.q(h, TOK + t, t, a);
            b.k(h, TOK + t, t, a);
            b.v(h, TOK + t, t, NULL_VALUE_GAIN);
        }
        for (int p = 0; p < N_POSITIONS; p++) {
            b.q(h, POS + p, MAX_VOCAB + p, a);
            b.k(h, POS + p, MAX_VOCAB + p, -a);
        }
        b.defaultToBos(h, bos, BOS_DEFAULT_SCORE);
    }

    /** No query/key weights (uniform attention); OV copies every token into OUT with a modest gain. */
    private static void frequencyHead(Block b, int h, int vocab, int bos) {
        for (int t = 0; t < vocab; t++) {
            if (t == bos) continue;
            b.copy(h, TOK + t, t, OUT + t, FREQUENCY_GAIN);
        }
    }

    /** The per-head ground truth, read from the layout (the only source of the assignment). */
    private static List<HeadTruth> headTruths(PlantedLayout layout) {
        String induction = layout.induction().label();
        String noise = "Random Q/K (std " + NOISE_HEAD_QK_STD + ") and O/V (std " + NOISE_HEAD_OV_STD
                + ") weights: sharp but meaningless attention, output norm about 2% of a designed write.";
        String noiseFools = "pipelines without a null distribution: a random head must not come out as a finding";
        String inductionMechanism = "Query: current-token subspace; key: previous-token subspace (written by "
                + layout.previousToken() + "), so position j scores " + MATCH_SCORE + " when token[j-1] equals the "
                + "current token, i.e. the position after an earlier occurrence. Without a match a query bias on a "
                + "BOS-token key dimension (score " + BOS_DEFAULT_SCORE + ") parks attention on BOS, whose value is "
                + "zero. OV copies the attended token into the output subspace, which lm_head reads";
        List<HeadTruth> out = new ArrayList<>();
        for (int l = 0; l < layout.layers(); l++)
            for (int h = 0; h < N_HEAD; h++) {
                Role role = layout.role(new At(l, h));
                out.add(switch (role) {
                    case PREVIOUS_TOKEN -> head(l, h, role, true, "",
                            "Query position p matches key position p-1 through the position subspace (score "
                            + PREVIOUS_TOKEN_SCORE + "); OV copies that token's one-hot into the previous-token "
                            + "subspace, which the induction heads' keys read (K-composition). Causal at every "
                            + "position whose output is later used as a key; at the final position only through "
                            + "the induction heads' own key there.", 1);
                    case ATTENTION_SINK -> head(l, h, role, false,
                            "attention-magnitude rankings: the strongest, most stable attention (all of it on BOS) with no output",
                            "A query bias meets a key dimension fed only by the BOS token (score " + SINK_SCORE
                            + "); V reads BOS so z is a constant; W_O is zero.", 0);
                    case INDUCTION -> head(l, h, role, true, "", inductionMechanism + ".", 1);
                    case BACKUP_INDUCTION -> layout.reactive() != null ? head(l, h, role, true,
                            "single-head ablation: on a clean run it writes little, so ablating it alone moves almost "
                            + "nothing, yet it takes over when " + induction + " is ablated",
                            inductionMechanism + " with gain " + layout.reactive().gain() + " of " + induction + "'s, and "
                            + "REACTIVE: its query also reads the output subspace " + induction + " (one layer below) "
                            + "wrote, and its key the key position's own token (through a shared random code of each "
                            + "token in head dims 128-191), lowering the matched position's score "
                            + "by " + REACTIVE_SUPPRESSION_SCORE + " when the answer is already written. While "
                            + induction + " works the backup attends mostly to BOS; when " + induction + "'s output is "
                            + "absent (ablated) it copies the answer (a backup name mover / hydra effect).",
                            layout.reactive().gain())
                            : head(l, h, role, true, "", inductionMechanism + " with gain "
                            + layout.backup().gain() + " of " + induction + "'s: a weaker copy of the same mechanism, "
                            + "so ablating " + induction + " alone leaves part of the answer in place.",
                            layout.backup().gain());
                    case NEGATIVE_COPY -> head(l, h, role, true, "", inductionMechanism.replace("OV copies the attended token",
                            "OV writes MINUS the attended token") + " with gain " + layout.negative().gain() + " of "
                            + induction + "'s: it lowers the answer it attends to (anti-induction), so ablating it RAISES "
                            + "the logit difference.", -layout.negative().gain());
                    case DUPLICATE_TOKEN_NULL_OV -> head(l, h, role, false,
                            "raw previous-occurrence attention scores (the reference's attention_to_previous_occurrence "
                            + "is a duplicate-token score): attention ~1 to the earlier copy of the final token, causal effect ~0",
                            "Query token matches key token (score " + MATCH_SCORE + "); the position subspace "
                            + "subtracts the same score for the key at the query's own position; BOS default (score "
                            + BOS_DEFAULT_SCORE + "). V copies tokens (gain " + NULL_VALUE_GAIN
                            + ") so z names the attended token, but W_O is zero.", 0);
                    case FREQUENCY -> head(l, h, role, false,
                            "the frequency-trap control s + [s[n-1]]*(n-1): raising the most frequent context token looks "
                            + "like predicting the repeated answer without any induction",
                            "Zero Q/K weights give uniform attention over all positions; OV copies each token into the "
                            + "output subspace with total mass " + FREQUENCY_GAIN + " of " + induction + "'s, so the "
                            + "logit boost is proportional to a token's count in the context.", FREQUENCY_GAIN);
                    case NOISE -> head(l, h, role, false, noiseFools, noise, 0);
                });
            }
        return out;
    }

    private static HeadTruth head(int layer, int head, Role role, boolean inCircuit, String fools, String mechanism,
                                  double ovGain) {
        return new HeadTruth(layer, head, new At(layer, head).label(), role, inCircuit, fools, mechanism, ovGain);
    }

    /** |non-zero entry| / sigma of a vector with k equal non-zero entries out of d: the LN's output scale. */
    static double lnNorm(int k) {
        return Math.sqrt((double) (D_MODEL - k) / k);
    }

    /** The LN bias that maps the zero entries of such a vector back to exactly 0. */
    static double lnBias(int k) {
        return Math.sqrt((double) k / (D_MODEL - k));
    }

    /** Combined: LN(x) = x * lnGain(k) / EMBED for a vector with k entries equal to EMBED. */
    static double lnGain(int k) {
        return lnNorm(k) + lnBias(k);
    }

    private static void fill(float[] a, double value) {
        Arrays.fill(a, (float) value);
    }

    /** Independent streams from one seed (java.util.Random scrambles the value further). */
    private static long mix(long seed, long stream) {
        return seed * 0x9E3779B97F4A7C15L + stream;
    }

    /** Writes one block's attention weights; the LN in front of it expects k non-zero entries. */
    private static final class Block {
        private static final int D3 = 3 * D_MODEL;
        final float[] attnW, attnB, projW;
        final double gain;

        Block(Map<String, float[]> w, int layer, int k) {
            attnW = w.get(attnW(layer));
            attnB = w.get(attnB(layer));
            projW = w.get(projW(layer));
            gain = lnGain(k);
            fill(w.get(ln1W(layer)), 1);
            fill(w.get(ln1B(layer)), lnBias(k));
        }

        void q(int h, int row, int dim, double x) { attnW[row * D3 + h * D_HEAD + dim] = (float) x; }
        void k(int h, int row, int dim, double x) { attnW[row * D3 + D_MODEL + h * D_HEAD + dim] = (float) x; }
        void v(int h, int row, int dim, double x) { attnW[row * D3 + 2 * D_MODEL + h * D_HEAD + dim] = (float) x; }
        void o(int h, int dim, int out, double x) { projW[(h * D_HEAD + dim) * D_MODEL + out] = (float) x; }

        /** Equal query and key entries that give {@code score} for one matching residual entry on each side. */
        double matchWeight(double score) {
            return Math.sqrt(score * SQRT_D_HEAD) / gain;
        }

        /**
         * OV path residual row {@code from} -> head dim {@code dim} -> residual row {@code to}, writing
         * {@code units} * EMBED for a fully attended unit entry. W_V and W_O share the gain equally, which
         * keeps both well above the weight noise.
         */
        void copy(int h, int from, int dim, int to, double units) {
            double w = Math.sqrt(EMBED / gain);
            v(h, from, dim, w);
            o(h, dim, to, units * w);
        }

        /** Key dimension {@code bos} fed only by the BOS token, met by a constant query bias: score for BOS. */
        void defaultToBos(int h, int bos, double score) {
            k(h, TOK + bos, bos, 1);
            attnB[h * D_HEAD + bos] = (float) (score * SQRT_D_HEAD / gain);
        }

        void noiseHead(int h, Random rnd) {
            for (int row = 0; row < D_MODEL; row++)
                for (int dim = 0; dim < D_HEAD; dim++) {
                    q(h, row, dim, NOISE_HEAD_QK_STD * rnd.nextGaussian());
                    k(h, row, dim, NOISE_HEAD_QK_STD * rnd.nextGaussian());
                    v(h, row, dim, NOISE_HEAD_OV_STD * rnd.nextGaussian());
                }
            for (int dim = 0; dim < D_HEAD; dim++)
                for (int out = 0; out < D_MODEL; out++) o(h, dim, out, NOISE_HEAD_OV_STD * rnd.nextGaussian());
        }
    }
}
