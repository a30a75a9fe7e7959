package org.milab.spark;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/** What the circuit sweep sends to executors, without Spark: masks and partitions. */
class EdgeTaskTest {
    @Test
    void sparseMasksComeBackBitForBit() {
        SplittableRandom rng = new SplittableRandom(7);
        float[] circuit = new float[500], single = new float[500], alpha = new float[500];
        for (int k = 0; k < 17; k++) circuit[rng.nextInt(500)] = 1f; // a circuit: mostly 0
        java.util.Arrays.fill(single, 1f);
        single[123] = 0f; // a single-edge patch: mostly 1
        java.util.Arrays.fill(alpha, 1f);
        for (int e = 0; e < 40; e++) alpha[e] = 0.35f; // EAP-IG-like input edges at alpha
        alpha[41] = -0.0f; // signed zero is not 0 bit for bit, and must survive
        for (float[] m : List.of(circuit, single, alpha)) {
            EdgeTask.SparseMask s = EdgeTask.SparseMask.of(m);
            float[] back = s.dense();
            assertThat(back).hasSize(m.length);
            for (int e = 0; e < m.length; e++)
                assertThat(Float.floatToRawIntBits(back[e])).as("edge %d", e).isEqualTo(Float.floatToRawIntBits(m[e]));
        }
        assertThat(EdgeTask.SparseMask.of(circuit).at().length).isLessThanOrEqualTo(17);
        assertThat(EdgeTask.SparseMask.of(single).at()).containsExactly(123);
    }

    @Test
    void partitionsAreRunsOfWholeCalls() {
        for (int[] c : new int[][]{{256, 4, 2, 1024}, {256, 16, 2, 1024}, {250, 16, 3, 1024}, {10, 4, 8, 1024}, {5000, 4, 2, 300}, {1, 4, 2, 1024}}) {
            int rows = c[0], batch = c[1], slots = c[2], per = c[3];
            List<int[]> parts = EdgeTask.partitions(rows, batch, slots, per);
            int calls = (rows + batch - 1) / batch;
            assertThat(parts).as("%s", java.util.Arrays.toString(c))
                    .hasSize(Math.min(calls, Math.max(slots, (rows + per - 1) / per)));
            int next = 0;
            for (int[] p : parts) {
                assertThat(p[0]).as("contiguous").isEqualTo(next);
                assertThat(p[0] % batch).as("starts at a call boundary").isZero();
                assertThat(p[1]).isGreaterThan(p[0]);
                assertThat(p[1] == rows || p[1] % batch == 0).as("ends at a call boundary or the job's end").isTrue();
                next = p[1];
            }
            assertThat(next).as("every row once").isEqualTo(rows);
        }
    }
}
