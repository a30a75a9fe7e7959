package org.milab.protocol.reference;

import org.milab.stats.Decisions;

import org.milab.model.Checkpoint;
import org.milab.model.Gpt2Tensors;

import java.nio.FloatBuffer;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The S16 OV/QK local signatures of one head, computed from Hugging Face weights in TransformerLens'
 * processed frame (spec 1.4 / S16 [derived]): TL's W_E is the d_model-centred embedding, its W_V/W_Q/W_K
 * carry ln_1.weight (fold_ln), its W_O writes centred vectors and its W_U carries ln_f.weight and is centred
 * over the vocabulary. No biases and no LayerNorm normalisation, as in the reference. Double precision.
 */
public final class HeadCircuit {
    /** OV result: centred logits of the true and wrong tokens, their margin and the true token's rank. */
    public record Ov(double trueScore, double wrongScore, double margin, int rankOfTrue) {}

    private final Checkpoint w;
    private final int d, dh, vocab;
    private final FloatBuffer wte, unembed, lnF;
    private final Map<Integer, float[]> attn = new HashMap<>(), proj = new HashMap<>(), ln1 = new HashMap<>();
    private final Map<List<Integer>, Ov> ovCache = new HashMap<>();

    public HeadCircuit(Checkpoint w) {
        this.w = w;
        this.d = w.config().dModel();
        this.dh = w.config().dHead();
        this.vocab = w.config().vocabSize();
        this.wte = w.floats(Gpt2Tensors.WTE);
        this.unembed = w.floats(w.unembeddingName());
        this.lnF = w.floats(Gpt2Tensors.LN_F_W);
    }

    /** ln_1.weight-scaled, d_model-centred embedding of a token (TL's W_E row read through W_V/W_Q/W_K). */
    double[] scaledEmbedding(int layer, int token) {
        float[] g = ln1.computeIfAbsent(layer, l -> w.array(Gpt2Tensors.ln1W(l)));
        double mean = 0;
        for (int i = 0; i < d; i++) mean += wte.get(token * d + i);
        mean /= d;
        double[] x = new double[d];
        for (int i = 0; i < d; i++) x[i] = (wte.get(token * d + i) - mean) * g[i];
        return x;
    }

    /** x @ c_attn[:, block*d + head*dh : ... + dh] (block 0 = q, 1 = k, 2 = v). */
    double[] project(int layer, int head, int block, double[] x) {
        float[] a = attn.computeIfAbsent(layer, l -> w.array(Gpt2Tensors.attnW(l)));
        int cols = 3 * d, c0 = block * d + head * dh;
        double[] out = new double[dh];
        for (int i = 0; i < d; i++) {
            double xi = x[i];
            int row = i * cols + c0;
            for (int j = 0; j < dh; j++) out[j] += xi * a[row + j];
        }
        return out;
    }

    /** OV of the source token scored on the true vs wrong token; cached per (layer, head, source, true, wrong). */
    public Ov ov(int layer, int head, int source, int trueId, int wrongId) {
        return ovCache.computeIfAbsent(List.of(layer, head, source, trueId, wrongId), k -> computeOv(layer, head, source, trueId, wrongId));
    }

    private Ov computeOv(int layer, int head, int source, int trueId, int wrongId) {
        double[] v = project(layer, head, 2, scaledEmbedding(layer, source));
        float[] o = proj.computeIfAbsent(layer, l -> w.array(Gpt2Tensors.projW(l)));
        double[] out = new double[d];
        for (int j = 0; j < dh; j++) {
            int row = (head * dh + j) * d;
            for (int i = 0; i < d; i++) out[i] += v[j] * o[row + i];
        }
        double mean = 0;
        for (double x : out) mean += x;
        mean /= d;
        for (int i = 0; i < d; i++) out[i] = (out[i] - mean) * lnF.get(i); // TL's centred W_O, ln_f folded into W_U
        double[] logits = new double[vocab];
        double total = 0;
        for (int t = 0; t < vocab; t++) {
            double s = 0;
            int row = t * d;
            for (int i = 0; i < d; i++) s += out[i] * unembed.get(row + i);
            logits[t] = s;
            total += s;
        }
        double centre = total / vocab; // TL's center_unembed
        double tv = logits[trueId] - centre, wv = logits[wrongId] - centre;
        int rank = 1;
        for (double s : logits) if (s > logits[trueId]) rank++;
        return new Ov(tv, wv, tv - wv, rank);
    }

    /** score_j = k_j . q_final / sqrt(d_head) over the raw token embeddings of {@code tokens} (BOS included). */
    public double[] qkScores(int layer, int head, int[] tokens) {
        double[] q = project(layer, head, 0, scaledEmbedding(layer, tokens[tokens.length - 1]));
        double[] scores = new double[tokens.length];
        double scale = Math.sqrt(dh);
        for (int p = 0; p < tokens.length; p++) {
            double[] k = project(layer, head, 1, scaledEmbedding(layer, tokens[p]));
            double s = 0;
            for (int j = 0; j < dh; j++) s += k[j] * q[j];
            scores[p] = s / scale;
        }
        return scores;
    }

    /** Source score, best distractor score and margin; nulls where the reference gives None. */
    public record Qk(Double sourceScore, Double bestDistractorScore, Double margin) {}

    /** Source = hint + max(T - words, 0); distractors = positions 1..T-2 except the source. */
    public static Qk qkMargin(double[] scores, int sourcePosition) {
        if (sourcePosition < 0 || sourcePosition >= scores.length) return new Qk(null, null, null);
        double source = scores[sourcePosition];
        Double best = null;
        for (int p = 1; p < scores.length - 1; p++)
            if (p != sourcePosition && (best == null || scores[p] > best)) best = scores[p];
        return new Qk(source, best, best == null ? null : source - best);
    }

    public static String ovStatus(Double margin) {
        if (margin == null || margin.isNaN()) return "ov_unavailable";
        if (Decisions.positive(margin)) return "ov_supports_copy";
        if (margin < -0.1) return "ov_contradicts_copy";
        return "ov_weak";
    }

    public static String qkStatus(Double margin) {
        if (margin == null || margin.isNaN()) return "qk_unavailable";
        if (Decisions.positive(margin)) return "qk_supports_source_selection";
        if (margin < -0.1) return "qk_contradicts_source_selection";
        return "qk_weak";
    }
}
