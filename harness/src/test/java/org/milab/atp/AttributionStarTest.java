package org.milab.atp;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.milab.graph.HookNames;
import org.milab.lab.LabFixtures;
import org.milab.lab.LabModel;
import org.milab.model.InMemoryCheckpoint;
import org.milab.model.ModelConfig;
import org.milab.model.RandomCheckpoints;
import org.milab.model.ReferenceGpt2;
import org.milab.engine.TokenIds;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * AtP*'s QK fix on a small random GPT-2 (2 layers x 4 heads, d 32), every part against the plain-Java reference in
 * double precision, never against the fix's own arithmetic:
 * <ul>
 *   <li>the logit shift of a layer-1 head when a layer-0 head is patched at one position: the reference run with the
 *       patch, MLP 0's output and ln1's scale of block 1 held at the base run's values, gives patched q and k; the
 *       first-order logit change {@code (q' - q) . k + q . (k' - k)} (over sqrt(d_head)) built from them must equal
 *       the fix's shift;</li>
 *   <li>the metric change through the pattern, weighted by {@code dm/dA = dm/dz . v}: a central difference of the
 *       reference's metric with its hook_pattern moved along {@code softmax(S + shift) - A - J shift} must equal the
 *       fix's correction for that head, and the correction summed over later heads is the node's.</li>
 * </ul>
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class AttributionStarTest {
    Path root;
    LabModel model;
    InMemoryCheckpoint ckpt;
    ReferenceGpt2 ref;

    @BeforeAll
    void setUp(@TempDir Path dir) {
        root = dir;
        model = LabFixtures.randomWordModel(root, "words", 11);
        ckpt = RandomCheckpoints.generate(model.config(), 11, 0.5f); // the same weights, independently
        ref = new ReferenceGpt2(ckpt);
    }

    @AfterAll
    void close() {
        model.close();
    }

    @Test
    void qkFixMatchesTheReferenceWithFrozenLayerNorm() {
        ModelConfig c = model.config();
        int H = c.nHead(), dh = c.dHead();
        int[] baseIds = {0, 5, 9, 14, 3, 22, 7, 11}, otherIds = {0, 17, 2, 14, 19, 6, 7, 30};
        int trueTok = 9, wrongTok = 17, T = baseIds.length;
        List<AttributionNode> nodes = AttributionNode.all(c);
        Set<String> hooks = new LinkedHashSet<>();
        nodes.forEach(n -> hooks.add(n.hook()));
        List<GradientPass.Row> rows = GradientPass.run(model, List.of(
                GradientPass.Input.plain(new TokenIds(baseIds), new int[]{trueTok, wrongTok}),
                GradientPass.Input.plain(new TokenIds(otherIds), new int[]{trueTok, wrongTok})), hooks, 2);
        GradientPass.Row base = rows.get(0), other = rows.get(1);
        QkFix fix = new QkFix(ckpt);
        QkFix.Layer[] layers = fix.layers(base);
        double[][] correction = fix.correction(nodes, base, other);

        Map<String, double[][]> baseHooks = capture(baseIds, Map.of());
        Map<String, double[][]> otherHooks = capture(otherIds, Map.of());
        // the base pattern the fix recomputes is the reference's
        double[][] refPattern = baseHooks.get(HookNames.hookPattern(1));
        for (int h = 0; h < H; h++)
            for (int t = 0; t < T; t++)
                for (int s = 0; s <= t; s++)
                    assertThat(layers[1].pattern[h][t][s]).isCloseTo(refPattern[h * T + t][s], within(1e-5));

        double largest = 0;
        int checked = 0;
        for (int u : new int[]{0, 3})
            for (int p : new int[]{2, 5, T - 1}) {
                AttributionNode node = nodes.stream().filter(n -> n.kind() == AttributionNode.Kind.HEAD && n.layer() == 0
                        && n.head() == u).findFirst().orElseThrow();
                // reference: head u's z at p from the other run, MLP 0 and block 1's ln1 scale held at the base run's
                Map<String, double[][]> patches = new HashMap<>();
                double[][] z = copy(baseHooks.get(HookNames.hookZ(0)));
                z[p * H + u] = otherHooks.get(HookNames.hookZ(0))[p * H + u].clone();
                patches.put(HookNames.hookZ(0), z);
                patches.put(HookNames.hookMlpOut(0), baseHooks.get(HookNames.hookMlpOut(0)));
                patches.put(HookNames.lnScale("blocks.1.ln1"), baseHooks.get(HookNames.lnScale("blocks.1.ln1")));
                Map<String, double[][]> patched = capture(baseIds, patches);
                double[][] q0 = baseHooks.get(HookNames.hookQ(1)), k0 = baseHooks.get(HookNames.hookK(1)),
                        q1 = patched.get(HookNames.hookQ(1)), k1 = patched.get(HookNames.hookK(1));
                float[] dx = fix.lnChange(1, layers[1].scale[p], fix.residualChange(node, base, other, p));
                double sum = 0;
                for (int h = 0; h < H; h++) {
                    double[][] shift = layers[1].logitShift(h, p, dx);
                    double[][] direction = new double[H * T][T];
                    for (int t = p; t < T; t++) {
                        double[] moved = new double[t + 1], lin = new double[t + 1];
                        double mean = 0;
                        for (int s = 0; s <= t; s++) {
                            double want = (dot(q1[t * H + h], k0[s * H + h]) - dot(q0[t * H + h], k0[s * H + h])
                                    + dot(q0[t * H + h], k1[s * H + h]) - dot(q0[t * H + h], k0[s * H + h])) / Math.sqrt(dh);
                            assertThat(shift[t][s]).as("shift u%d p%d h%d [%d,%d]", u, p, h, t, s)
                                    .isCloseTo(want, within(1e-4 * (1 + Math.abs(want))));
                            largest = Math.max(largest, Math.abs(want));
                            moved[s] = dot(q0[t * H + h], k0[s * H + h]) / Math.sqrt(dh) + want;
                            lin[s] = want;
                            mean += refPattern[h * T + t][s] * want;
                        }
                        double[] exact = softmax(moved);
                        for (int s = 0; s <= t; s++) {
                            double a = refPattern[h * T + t][s];
                            direction[h * T + t][s] = (exact[s] - a) - a * (lin[s] - mean);
                        }
                    }
                    double want = patternDerivative(baseIds, trueTok, wrongTok, refPattern, direction);
                    double got = layers[1].correction(h, p, dx);
                    assertThat(got).as("correction u%d p%d h%d", u, p, h).isCloseTo(want, within(1e-4 * (1 + Math.abs(want))));
                    sum += got;
                    checked += Math.abs(want) > 1e-3 ? 1 : 0;
                }
                assertThat(correction[nodes.indexOf(node)][p]).isCloseTo(sum, within(1e-9 * (1 + Math.abs(sum))));
            }
        // the checks had something to check: logits moved by O(0.1) and the softmax's curvature mattered somewhere
        assertThat(largest).isGreaterThan(0.1);
        assertThat(checked).isGreaterThan(0);
        // layer-1 heads feed no later head: their correction is exactly 0
        for (int n = 0; n < nodes.size(); n++)
            if (nodes.get(n).layer() == 1 && nodes.get(n).kind() != AttributionNode.Kind.RESID_PRE)
                for (double v : correction[n]) assertThat(v).isZero();
    }

    /** The Java API's {@code NodeScore.star} is AtP* summed over positions and averaged over pairs, as the stage's; off, it is NaN and nothing else moves. */
    @Test
    void apiReportsAtpStar() {
        int[] a = {0, 5, 9, 14, 3, 22, 7, 11}, b = {0, 17, 2, 14, 19, 6, 7, 30};
        PromptPair pair = new PromptPair(0, new TokenIds(a), new TokenIds(b), 9, 17);
        AttributionPatching.Result r = AttributionPatching.run(model, List.of(pair), 4, 0, true);
        try (org.milab.api.HookedModel m = org.milab.api.HookedModel.open("words",
                org.milab.api.HookedModel.Options.defaults().withRoot(root).withThreads(2))) {
            org.milab.api.Attribution at = m.attribute(new org.milab.api.AttributionTask(
                    List.of(new org.milab.api.AttributionTask.Pair(a, b, 9, 17)), 0));
            int differs = 0;
            for (int n = 0; n < r.nodes().size(); n++) {
                double want = java.util.Arrays.stream(r.pairs().get(0).star()[n]).sum();
                org.milab.api.Attribution.NodeScore got = at.node(r.nodes().get(n).id());
                assertThat(got.star()).as(r.nodes().get(n).id()).isCloseTo(want, within(1e-9 * (1 + Math.abs(want))));
                differs += Math.abs(got.star() - got.denoising()) > 1e-6 ? 1 : 0;
            }
            assertThat(differs).as("nodes whose AtP* differs from AtP").isGreaterThan(0);
            // off: AtP* is NaN and every other score is the same double
            org.milab.api.Attribution off = m.attribute(new org.milab.api.AttributionTask(
                    List.of(new org.milab.api.AttributionTask.Pair(a, b, 9, 17)), 0).withAtpStar(false));
            for (int n = 0; n < at.nodes().size(); n++) {
                org.milab.api.Attribution.NodeScore on = at.nodes().get(n), o = off.nodes().get(n);
                assertThat(o.star()).as(on.id()).isNaN();
                assertThat(o.denoising()).as(on.id()).isEqualTo(on.denoising());
                assertThat(o.noising()).as(on.id()).isEqualTo(on.noising());
            }
        }
    }

    /** d metric along {@code direction} of block 1's hook_pattern, by a central difference of the reference. */
    private double patternDerivative(int[] ids, int trueTok, int wrongTok, double[][] pattern, double[][] direction) {
        double eps = 1e-4;
        double[] m = new double[2];
        for (int side = 0; side < 2; side++) {
            double[][] moved = copy(pattern);
            double sign = side == 0 ? eps : -eps;
            for (int r = 0; r < moved.length; r++)
                for (int s = 0; s < moved[r].length; s++) moved[r][s] += sign * direction[r][s];
            double[] logits = ref.run(ids, (hook, rows) -> {
                if (hook.equals(HookNames.hookPattern(1))) overwrite(rows, moved);
            }).finalLogits();
            m[side] = logits[trueTok] - logits[wrongTok];
        }
        return (m[0] - m[1]) / (2 * eps);
    }

    /** Every hook of a reference run on {@code ids}, with the rows of each hook in {@code patches} replaced first. */
    private Map<String, double[][]> capture(int[] ids, Map<String, double[][]> patches) {
        Map<String, double[][]> out = new HashMap<>();
        ref.run(ids, (hook, rows) -> {
            double[][] p = patches.get(hook);
            if (p != null) overwrite(rows, p);
            out.put(hook, copy(rows));
        });
        return out;
    }

    /** In place: the reference keeps references to its rows and reads them after the visit. */
    private static void overwrite(double[][] rows, double[][] values) {
        for (int r = 0; r < rows.length; r++) System.arraycopy(values[r], 0, rows[r], 0, rows[r].length);
    }

    private static double[][] copy(double[][] a) {
        double[][] out = new double[a.length][];
        for (int i = 0; i < a.length; i++) out[i] = a[i].clone();
        return out;
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }

    private static double[] softmax(double[] s) {
        double max = Double.NEGATIVE_INFINITY, sum = 0;
        for (double v : s) max = Math.max(max, v);
        double[] e = new double[s.length];
        for (int i = 0; i < s.length; i++) sum += (e[i] = Math.exp(s[i] - max));
        for (int i = 0; i < s.length; i++) e[i] /= sum;
        return e;
    }
}
