package org.milab.engine;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.milab.lab.LabFixtures;
import org.milab.model.InMemoryCheckpoint;
import org.milab.model.ModelConfig;
import org.milab.model.RandomCheckpoints;
import org.milab.runtime.Device;
import org.milab.runtime.ModelSessions;

import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The double-precision MLP both ways: ONNX Runtime's double kernels (what path patching runs) against the plain-Java
 * loop (an independent computation: its own products, its own GELU), on one block of GPT-2 small's width and on a
 * small model; and each way's numbers independent of batch size and thread count, bit for bit.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class Gpt2MlpTest {
    /**
     * Declared tolerance between the two ways, relative to the vector's largest output: double sums of 3,072 products
     * in a different order (and another tanh) differ by some ulps of the partial sums, far below float precision.
     */
    static final double TOLERANCE = 1e-12;

    ModelSessions one, two;
    InMemoryCheckpoint gpt2Block, small;

    @BeforeAll
    void open(@TempDir Path dir) {
        LabFixtures.exportRandomWordModel(dir, "mlp", 4, List.of());
        Path graphs = new org.milab.catalog.ModelLayout(dir, "mlp").graphDir();
        one = ModelSessions.open(graphs, Device.CPU, 1);
        two = ModelSessions.open(graphs, Device.CPU, 2);
        // one block of GPT-2 small's shape (d_model 768, n_inner 3,072): ORT's GEMM tiles it as it tiles GPT-2
        gpt2Block = RandomCheckpoints.generate(new ModelConfig(1, 12, 768, 50, 64, 1e-5, ModelConfig.GELU_TANH, false), 7, 1f);
        small = RandomCheckpoints.generate(new ModelConfig(2, 4, 32, 50, 24, 1e-5, ModelConfig.GELU_TANH, false), 9, 0.5f);
    }

    @AfterAll
    void close() {
        one.close();
        two.close();
    }

    /** Ordinary vectors, a zero vector (index 2) and a repeat of vector 0 (index 4). */
    private static double[][] vectors(int n, int d, long seed) {
        Random rnd = new Random(seed);
        double[][] xs = new double[n][d];
        for (int v = 0; v < n; v++)
            if (v != 2) for (int i = 0; i < d; i++) xs[v][i] = v == 4 ? xs[0][i] : 3 * rnd.nextGaussian();
        return xs;
    }

    @Test
    void ortAgreesWithThePlainJavaLoop() {
        for (InMemoryCheckpoint w : List.of(gpt2Block, small)) {
            int d = w.config().dModel();
            double[][] xs = vectors(19, d, 5);
            try (Gpt2Mlp ort = new Gpt2Mlp(w, 0, two)) {
                double[][] got = ort.out(xs), want = new Gpt2Mlp(w, 0).out(xs);
                double largest = 0, worst = 0;
                for (int v = 0; v < xs.length; v++) {
                    double scale = 1;
                    for (double y : want[v]) scale = Math.max(scale, Math.abs(y));
                    for (int i = 0; i < d; i++) {
                        assertThat(Math.abs(got[v][i] - want[v][i])).as("d=%d vector %d dim %d (scale %g)", d, v, i, scale)
                                .isLessThanOrEqualTo(TOLERANCE * scale);
                        worst = Math.max(worst, Math.abs(got[v][i] - want[v][i]) / scale);
                    }
                    largest = Math.max(largest, scale);
                }
                System.out.printf("Gpt2MlpTest: d=%d, ORT vs Java, largest relative difference %.2e%n", d, worst);
                assertThat(largest).as("not vacuous: the MLP's output is far from zero").isGreaterThan(1.0);
            }
        }
    }

    @Test
    void ortNumbersDoNotDependOnBatchSizeOrThreadCount() {
        int d = gpt2Block.config().dModel();
        // more vectors than one ORT call takes, so the batch is cut
        double[][] xs = vectors(Gpt2Mlp.MAX_ROWS + 5, d, 6);
        try (Gpt2Mlp a = new Gpt2Mlp(gpt2Block, 0, two); Gpt2Mlp b = new Gpt2Mlp(gpt2Block, 0, one)) {
            double[][] batched = a.out(xs), oneThread = b.out(xs);
            for (int v = 0; v < xs.length; v++) assertThat(oneThread[v]).as("vector %d, 1 vs 2 threads", v).containsExactly(batched[v]);
            for (int v : new int[]{0, 1, 2, 3, 4, 17, Gpt2Mlp.MAX_ROWS - 1, Gpt2Mlp.MAX_ROWS, Gpt2Mlp.MAX_ROWS + 4})
                assertThat(a.out(xs[v])).as("vector %d alone vs in the batch", v).containsExactly(batched[v]);
            double[][] some = java.util.Arrays.copyOfRange(xs, 3, 40);
            double[][] part = a.out(some);
            for (int v = 0; v < some.length; v++) assertThat(part[v]).as("vector %d in a batch of 37", v + 3).containsExactly(batched[v + 3]);
            assertThat(batched[4]).containsExactly(batched[0]);
        }
    }

    /** The Java loop spreads vectors over the cores; each is computed whole by one thread, so the bits cannot move. */
    @Test
    void javaBatchedEqualsOneVectorAtATimeBitForBit() {
        Gpt2Mlp mlp = new Gpt2Mlp(small, 1);
        double[][] xs = vectors(37, small.config().dModel(), 3);
        double[][] got = mlp.out(xs);
        for (int v = 0; v < xs.length; v++) assertThat(got[v]).as("vector " + v).containsExactly(mlp.out(xs[v]));
        assertThat(got[4]).isEqualTo(got[0]);
    }
}
