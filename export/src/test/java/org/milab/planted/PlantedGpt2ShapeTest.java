package org.milab.planted;

import org.junit.jupiter.api.Test;
import org.milab.model.Gpt2Tensors;
import org.milab.model.ModelConfig;
import org.milab.model.ReferenceGpt2;
import org.milab.model.ReferenceGpt2.Patches;
import org.milab.model.ReferenceGpt2.ZPatch;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The hand-written circuit of {@link PlantedGpt2Shape} does what its javadoc says, run through the plain-Java reference
 * (never the graphs): on a reduced shape (4 layers x 4 heads of 64, a 3,000-token vocabulary: the same code path as
 * GPT-2 small's shape, whose 50,257-row unembedding would make every reference pass slow) repeated random sequences
 * are completed by induction, corrupt twins (first half reversed) predict the token the shuffle licenses, the designed
 * heads attend where they should, and zeroing the induction head's output removes the answer's margin.
 */
class PlantedGpt2ShapeTest {
    static final ModelConfig SMALL = new ModelConfig(4, 4, 256, 3000, 64, 1e-5, ModelConfig.GELU_TANH, false);

    @Test
    void inductionOnRepeatedSequencesAndNotOnCorruptTwins() {
        PlantedGpt2Shape.Built b = PlantedGpt2Shape.build(SMALL, 5);
        ReferenceGpt2 ref = new ReferenceGpt2(b.checkpoint());
        int[] prev = PlantedGpt2Shape.previousTokenHead(SMALL), ind = PlantedGpt2Shape.inductionHead(SMALL);
        Random rnd = new Random(9);
        int n = 10, k = 6;
        double minClean = Double.MAX_VALUE, maxAblated = -Double.MAX_VALUE;
        for (int trial = 0; trial < 6; trial++) {
            List<Integer> pool = new ArrayList<>();
            for (int t = 1; t < SMALL.vocabSize(); t++) pool.add(t);
            Collections.shuffle(pool, rnd);
            int[] r = pool.subList(0, n).stream().mapToInt(Integer::intValue).toArray();
            int[] clean = prompt(r, r, k);
            int answer = r[k];
            // corrupt twin: the first half reversed, so the final token's earlier occurrence is followed by another token
            int[] rp = new int[n];
            for (int i = 0; i < n; i++) rp[i] = r[n - 1 - i];
            int[] corrupt = prompt(rp, r, k);
            int at = indexOf(rp, r[k - 1]), wrong = rp[(at + 1) % n];
            assertThat(wrong).isNotEqualTo(answer);

            ReferenceGpt2.Trace tc = ref.run(clean), tx = ref.run(corrupt);
            double[] lc = tc.finalLogits(), lx = tx.finalLogits();
            assertThat(argmax(lc)).as("clean top-1 is the induction answer").isEqualTo(answer);
            assertThat(argmax(lx)).as("corrupt top-1 is the token the shuffle licenses").isEqualTo(wrong);
            double ldClean = lc[answer] - lc[wrong];
            minClean = Math.min(minClean, ldClean);
            assertThat(lx[answer] - lx[wrong]).as("corrupt logit difference").isLessThan(-3);

            int last = clean.length - 1;
            // previous-token head: every position >= 1 attends to its predecessor
            for (int q = 1; q <= last; q++)
                assertThat(tc.pattern()[prev[0]][prev[1]][q][q - 1]).as("prev-token attention at " + q).isGreaterThan(0.9);
            // induction head at the final position: the token after the earlier occurrence of r[k-1] (at position k of BOS + r)
            assertThat(tc.pattern()[ind[0]][ind[1]][last][k + 1]).as("induction attention").isGreaterThan(0.8);

            List<ZPatch> zero = new ArrayList<>();
            for (int p = 0; p <= last; p++) zero.add(new ZPatch(ind[0], p, ind[1], new float[PlantedGpt2Shape.D_HEAD]));
            double[] la = ref.run(clean, new Patches(zero, List.of())).finalLogits();
            maxAblated = Math.max(maxAblated, Math.abs(la[answer] - la[wrong]));
        }
        assertThat(minClean).as("smallest clean logit difference").isGreaterThan(5);
        assertThat(maxAblated).as("largest |logit difference| with the induction head zeroed").isLessThan(0.2 * minClean);
    }

    @Test
    void deterministicAndShapedLikeGpt2() {
        float[] a = PlantedGpt2Shape.build(SMALL, 3).checkpoint().array(Gpt2Tensors.attnW(1));
        float[] b = PlantedGpt2Shape.build(SMALL, 3).checkpoint().array(Gpt2Tensors.attnW(1));
        float[] c = PlantedGpt2Shape.build(SMALL, 4).checkpoint().array(Gpt2Tensors.attnW(1));
        assertThat(Arrays.equals(a, b)).isTrue();
        assertThat(Arrays.equals(a, c)).isFalse();
        ModelConfig g = PlantedGpt2Shape.gpt2SmallShape(), real = ModelConfig.gpt2Small();
        assertThat(List.of(g.nLayer(), g.nHead(), g.dModel(), g.vocabSize(), g.nPositions()))
                .isEqualTo(List.of(real.nLayer(), real.nHead(), real.dModel(), real.vocabSize(), real.nPositions()));
        assertThat(PlantedGpt2Shape.build(SMALL, 3).truth().induction()).matches("L\\d+H\\d+");
    }

    private static int[] prompt(int[] first, int[] second, int k) {
        int[] p = new int[1 + first.length + k];
        p[0] = 0;
        System.arraycopy(first, 0, p, 1, first.length);
        System.arraycopy(second, 0, p, 1 + first.length, k);
        return p;
    }

    private static int indexOf(int[] a, int x) {
        for (int i = 0; i < a.length; i++) if (a[i] == x) return i;
        throw new AssertionError(x + " not found");
    }

    private static int argmax(double[] a) {
        int best = 0;
        for (int i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
        return best;
    }
}
