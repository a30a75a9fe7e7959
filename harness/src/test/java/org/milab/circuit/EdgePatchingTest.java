package org.milab.circuit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.milab.lab.LabFixtures;
import org.milab.lab.LabModel;
import org.milab.model.InMemoryCheckpoint;
import org.milab.model.RandomCheckpoints;
import org.milab.model.ReferenceGpt2;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The edge-masked ONNX graph against independent plain-Java computations on a small random model: all masks 1
 * is the clean run and all masks 0 the corrupt run (both from {@link ReferenceGpt2}); random masks and
 * single-edge masks agree with {@link EdgeReference}; the edge-gradient graph's EAP scores equal central
 * finite differences of the reference's metric in each edge's mask.
 */
class EdgePatchingTest {
    private static final long SEED = 7;
    private static final double TOL = 2e-3;

    @Test
    void edgeMaskedGraphMatchesPlainJava(@TempDir Path root) {
        try (LabModel m = LabFixtures.randomWordModel(root, "edge-test", SEED)) {
            InMemoryCheckpoint ckpt = RandomCheckpoints.generate(m.config(), SEED, 0.5f);
            ReferenceGpt2 plain = new ReferenceGpt2(ckpt);
            EdgeReference ref = new EdgeReference(ckpt);
            SplittableRandom rng = new SplittableRandom(3);
            List<TokenPair> pairs = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                int len = 5 + i;  // unequal lengths: rows are right padded to the longest
                int[] a = new int[len], b = new int[len];
                for (int t = 0; t < len; t++) {
                    a[t] = 2 + rng.nextInt(m.config().vocabSize() - 2);
                    b[t] = t < 2 ? a[t] : 2 + rng.nextInt(m.config().vocabSize() - 2);
                }
                pairs.add(new TokenPair(i, a, b, a[1], b[2]));
            }
            try (EdgeRunner runner = new EdgeRunner(m, pairs, 4)) {
                CircuitEdges edges = runner.edges();
                // 2 layers x 4 heads: layer 0 q/k/v 3*4*1 + m0 5, layer 1 3*4*6 + m1 10, logits 11
                assertThat(edges.size()).isEqualTo(12 + 5 + 72 + 10 + 11);
                List<EdgeRunner.Row> rows = new ArrayList<>();
                List<double[]> masks = new ArrayList<>();
                for (TokenPair p : pairs) {
                    rows.add(new EdgeRunner.Row(p.index(), runner.uniformMask(1f)));
                    rows.add(new EdgeRunner.Row(p.index(), runner.uniformMask(0f)));
                }
                for (int k = 0; k < 6; k++) {
                    float[] mask = new float[edges.size()];
                    double[] dm = new double[edges.size()];
                    for (int e = 0; e < mask.length; e++) dm[e] = mask[e] = k < 3 ? (rng.nextBoolean() ? 1 : 0) : (e == rng.nextInt(edges.size()) ? 0 : 1);
                    rows.add(new EdgeRunner.Row(k % pairs.size(), mask));
                    masks.add(dm);
                }
                float[][] logits = runner.logits(rows);
                for (TokenPair p : pairs) {
                    assertClose(logits[2 * p.index()], plain.run(p.clean()).finalLogits());
                    assertClose(logits[2 * p.index() + 1], plain.run(p.corrupt()).finalLogits());
                }
                for (int k = 0; k < masks.size(); k++) {
                    TokenPair p = pairs.get(k % pairs.size());
                    assertClose(logits[2 * pairs.size() + k], ref.logits(p.clean(), p.corrupt(), masks.get(k), edges));
                }
                // a random mask really patches: its logits differ from both the clean and the corrupt run
                TokenPair p0 = pairs.get(0);
                assertThat(maxDiff(logits[2 * pairs.size()], plain.run(p0.clean()).finalLogits())).isGreaterThan(0.01);
                assertThat(maxDiff(logits[2 * pairs.size()], plain.run(p0.corrupt()).finalLogits())).isGreaterThan(0.01);

                // EAP scores at all masks 1 = d metric / d mask, by central differences of the reference
                EdgeRunner.Scored s = runner.scores(List.of(new EdgeRunner.Row(0, runner.uniformMask(1f))))[0];
                double[] cleanLogits = plain.run(p0.clean()).finalLogits();
                assertThat(s.metric()).isCloseTo(cleanLogits[p0.answer()] - cleanLogits[p0.contrast()], org.assertj.core.data.Offset.offset(TOL));
                for (int e = 0; e < edges.size(); e++) checkDerivative(ref, p0, edges, e, s.scores()[e]);
                assertThat(max(abs(s.scores()))).as("some edge matters").isGreaterThan(0.05);
            }
        }
    }

    private static double max(double[] x) {
        return java.util.Arrays.stream(x).max().orElseThrow();
    }

    private static void checkDerivative(EdgeReference ref, TokenPair p, CircuitEdges edges, int e, double score) {
        double h = 1e-3;
        double[] up = new double[edges.size()], down = new double[edges.size()];
        java.util.Arrays.fill(up, 1);
        java.util.Arrays.fill(down, 1);
        up[e] = 1 + h;
        down[e] = 1 - h;
        double[] a = ref.logits(p.clean(), p.corrupt(), up, edges), b = ref.logits(p.clean(), p.corrupt(), down, edges);
        double fd = ((a[p.answer()] - a[p.contrast()]) - (b[p.answer()] - b[p.contrast()])) / (2 * h);
        assertThat(score).as("EAP score of %s", edges.edges().get(e).name()).isCloseTo(fd, org.assertj.core.data.Offset.offset(1e-3 + 1e-3 * Math.abs(fd)));
    }

    private static double[] abs(float[] x) {
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) out[i] = Math.abs(x[i]);
        return out;
    }

    private static double maxDiff(float[] a, double[] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
        return m;
    }

    private static void assertClose(float[] onnx, double[] ref) {
        assertThat(onnx).hasSize(ref.length);
        assertThat(maxDiff(onnx, ref)).isLessThan(TOL);
    }
}
