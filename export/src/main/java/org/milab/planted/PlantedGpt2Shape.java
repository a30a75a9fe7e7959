package org.milab.planted;

import org.milab.model.Gpt2Tensors;
import org.milab.model.InMemoryCheckpoint;
import org.milab.model.ModelConfig;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

import static org.milab.model.Gpt2Tensors.*;

/**
 * A model of GPT-2 small's shape (12 layers x 12 heads of 64, d_model 768, GPT-2's vocabulary and tokenizer) with an
 * induction circuit written by hand: what {@code make bench-v2-planted} runs protocol v2 on, because the random
 * benchmark checkpoint has no clean - corrupt gap (nothing for v2 to explain, so its sequential design can stop
 * nothing) and the real weights cannot be downloaded here. Not a claim about GPT-2: a stand-in of the right size
 * with a behaviour, whose answer is known.
 *
 * <p>Unlike {@link PlantedInductionModel} (one-hot tokens of a 128-word vocabulary), tokens here are random unit codes
 * in a 64-dimensional subspace, so 50,257 tokens fit through 64-wide heads. The residual stream holds four 64-wide
 * subspaces (the rest stays empty): current-token code {@link #TOK}, previous-token code {@link #PREV}, position
 * one-hot {@link #POS} (positions 0-63; later positions carry no position code) and output code {@link #OUT}, read
 * by the (untied) unembedding. Each written feature has norm {@link #EMBED}; a LayerNorm with unit gain maps k such
 * features to norm sqrt(d_model / k) each, which the designed weights assume (k = 2 before the previous-token head
 * writes, 3 after, 4 at the unembedding). One previous-token head (attends i-1 by position, copies the token code into
 * PREV) and one induction head in a later layer (query: current code; key: previous-token code; value: the token
 * code, written into OUT). Every other head has small random weights (a weak random pattern, a tiny output), and every
 * MLP small random weights: they are the heads a protocol should find null.
 */
public final class PlantedGpt2Shape {
    private PlantedGpt2Shape() {}

    public static final String MODEL_ID = "gpt2-shape-planted";
    public static final int D_HEAD = 64, CODE = 64, TOK = 0, PREV = 64, POS = 128, OUT = 192, CODED_POSITIONS = 64;
    /** Norm of every designed residual feature. */
    public static final double EMBED = 64;
    /** Attention scores (after the division by sqrt(d_head)) of a designed match; unrelated codes score ~N(0, (s/8)^2). */
    public static final double PREVIOUS_TOKEN_SCORE = 30, MATCH_SCORE = 40;
    /** Logit of a token whose code the induction head wrote into OUT, for a code-orthogonal token 0. */
    public static final double LOGIT_GAP = 10;
    /** Random weights of the other heads (Q/K/V: a weak random pattern; W_O: a tiny write) and of the MLPs. */
    public static final double NULL_QKV_STD = 0.04, NULL_O_STD = 0.002, MLP_IN_STD = 0.02, MLP_OUT_STD = 0.001;

    /** Which head plays which role (only this generator and its test may know it). */
    public record Truth(String modelId, long seed, String previousToken, String induction, String description) {}

    public record Built(InMemoryCheckpoint checkpoint, Truth truth) {}

    /** GPT-2 small's shape with an untied unembedding (the same FLOPs; the unembedding reads only OUT). */
    public static ModelConfig gpt2SmallShape() {
        return new ModelConfig(12, 12, 768, 50257, 1024, 1e-5, ModelConfig.GELU_TANH, false);
    }

    /** The previous-token head's (layer, head): a quarter of the way up. */
    static int[] previousTokenHead(ModelConfig c) {
        return new int[]{c.nLayer() / 4, 7 % c.nHead()};
    }

    /** The induction head's (layer, head): above the middle. */
    static int[] inductionHead(ModelConfig c) {
        return new int[]{c.nLayer() / 2 + 1, 2 % c.nHead()};
    }

    /**
     * Builds the checkpoint; the same config and seed give bit-identical weights.
     *
     * @param c    n_head x 64 = d_model >= 256, at least 2 layers, n_positions >= 64
     * @param seed seeds the token codes and every random weight
     */
    public static Built build(ModelConfig c, long seed) {
        int d = c.dModel(), H = c.nHead(), v = c.vocabSize();
        if (c.dHead() != D_HEAD || d < OUT + CODE || c.nLayer() < 2 || c.nPositions() < CODED_POSITIONS)
            throw new IllegalArgumentException("the planted GPT-2-shape construction needs d_head 64, d_model >= 256, "
                    + ">= 2 layers and >= 64 positions; got " + c);
        Map<String, float[]> w = new LinkedHashMap<>();
        Gpt2Tensors.expectedShapes(c).forEach((name, shape) -> {
            long n = 1;
            for (long s : shape) n *= s;
            w.put(name, new float[Math.toIntExact(n)]);
        });
        double[][] code = codes(v, new Random(seed * 0x9E3779B97F4A7C15L + 1));
        for (int t = 0; t < v; t++)
            for (int j = 0; j < CODE; j++) w.get(WTE)[t * d + TOK + j] = (float) (EMBED * code[t][j]);
        for (int p = 0; p < CODED_POSITIONS; p++) w.get(WPE)[p * d + POS + p] = (float) EMBED;
        double unembed = LOGIT_GAP / lnNorm(d, 4);
        for (int t = 0; t < v; t++)
            for (int j = 0; j < CODE; j++) w.get(LM_HEAD)[t * d + OUT + j] = (float) (unembed * code[t][j]);
        java.util.Arrays.fill(w.get(LN_F_W), 1f);

        int[] prev = previousTokenHead(c), ind = inductionHead(c);
        Random rnd = new Random(seed * 0x9E3779B97F4A7C15L + 2);
        for (int l = 0; l < c.nLayer(); l++) {
            java.util.Arrays.fill(w.get(ln1W(l)), 1f);
            java.util.Arrays.fill(w.get(ln2W(l)), 1f);
            float[] qkv = w.get(attnW(l)), proj = w.get(projW(l));
            // the LN in front of this block sees 2 designed features until the previous-token head has written its own
            int k = l <= prev[0] ? 2 : 3;
            for (int h = 0; h < H; h++) {
                if (l == prev[0] && h == prev[1]) previousToken(qkv, proj, d, h, lnNorm(d, k));
                else if (l == ind[0] && h == ind[1]) induction(qkv, proj, d, h, lnNorm(d, k));
                else nullHead(qkv, proj, d, h, rnd);
            }
            gaussian(w.get(fcW(l)), MLP_IN_STD, rnd);
            gaussian(w.get(mlpProjW(l)), MLP_OUT_STD, rnd);
        }
        String p = "L" + prev[0] + "H" + prev[1], i = "L" + ind[0] + "H" + ind[1];
        Truth truth = new Truth(MODEL_ID, seed, p, i, "previous-token head " + p + " and induction head " + i
                + " written by hand; every other head and every MLP small random weights (null by construction)");
        return new Built(new InMemoryCheckpoint(c, w), truth);
    }

    /** Norm of one feature of norm EMBED after a unit-gain LayerNorm of a residual holding k such features. */
    static double lnNorm(int d, int k) {
        return Math.sqrt((double) d / k);
    }

    /** Query: own position; key: position + 1 (so position p matches key p - 1); value: the token code, into PREV. */
    private static void previousToken(float[] qkv, float[] proj, int d, int h, double s) {
        double a = Math.sqrt(PREVIOUS_TOKEN_SCORE * Math.sqrt(D_HEAD)) / s;
        for (int j = 0; j < CODE; j++) {
            qkv[(POS + j) * 3 * d + h * D_HEAD + j] = (float) a;
            if (j >= 1) qkv[(POS + j - 1) * 3 * d + d + h * D_HEAD + j] = (float) a;
            qkv[(TOK + j) * 3 * d + 2 * d + h * D_HEAD + j] = 1f;
            proj[(h * D_HEAD + j) * d + PREV + j] = (float) (EMBED / s);
        }
    }

    /** Query: the current token's code; key: the previous-token code; value: the key's token code, into OUT. */
    private static void induction(float[] qkv, float[] proj, int d, int h, double s) {
        double b = Math.sqrt(MATCH_SCORE * Math.sqrt(D_HEAD)) / s;
        for (int j = 0; j < CODE; j++) {
            qkv[(TOK + j) * 3 * d + h * D_HEAD + j] = (float) b;
            qkv[(PREV + j) * 3 * d + d + h * D_HEAD + j] = (float) b;
            qkv[(TOK + j) * 3 * d + 2 * d + h * D_HEAD + j] = 1f;
            proj[(h * D_HEAD + j) * d + OUT + j] = (float) (EMBED / s);
        }
    }

    private static void nullHead(float[] qkv, float[] proj, int d, int h, Random rnd) {
        for (int i = 0; i < d; i++)
            for (int part = 0; part < 3; part++)
                for (int j = 0; j < D_HEAD; j++)
                    qkv[i * 3 * d + part * d + h * D_HEAD + j] = (float) (NULL_QKV_STD * rnd.nextGaussian());
        for (int j = 0; j < D_HEAD; j++)
            for (int o = 0; o < d; o++) proj[(h * D_HEAD + j) * d + o] = (float) (NULL_O_STD * rnd.nextGaussian());
    }

    private static void gaussian(float[] a, double std, Random rnd) {
        for (int i = 0; i < a.length; i++) a[i] = (float) (std * rnd.nextGaussian());
    }

    /** Random unit vectors of CODE dimensions, one per token. */
    private static double[][] codes(int v, Random rnd) {
        double[][] c = new double[v][CODE];
        for (double[] row : c) {
            double n = 0;
            for (int j = 0; j < CODE; j++) {
                row[j] = rnd.nextGaussian();
                n += row[j] * row[j];
            }
            n = Math.sqrt(n);
            for (int j = 0; j < CODE; j++) row[j] /= n;
        }
        return c;
    }
}
