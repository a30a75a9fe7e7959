package org.milab.diagnosis;

import org.milab.model.Checkpoint;
import org.milab.model.ModelConfig;
import org.milab.model.ReferenceGpt2;
import org.milab.stats.Bootstrap;
import org.milab.stats.Bootstrap.Interval;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Olsson et al.'s induction-head diagnosis of one checkpoint, on the plain-Java reference forward.
 * Sequences are BOS + r + r with r {@code spanLength} distinct tokens drawn uniformly from {@code spanIds}
 * (distinct, so every token of the second copy has exactly one earlier occurrence). Per head:
 * <ul>
 *   <li>prefix-matching score: mean attention from each second-copy token r[i] (i < n-1) to the token after
 *       its earlier occurrence (r[i+1] in the first copy);</li>
 *   <li>duplicate-token score: the same to the earlier occurrence itself;</li>
 *   <li>previous-token score: mean attention from every position q >= 2 to q-1;</li>
 *   <li>mean ablation: the head's z at every position >= 1 replaced by its per-position mean over an
 *       independent reference set of such sequences; the effect is the ablated minus the clean mean loss on the
 *       second copy's predictable targets r[1..n-1] (and, beside it, on the first copy's).</li>
 * </ul>
 * Intervals are percentile bootstraps over sequences; normalized effects divide by the induction gap
 * (first-copy loss minus second-copy loss) resampled jointly with the effect.
 */
public final class InductionDiagnosis {
    private InductionDiagnosis() {}

    /**
     * @param spanLength         n, the length of r
     * @param sequences          evaluated sequences (scores, losses, ablation effects)
     * @param referenceSequences sequences whose per-position mean z is the ablation value
     * @param seed               seeds the sequences (reference sequences use seed + 1) and the bootstrap
     * @param bootstrapResamples percentile-bootstrap resamples
     */
    public record Settings(int spanLength, int sequences, int referenceSequences, long seed, int bootstrapResamples) {
        /** Reduced counts for CI tests. */
        public static final Settings CI = new Settings(16, 24, 24, 20261, 1000);
        /** What the committed diagnoses (zoo/<model>/diagnosis.json) used. */
        public static final Settings FULL = new Settings(16, 128, 64, 20261, 2000);
    }

    /** One head's measurements and class. */
    public record HeadRow(int layer, int head, double prefixScore, double duplicateScore, double previousTokenScore,
                          Interval secondCopyDelta, Interval secondCopyNorm, Interval firstCopyDelta, HeadClass diagnosis) {
        public String headId() {
            return "L" + layer + "H" + head;
        }
    }

    /**
     * @param firstCopyLoss  mean loss on the first copy's targets r[1..n-1] (clean)
     * @param secondCopyLoss the same on the second copy
     * @param gap            first minus second (the induction gap), over sequences
     */
    public record Result(String model, Settings settings, DiagnosisThresholds thresholds, int vocabularyDrawn,
                         Interval firstCopyLoss, Interval secondCopyLoss, Interval gap, List<HeadRow> heads) {
        public List<String> headsOf(HeadClass c) {
            return heads.stream().filter(h -> h.diagnosis() == c).map(HeadRow::headId).toList();
        }
    }

    public static Result run(String model, Checkpoint ckpt, int bosId, List<Integer> spanIds, Settings s,
                             DiagnosisThresholds t) {
        ModelConfig c = ckpt.config();
        int n = s.spanLength();
        if (2 * n + 1 > c.nPositions())
            throw new IllegalArgumentException("span length " + n + " needs " + (2 * n + 1) + " positions, the model has "
                    + c.nPositions());
        if (spanIds.size() < n) throw new IllegalArgumentException("only " + spanIds.size() + " tokens to draw from");
        ReferenceGpt2 ref = new ReferenceGpt2(ckpt);
        List<int[]> eval = sequences(bosId, spanIds, n, s.sequences(), s.seed());
        List<int[]> reference = sequences(bosId, spanIds, n, s.referenceSequences(), s.seed() + 1);
        float[][][][] meanZ = meanZ(ref, reference);
        int L = c.nLayer(), H = c.nHead(), N = eval.size();
        double[] first = new double[N], second = new double[N], gap = new double[N];
        double[][][] prefix = new double[L][H][N], dup = new double[L][H][N], prev = new double[L][H][N];
        double[][][] dSecond = new double[L][H][N], dFirst = new double[L][H][N];
        for (int i = 0; i < N; i++) {
            int[] ids = eval.get(i);
            ReferenceGpt2.Trace clean = ref.run(ids);
            first[i] = copyLoss(clean, ids, n, false);
            second[i] = copyLoss(clean, ids, n, true);
            gap[i] = first[i] - second[i];
            for (int l = 0; l < L; l++)
                for (int h = 0; h < H; h++) {
                    double[][] p = clean.pattern()[l][h];
                    prefix[l][h][i] = meanAttention(p, n, 1);
                    dup[l][h][i] = meanAttention(p, n, 0);
                    double pt = 0;
                    for (int q = 2; q <= 2 * n; q++) pt += p[q][q - 1];
                    prev[l][h][i] = pt / (2 * n - 1);
                    ReferenceGpt2.Trace ablated = ref.run(ids, ablation(meanZ, l, h, ids.length));
                    dSecond[l][h][i] = copyLoss(ablated, ids, n, true) - second[i];
                    dFirst[l][h][i] = copyLoss(ablated, ids, n, false) - first[i];
                }
        }
        Bootstrap boot = new Bootstrap(s.bootstrapResamples(), s.seed(), Bootstrap.DEFAULT_LEVEL);
        List<HeadRow> rows = new ArrayList<>();
        for (int l = 0; l < L; l++)
            for (int h = 0; h < H; h++) {
                double pm = mean(prefix[l][h]), dm = mean(dup[l][h]), pv = mean(prev[l][h]);
                Interval norm = boot.ratioOfMeans(dSecond[l][h], gap);
                rows.add(new HeadRow(l, h, pm, dm, pv, boot.mean(dSecond[l][h]), norm, boot.mean(dFirst[l][h]),
                        classify(pm, dm, pv, norm, t)));
            }
        return new Result(model, s, t, spanIds.size(), boot.mean(first), boot.mean(second), boot.mean(gap), rows);
    }

    /** The declared rules of {@link HeadClass}, in this order of precedence. */
    static HeadClass classify(double prefix, double dup, double prev, Interval norm, DiagnosisThresholds t) {
        double e = t.effectFraction();
        boolean raises = norm.defined() && norm.low() > e, lowers = norm.defined() && norm.high() < -e;
        if (prefix >= t.prefixMatching() && prefix >= prev && raises) return HeadClass.INDUCTION;
        if (prev >= t.previousToken() && raises) return HeadClass.PREVIOUS_TOKEN;
        if (prefix >= t.prefixMatching() && lowers) return HeadClass.NEGATIVE;
        if (prefix < t.attentionNone() && dup < t.attentionNone() && prev < t.attentionNone()
                && norm.defined() && norm.low() > -e && norm.high() < e) return HeadClass.NOT_INVOLVED;
        return HeadClass.UNCLEAR;
    }

    /** BOS + r + r, r distinct tokens drawn uniformly from {@code pool}. */
    static List<int[]> sequences(int bos, List<Integer> pool, int n, int count, long seed) {
        Random rnd = new Random(seed);
        List<int[]> out = new ArrayList<>(count);
        for (int c = 0; c < count; c++) {
            List<Integer> bag = new ArrayList<>(pool);
            int[] ids = new int[2 * n + 1];
            ids[0] = bos;
            for (int i = 0; i < n; i++) {
                int tok = bag.remove(rnd.nextInt(bag.size()));
                ids[1 + i] = tok;
                ids[1 + n + i] = tok;
            }
            out.add(ids);
        }
        return out;
    }

    /** Mean cross-entropy (nats) of the copy's targets r[1..n-1], predicted from the positions before them. */
    static double copyLoss(ReferenceGpt2.Trace t, int[] ids, int n, boolean secondCopy) {
        int from = secondCopy ? n + 1 : 1; // the position holding r[0] of that copy
        double sum = 0;
        for (int p = from; p < from + n - 1; p++) sum += -logSoftmax(t.logits()[p], ids[p + 1]);
        return sum / (n - 1);
    }

    /** Mean attention from second-copy token r[i] (i < n-1) to first-copy position 1 + i + offset. */
    private static double meanAttention(double[][] pattern, int n, int offset) {
        double s = 0;
        for (int i = 0; i < n - 1; i++) s += pattern[n + 1 + i][1 + i + offset];
        return s / (n - 1);
    }

    private static double logSoftmax(double[] logits, int target) {
        double max = Double.NEGATIVE_INFINITY;
        for (double v : logits) max = Math.max(max, v);
        double sum = 0;
        for (double v : logits) sum += Math.exp(v - max);
        return logits[target] - max - Math.log(sum);
    }

    /** [layer][position][head][dHead] mean of z over the reference sequences (all of one length). */
    private static float[][][][] meanZ(ReferenceGpt2 ref, List<int[]> reference) {
        ModelConfig c = ref.config();
        int T = reference.get(0).length;
        double[][][][] sum = new double[c.nLayer()][T][c.nHead()][c.dHead()];
        for (int[] ids : reference) {
            double[][][][] z = ref.run(ids).z();
            for (int l = 0; l < c.nLayer(); l++)
                for (int p = 0; p < T; p++)
                    for (int h = 0; h < c.nHead(); h++)
                        for (int i = 0; i < c.dHead(); i++) sum[l][p][h][i] += z[l][p][h][i];
        }
        float[][][][] mean = new float[c.nLayer()][T][c.nHead()][c.dHead()];
        for (int l = 0; l < c.nLayer(); l++)
            for (int p = 0; p < T; p++)
                for (int h = 0; h < c.nHead(); h++)
                    for (int i = 0; i < c.dHead(); i++) mean[l][p][h][i] = (float) (sum[l][p][h][i] / reference.size());
        return mean;
    }

    /** Head (l, h)'s z at every position >= 1 set to the reference mean (BOS, position 0, is the same everywhere). */
    private static ReferenceGpt2.Patches ablation(float[][][][] meanZ, int l, int h, int length) {
        List<ReferenceGpt2.ZPatch> z = new ArrayList<>();
        for (int p = 1; p < length; p++) z.add(new ReferenceGpt2.ZPatch(l, p, h, meanZ[l][p][h]));
        return new ReferenceGpt2.Patches(z, List.of());
    }

    private static double mean(double[] x) {
        double s = 0;
        for (double v : x) s += v;
        return s / x.length;
    }
}
