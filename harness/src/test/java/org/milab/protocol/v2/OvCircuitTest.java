package org.milab.protocol.v2;

import org.junit.jupiter.api.Test;
import org.milab.model.Gpt2Tensors;
import org.milab.model.InMemoryCheckpoint;
import org.milab.planted.GroundTruth;
import org.milab.planted.Planted;
import org.milab.planted.PlantedInductionModel;
import org.milab.planted.PlantedSpec;
import org.milab.planted.PlantedVocabulary;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * The OV readings v2 reports beside its decisions: eigenvalue positivity on matrices whose eigenvalues are known,
 * the effective embedding against a hand computation, and both on the planted negative preset (its truth read
 * here, in the test only).
 */
class OvCircuitTest {
    @Test
    void eigenvaluePositivityOfKnownMatrices() {
        assertThat(OvCopying.eigenvaluePositivity(new double[][]{{2, 0}, {0, 3}})).isCloseTo(1, within(1e-12));
        assertThat(OvCopying.eigenvaluePositivity(new double[][]{{-2, 0}, {0, -3}})).isCloseTo(-1, within(1e-12));
        assertThat(OvCopying.eigenvaluePositivity(new double[][]{{0, -1}, {1, 0}})).isCloseTo(0, within(1e-12)); // +-i
        assertThat(OvCopying.eigenvaluePositivity(new double[][]{{1, 0}, {0, -3}})).isCloseTo(-0.5, within(1e-12));
    }

    /** A low-rank, non-symmetric circuit M = A B (as an OV circuit is): its value must be that of B A's eigenvalues. */
    @Test
    void eigenvaluePositivityOfALowRankCircuitMatchesItsFactors() {
        java.util.Random rnd = new java.util.Random(7);
        int n = 120, r = 16;
        double[][] a = new double[n][r], b = new double[r][n];
        for (double[] row : a) for (int j = 0; j < r; j++) row[j] = rnd.nextGaussian();
        for (double[] row : b) for (int j = 0; j < n; j++) row[j] = rnd.nextGaussian() + (j % 3 == 0 ? 0.5 : 0);
        double[][] m = new double[n][n], ba = new double[r][r];
        for (int i = 0; i < n; i++) for (int k = 0; k < r; k++) for (int j = 0; j < n; j++) m[i][j] += a[i][k] * b[k][j];
        for (int i = 0; i < r; i++) for (int k = 0; k < n; k++) for (int j = 0; j < r; j++) ba[i][j] += b[i][k] * a[k][j];
        org.apache.commons.math3.linear.EigenDecomposition e =
                new org.apache.commons.math3.linear.EigenDecomposition(new org.apache.commons.math3.linear.Array2DRowRealMatrix(ba));
        double sum = 0, abs = 0;
        for (int i = 0; i < r; i++) {
            sum += e.getRealEigenvalues()[i];
            abs += Math.hypot(e.getRealEigenvalues()[i], e.getImagEigenvalues()[i]);
        }
        assertThat(OvCopying.eigenvaluePositivity(m)).isCloseTo(sum / abs, within(1e-9));
    }

    static int[] pool(Planted p) {
        return IntStream.range(0, p.vocabulary().size()).filter(i -> !p.vocabulary().get(i).equals(PlantedVocabulary.BOS)
                && !p.vocabulary().get(i).equals(PlantedVocabulary.UNK)).toArray();
    }

    @Test
    void effectiveEmbeddingIsTheEmbeddingPlusBlockZerosMlp() {
        Planted p = PlantedInductionModel.build(PlantedSpec.preset("negative"));
        Map<String, float[]> w = new LinkedHashMap<>();
        for (String n : p.checkpoint().names()) w.put(n, p.checkpoint().array(n));
        int d = p.checkpoint().config().dModel(), inner = p.checkpoint().config().nInner();
        java.util.Arrays.fill(w.get(Gpt2Tensors.fcW(0)), 0f);
        java.util.Arrays.fill(w.get(Gpt2Tensors.fcB(0)), 0f);
        java.util.Arrays.fill(w.get(Gpt2Tensors.mlpProjW(0)), 0f);
        java.util.Arrays.fill(w.get(Gpt2Tensors.mlpProjB(0)), 0f);
        w.get(Gpt2Tensors.fcB(0))[0] = 1f;                       // hidden unit 0 = GELU(1) for every token
        w.get(Gpt2Tensors.mlpProjW(0))[0 * d + 7] = 2f;          // ... written twice into dimension 7
        w.get(Gpt2Tensors.mlpProjB(0))[9] = 0.5f;
        InMemoryCheckpoint c = new InMemoryCheckpoint(p.checkpoint().config(), w);
        int[] ids = {3, 5};
        double[][] eff = new OvCopying(c, ids).effectiveEmbeddings(ids);
        double gelu1 = 0.5 * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (1 + 0.044715)));
        float[] wte = w.get(Gpt2Tensors.WTE);
        for (int a = 0; a < ids.length; a++)
            for (int i = 0; i < d; i++) {
                double expected = wte[ids[a] * d + i] + (i == 7 ? 2 * gelu1 : 0) + (i == 9 ? 0.5 : 0);
                assertThat(eff[a][i]).as("token %d dim %d", ids[a], i).isCloseTo(expected, within(1e-6));
            }
        assertThat(inner).isPositive();
    }

    @Test
    void thePlantedInductionHeadCopiesAndItsNegativeHeadSuppressesByBothReadings() {
        Planted p = PlantedInductionModel.build(PlantedSpec.preset("negative"));
        GroundTruth.HeadTruth ind = p.groundTruth().head(GroundTruth.Role.INDUCTION),
                neg = p.groundTruth().heads(GroundTruth.Role.NEGATIVE_COPY).get(0);
        OvCopying ov = new OvCopying(p.checkpoint(), pool(p));
        for (boolean effective : new boolean[]{false, true}) {
            double[][][] m = ov.layer(ind.layer(), effective);
            assertThat(OvCopying.eigenvaluePositivity(m[ind.head()])).as("induction, effective=" + effective).isGreaterThan(0.9);
            assertThat(OvCopying.eigenvaluePositivity(m[neg.head()])).as("negative, effective=" + effective).isLessThan(-0.9);
            assertThat(CopyingStage.ownRankFractions(m[ind.head()], 1)[0]).isEqualTo(1.0);
            assertThat(CopyingStage.ownRankFractions(m[neg.head()], 1)[1]).isEqualTo(1.0);
        }
    }
}
