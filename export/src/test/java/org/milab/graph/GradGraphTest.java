package org.milab.graph;

import ai.onnxruntime.OrtException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.milab.model.Checkpoint;
import org.milab.model.ModelConfig;
import org.milab.model.ReferenceGpt2;
import org.milab.model.ReferenceGpt2.Nudge;
import org.milab.model.ReferenceGpt2.Patches;
import org.milab.model.ReferenceGpt2.Site;
import org.milab.model.ReferenceGpt2.Trace;
import org.milab.model.TestCheckpoints;
import org.milab.planted.Planted;
import org.milab.planted.PlantedInductionModel;
import org.milab.planted.PlantedSpec;
import org.milab.runtime.Feeds;
import org.milab.runtime.Feeds.Output;
import org.milab.runtime.ModelSessions;
import org.milab.runtime.TokenBatch;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.milab.graph.HookNames.*;

/**
 * The grad variant's activation gradients against central finite differences of the plain-Java reference
 * forward pass in double precision, at every hook (hook_resid_pre, hook_z, hook_attn_out, hook_mlp_out) of
 * every layer, on right-padded batches of prompts of unequal length.
 *
 * <p>Error bound (stated in docs/attribution.md): for each row, hook and layer, every coordinate's gradient agrees
 * with the finite difference to within {@link #REL_BOUND} times the largest finite-difference gradient of
 * that hook tensor (float32 graph against a double reference; central differences with step
 * {@link #EPS} have truncation error ~EPS^2, negligible here).
 */
class GradGraphTest {
    static final double REL_BOUND = 1e-3;
    static final double EPS = 1e-4;
    private static final List<int[]> PROMPTS = List.of(
            new int[]{39, 3, 17, 8, 3, 17, 8, 11, 2},
            new int[]{39, 5, 6, 7},
            new int[]{39, 22, 1, 22, 1, 30});
    private static final int[][] METRIC = {{11, 4}, {5, 9}, {22, 0}};

    /** The hooks attributed to, with the reference's nudge site and the coordinates per position. */
    private record HookKind(Site site, java.util.function.IntFunction<String> name) {}

    private static final List<HookKind> HOOKS = List.of(new HookKind(Site.RESID_PRE, HookNames::hookResidPre),
            new HookKind(Site.Z, HookNames::hookZ), new HookKind(Site.ATTN_OUT, HookNames::hookAttnOut),
            new HookKind(Site.MLP_OUT, HookNames::hookMlpOut));

    @Test
    void tinyTiedModelEveryCoordinateOfEveryHook(@TempDir Path dir) throws OrtException {
        checkEveryCoordinate(TestCheckpoints.random(TestCheckpoints.tiny(), 1, 0.5f), dir);
    }

    @Test
    void threeLayerUntiedModelWithItsOwnMlpWidthEveryCoordinate(@TempDir Path dir) throws OrtException {
        ModelConfig cfg = new ModelConfig(3, 2, 24, 40, 16, 1e-5, ModelConfig.GELU_TANH, false, 40);
        checkEveryCoordinate(TestCheckpoints.random(cfg, 5, 0.6f), dir);
    }

    /**
     * The planted model (d_model 1536): every coordinate would take hours of reference passes, so each hook
     * tensor of a row is checked by directional derivatives over all its positions and coordinates at once:
     * along the graph's own gradient (fd must equal its norm) and, for the shorter row, along a random unit
     * direction; |fd - g.v| <= REL_BOUND ||g|| for unit v.
     */
    @Test
    void plantedModelDirectionalDerivativesOfEveryHook(@TempDir Path dir) throws OrtException {
        Planted planted = PlantedInductionModel.build(PlantedSpec.defaults());
        List<String> s = List.of("red", "blue", "green", "yellow", "black");
        List<String> other = List.of("cat", "dog", "bird", "fish", "horse");
        List<int[]> prompts = List.of(planted.idsWithBos(concat(s, s)), planted.idsWithBos(concat(other, s)),
                planted.idsWithBos(List.of("A", "B", "C", "A", "B")));
        int[][] metric = {{planted.id("red"), planted.id("cat")}, {planted.id("red"), planted.id("cat")},
                {planted.id("C"), planted.id("X")}};
        try (ExportedModel m = ExportedModel.export(planted.checkpoint(), "planted", dir)) {
            ModelConfig c = m.checkpoint().config();
            ReferenceGpt2 ref = new ReferenceGpt2(m.checkpoint());
            Map<String, Output> out = runGrad(m.sessions(), c, prompts, metric);
            assertMetricAndActivations(out, ref, prompts, metric, 1e-3, 1e-4);
            SplittableRandom rng = new SplittableRandom(3);
            for (int r : new int[]{0, 2}) {
                int T = prompts.get(r).length;
                for (HookKind k : HOOKS)
                    for (int l = 0; l < c.nLayer(); l++) {
                        Output grad = out.get(grad(k.name.apply(l)));
                        int width = width(grad, c);
                        double[][] g = new double[T][width];
                        double norm = 0;
                        for (int p = 0; p < T; p++)
                            for (int i = 0; i < width; i++) norm += Math.pow(g[p][i] = at(grad, r, p, i, width), 2);
                        norm = Math.sqrt(norm);
                        assertThat(norm).as("planted %s row %d has a gradient", k.name.apply(l), r).isGreaterThan(1e-6);
                        List<double[][]> directions = new ArrayList<>();
                        directions.add(scaled(g, 1 / norm));
                        if (r == 2) directions.add(randomUnit(rng, T, width)); // the short row: cheaper reference passes
                        for (double[][] v : directions) {
                            double expected = 0;
                            for (int p = 0; p < T; p++) for (int i = 0; i < width; i++) expected += g[p][i] * v[p][i];
                            double fd = directional(ref, prompts.get(r), metric[r], k.site, l, v);
                            assertThat(expected).as("planted %s row %d: g.v vs central difference", k.name.apply(l), r)
                                    .isCloseTo(fd, within(REL_BOUND * norm));
                        }
                    }
            }
        }
    }

    @Test
    void eachRowsGradientIsItsOwnWhateverElseIsInTheBatch(@TempDir Path dir) throws OrtException {
        Checkpoint ckpt = TestCheckpoints.random(TestCheckpoints.tiny(), 1, 0.5f);
        try (ExportedModel m = ExportedModel.export(ckpt, "tiny", dir)) {
            ModelConfig c = ckpt.config();
            Map<String, Output> batched = runGrad(m.sessions(), c, PROMPTS, METRIC);
            Map<String, Output> alone = runGrad(m.sessions(), c, List.of(PROMPTS.get(1)), new int[][]{METRIC[1]});
            for (HookKind k : HOOKS)
                for (int l = 0; l < c.nLayer(); l++) {
                    Output b = batched.get(grad(k.name.apply(l))), a = alone.get(grad(k.name.apply(l)));
                    int width = width(b, c);
                    for (int p = 0; p < PROMPTS.get(1).length; p++)
                        for (int i = 0; i < width; i++)
                            assertThat((double) at(b, 1, p, i, width)).isCloseTo(at(a, 0, p, i, width), within(1e-5));
                }
        }
    }

    /**
     * Integrated-gradient inputs: with embed_mix_weight w the token embeddings are (1 - w) E[input_ids] +
     * w E[embed_mix_ids]; metric, resid_pre and the gradient (directional derivative along it) match the
     * reference run nudged to the same embedding.
     */
    @Test
    void mixedEmbeddingsAreThePathOfIntegratedGradients(@TempDir Path dir) throws OrtException {
        Checkpoint ckpt = TestCheckpoints.random(TestCheckpoints.tiny(), 1, 0.5f);
        ModelConfig c = ckpt.config();
        int[] a = PROMPTS.get(2), b = {39, 9, 1, 12, 1, 30};
        float w = 0.3f;
        float[] wte = ckpt.array(org.milab.model.Gpt2Tensors.WTE);
        List<Nudge> toMix = new ArrayList<>();
        for (int p = 0; p < a.length; p++)
            for (int i = 0; i < c.dModel(); i++)
                toMix.add(new Nudge(Site.RESID_PRE, 0, p, i, w * ((double) wte[b[p] * c.dModel() + i] - wte[a[p] * c.dModel() + i])));
        try (ExportedModel m = ExportedModel.export(ckpt, "tiny", dir)) {
            ReferenceGpt2 ref = new ReferenceGpt2(ckpt);
            Map<String, Output> out;
            try (Feeds f = new Feeds(m.sessions().env()).batch(TokenBatch.of(List.of(a)))) {
                f.longs(METRIC_TOKEN_IDS, new long[]{METRIC[2][0], METRIC[2][1]}, 1, 2)
                        .longs(MIX_IDS, java.util.Arrays.stream(b).asLongStream().toArray(), 1, b.length)
                        .floats(MIX_WEIGHT, new float[]{w}, 1);
                out = f.run(m.sessions().session(GraphVariant.GRAD), Set.of(LOGIT_DIFF, hookResidPre(0), grad(hookAttnOut(1))));
            }
            Trace mixed = ref.run(a, Patches.none(), toMix);
            assertThat((double) out.get(LOGIT_DIFF).at(0)).isCloseTo(metric(mixed, METRIC[2]), within(1e-4));
            for (int p = 0; p < a.length; p++) assertVector(out.get(hookResidPre(0)), 0, p, mixed.residPre()[0][p], 1e-5, 1e-5, "mixed resid_pre");
            Output g = out.get(grad(hookAttnOut(1)));
            double[][] dir1 = new double[a.length][c.dModel()];
            double norm = 0;
            for (int p = 0; p < a.length; p++)
                for (int i = 0; i < c.dModel(); i++) norm += Math.pow(dir1[p][i] = at(g, 0, p, i, c.dModel()), 2);
            List<Nudge> up = new ArrayList<>(toMix), down = new ArrayList<>(toMix);
            for (int p = 0; p < a.length; p++)
                for (int i = 0; i < c.dModel(); i++) {
                    up.add(new Nudge(Site.ATTN_OUT, 1, p, i, EPS * dir1[p][i] / Math.sqrt(norm)));
                    down.add(new Nudge(Site.ATTN_OUT, 1, p, i, -EPS * dir1[p][i] / Math.sqrt(norm)));
                }
            double fd = (metric(ref.run(a, Patches.none(), up), METRIC[2]) - metric(ref.run(a, Patches.none(), down), METRIC[2])) / (2 * EPS);
            assertThat(Math.sqrt(norm)).isCloseTo(fd, within(REL_BOUND * fd));
        }
    }

    // ---- the check ----

    private void checkEveryCoordinate(Checkpoint ckpt, Path dir) throws OrtException {
        try (ExportedModel m = ExportedModel.export(ckpt, "tiny", dir)) {
            ModelConfig c = ckpt.config();
            ReferenceGpt2 ref = new ReferenceGpt2(ckpt);
            Map<String, Output> out = runGrad(m.sessions(), c, PROMPTS, METRIC);
            assertMetricAndActivations(out, ref, PROMPTS, METRIC, 1e-4, 1e-5);
            int width = TokenBatch.of(PROMPTS).width();
            double worst = 0;
            for (int r = 0; r < PROMPTS.size(); r++) {
                int T = PROMPTS.get(r).length;
                for (HookKind k : HOOKS)
                    for (int l = 0; l < c.nLayer(); l++) {
                        String hook = k.name.apply(l);
                        Output grad = out.get(grad(hook));
                        int n = width(grad, c);
                        double[][] fd = new double[T][n];
                        double scale = 0;
                        for (int p = 0; p < T; p++)
                            for (int i = 0; i < n; i++) {
                                fd[p][i] = finiteDifference(ref, PROMPTS.get(r), METRIC[r], k.site, l, p, i);
                                scale = Math.max(scale, Math.abs(fd[p][i]));
                            }
                        assertThat(scale).as("%s row %d has a non-zero gradient somewhere", hook, r).isGreaterThan(1e-3);
                        for (int p = 0; p < width; p++)
                            for (int i = 0; i < n; i++) {
                                double got = at(grad, r, p, i, n);
                                if (p >= T) {
                                    assertThat(got).as("%s row %d padded position %d", hook, r, p).isEqualTo(0.0);
                                    continue;
                                }
                                worst = Math.max(worst, Math.abs(got - fd[p][i]) / scale);
                                assertThat(got).as("%s row %d pos %d coord %d", hook, r, p, i)
                                        .isCloseTo(fd[p][i], within(REL_BOUND * scale));
                            }
                    }
            }
            System.out.printf("grad vs finite differences (%d layers, %d heads, d %d): worst |error| / max|grad| = %.2e%n",
                    c.nLayer(), c.nHead(), c.dModel(), worst);
        }
    }

    /** The metric and the forward hooks of the grad graph agree with the reference forward pass. */
    private static void assertMetricAndActivations(Map<String, Output> out, ReferenceGpt2 ref, List<int[]> prompts,
                                                   int[][] metric, double atol, double rtol) {
        ModelConfig c = ref.config();
        for (int r = 0; r < prompts.size(); r++) {
            Trace t = ref.run(prompts.get(r));
            double expected = t.finalLogits()[metric[r][0]] - t.finalLogits()[metric[r][1]];
            assertThat((double) out.get(LOGIT_DIFF).at(r)).as("metric row %d", r)
                    .isCloseTo(expected, within(atol + rtol * Math.abs(expected)));
            assertThat((double) out.get(METRIC_LOGITS).at(r, 0)).isCloseTo(t.finalLogits()[metric[r][0]],
                    within(atol + rtol * Math.abs(t.finalLogits()[metric[r][0]])));
            int d = c.dModel();
            for (int l = 0; l < c.nLayer(); l++)
                for (int p = 0; p < t.length(); p++) {
                    double[] mlp = new double[d];
                    for (int i = 0; i < d; i++)
                        mlp[i] = t.residPost()[l][p][i] - t.residPre()[l][p][i] - t.attnOut()[l][p][i];
                    double[] z = new double[d];
                    for (int h = 0; h < c.nHead(); h++) System.arraycopy(t.z()[l][p][h], 0, z, h * c.dHead(), c.dHead());
                    assertVector(out.get(hookResidPre(l)), r, p, t.residPre()[l][p], atol, rtol, "resid_pre");
                    assertVector(out.get(hookAttnOut(l)), r, p, t.attnOut()[l][p], atol, rtol, "attn_out");
                    assertVector(out.get(hookMlpOut(l)), r, p, mlp, atol, rtol, "mlp_out");
                    assertVector(out.get(hookZ(l)), r, p, z, atol, rtol, "z");
                }
        }
    }

    /** |got - expected| <= atol + rtol * max|expected| (float32 rounding scales with the vector's largest entry). */
    private static void assertVector(Output o, int row, int pos, double[] expected, double atol, double rtol, String what) {
        double max = 0;
        for (double e : expected) max = Math.max(max, Math.abs(e));
        for (int i = 0; i < expected.length; i++)
            assertThat((double) at(o, row, pos, i, expected.length)).as("%s row %d pos %d [%d]", what, row, pos, i)
                    .isCloseTo(expected[i], within(atol + rtol * max));
    }

    private static double directional(ReferenceGpt2 ref, int[] ids, int[] metric, Site site, int layer, double[][] v) {
        List<Nudge> up = new ArrayList<>(), down = new ArrayList<>();
        for (int p = 0; p < v.length; p++)
            for (int i = 0; i < v[p].length; i++) {
                up.add(new Nudge(site, layer, p, i, EPS * v[p][i]));
                down.add(new Nudge(site, layer, p, i, -EPS * v[p][i]));
            }
        return (metric(ref.run(ids, Patches.none(), up), metric) - metric(ref.run(ids, Patches.none(), down), metric)) / (2 * EPS);
    }

    private static double[][] scaled(double[][] a, double f) {
        double[][] out = new double[a.length][];
        for (int p = 0; p < a.length; p++) {
            out[p] = a[p].clone();
            for (int i = 0; i < out[p].length; i++) out[p][i] *= f;
        }
        return out;
    }

    private static double[][] randomUnit(SplittableRandom rng, int rows, int width) {
        double[][] v = new double[rows][width];
        double norm = 0;
        for (int p = 0; p < rows; p++)
            for (int i = 0; i < width; i++) norm += Math.pow(v[p][i] = rng.nextDouble() - 0.5, 2);
        return scaled(v, 1 / Math.sqrt(norm));
    }

    static double finiteDifference(ReferenceGpt2 ref, int[] ids, int[] metric, Site site, int layer, int pos, int index) {
        double up = metric(ref.run(ids, Patches.none(), List.of(new Nudge(site, layer, pos, index, EPS))), metric);
        double down = metric(ref.run(ids, Patches.none(), List.of(new Nudge(site, layer, pos, index, -EPS))), metric);
        return (up - down) / (2 * EPS);
    }

    private static double metric(Trace t, int[] metric) {
        return t.finalLogits()[metric[0]] - t.finalLogits()[metric[1]];
    }

    static Map<String, Output> runGrad(ModelSessions s, ModelConfig c, List<int[]> prompts, int[][] metric)
            throws OrtException {
        Set<String> fetch = new LinkedHashSet<>(List.of(LOGIT_DIFF, METRIC_LOGITS));
        for (int l = 0; l < c.nLayer(); l++)
            for (HookKind k : HOOKS) {
                fetch.add(k.name.apply(l));
                fetch.add(grad(k.name.apply(l)));
            }
        long[] tokens = new long[2 * prompts.size()];
        for (int r = 0; r < prompts.size(); r++) {
            tokens[2 * r] = metric[r][0];
            tokens[2 * r + 1] = metric[r][1];
        }
        TokenBatch batch = TokenBatch.of(prompts);
        try (Feeds f = new Feeds(s.env()).batch(batch)) {
            f.longs(METRIC_TOKEN_IDS, tokens, prompts.size(), 2);
            f.longs(MIX_IDS, batch.ids(), batch.rows(), batch.width()).floats(MIX_WEIGHT, new float[batch.rows()], batch.rows());
            return f.run(s.session(GraphVariant.GRAD), fetch);
        }
    }

    /** Coordinates per position: d_model, or heads x d_head for hook_z (flattened head-major). */
    private static int width(Output o, ModelConfig c) {
        return o.shape().length == 4 ? c.nHead() * c.dHead() : c.dModel();
    }

    private static float at(Output o, int row, int pos, int index, int width) {
        return o.data()[(int) ((row * o.shape()[1] + pos) * width + index)];
    }

    private static List<String> concat(List<String> a, List<String> b) {
        List<String> out = new ArrayList<>(a);
        out.addAll(b);
        return out;
    }
}
