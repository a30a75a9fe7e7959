package org.milab.protocol.reference;

import org.milab.lab.ExportedWeights;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.milab.lab.LabFixtures;
import org.milab.lab.LabModel;
import org.milab.model.Gpt2Tensors;
import org.milab.model.InMemoryCheckpoint;
import org.milab.model.ModelConfig;
import org.milab.model.RandomCheckpoints;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** Every decision rule of S16 on hand-made values, the correlations, and the OV/QK margins against an independent computation. */
class CharacterizationRulesTest {

    @Test
    void positionStatusBranches() {
        assertThat(CharacterizationStage.positionStatus(null, null, null, null)).isEqualTo("insufficient_positions");
        assertThat(CharacterizationStage.positionStatus(-0.1, 0.0, null, null)).isEqualTo("no_position_effect");
        assertThat(CharacterizationStage.positionStatus(0.2, null, null, 0.3)).isEqualTo("distractor_like");
        assertThat(CharacterizationStage.positionStatus(0.2, null, null, 0.2)).isEqualTo("distractor_like"); // >= ties
        assertThat(CharacterizationStage.positionStatus(0.2, 0.22, null, null)).isEqualTo("position_nonspecific");
        assertThat(CharacterizationStage.positionStatus(0.2, 0.26, null, null)).isEqualTo("both_source_and_destination");
        assertThat(CharacterizationStage.positionStatus(0.3, -0.5, 0.31, null)).isEqualTo("position_nonspecific"); // source before previous
        assertThat(CharacterizationStage.positionStatus(0.3, null, null, null)).isEqualTo("destination_specific");
        assertThat(CharacterizationStage.positionStatus(-0.3, 0.1, null, 0.05)).isEqualTo("source_specific");
    }

    @Test
    void alignmentStatusBranches() {
        assertThat(CharacterizationStage.alignmentStatus(0.5, null, 0.1, null, 3)).isEqualTo("insufficient_examples");
        assertThat(CharacterizationStage.alignmentStatus(null, null, 0.1, null, 10)).isEqualTo("insufficient_examples");
        assertThat(CharacterizationStage.alignmentStatus(0.5, null, null, null, 10)).isEqualTo("insufficient_examples");
        assertThat(CharacterizationStage.alignmentStatus(0.0, null, 0.1, null, 10)).isEqualTo("not_aligned");
        assertThat(CharacterizationStage.alignmentStatus(0.5, null, 0.0, null, 10)).isEqualTo("not_aligned");
        assertThat(CharacterizationStage.alignmentStatus(0.5, 0.5, 0.1, null, 10)).isEqualTo("aligned_but_control_like");
        assertThat(CharacterizationStage.alignmentStatus(0.5, 0.1, 0.1, 0.1, 10)).isEqualTo("aligned_but_control_like");
        assertThat(CharacterizationStage.alignmentStatus(0.5, 0.4, 0.1, 0.05, 4)).isEqualTo("aligned_positive_specific");
    }

    @Test
    void ovQkThresholds() {
        assertThat(HeadCircuit.ovStatus(null)).isEqualTo("ov_unavailable");
        assertThat(HeadCircuit.ovStatus(Double.NaN)).isEqualTo("ov_unavailable");
        // a margin within the decision tolerance is float noise, not support (issue 10)
        assertThat(HeadCircuit.ovStatus(1e-9)).isEqualTo("ov_weak");
        assertThat(HeadCircuit.ovStatus(2e-5)).isEqualTo("ov_supports_copy");
        assertThat(HeadCircuit.ovStatus(0.0)).isEqualTo("ov_weak");
        assertThat(HeadCircuit.ovStatus(-0.1)).isEqualTo("ov_weak");
        assertThat(HeadCircuit.ovStatus(-0.1000001)).isEqualTo("ov_contradicts_copy");
        assertThat(HeadCircuit.qkStatus(null)).isEqualTo("qk_unavailable");
        assertThat(HeadCircuit.qkStatus(0.5)).isEqualTo("qk_supports_source_selection");
        assertThat(HeadCircuit.qkStatus(-0.1)).isEqualTo("qk_weak");
        assertThat(HeadCircuit.qkStatus(-0.2)).isEqualTo("qk_contradicts_source_selection");
    }

    @Test
    void seedStatusCascade() {
        String ok = "ov_supports_copy", qk = "qk_weak", pos = "destination_specific";
        assertThat(CharacterizationStage.seedStatus(null, 0.1, 0.0, 0.2, pos, ok, qk)).isEqualTo("insufficient_characterization_data");
        assertThat(CharacterizationStage.seedStatus(0.1, null, 0.0, 0.2, pos, ok, qk)).isEqualTo("insufficient_characterization_data");
        assertThat(CharacterizationStage.seedStatus(0.0, 0.1, 0.1, 0.2, pos, ok, qk)).isEqualTo("characterization_falsifies");
        assertThat(CharacterizationStage.seedStatus(0.1, 0.2, 0.1, 0.0, pos, ok, qk)).isEqualTo("characterization_falsifies");
        assertThat(CharacterizationStage.seedStatus(0.1, 0.2, 0.1, 0.2, "no_position_effect", ok, qk)).isEqualTo("characterization_falsifies");
        assertThat(CharacterizationStage.seedStatus(0.1, 0.2, 0.1, 0.2, "distractor_like", ok, qk)).isEqualTo("characterization_falsifies");
        assertThat(CharacterizationStage.seedStatus(0.1, 0.2, 0.1, 0.2, pos, "ov_contradicts_copy", "qk_contradicts_source_selection"))
                .isEqualTo("characterization_falsifies");
        assertThat(CharacterizationStage.seedStatus(0.1, 0.2, 0.1, 0.2, pos, ok, qk)).isEqualTo("characterization_supports");
        assertThat(CharacterizationStage.seedStatus(0.1, 0.2, 0.1, null, "position_nonspecific", "ov_weak", "qk_supports_source_selection"))
                .isEqualTo("characterization_supports");
        assertThat(CharacterizationStage.seedStatus(0.1, 0.2, 0.1, 0.2, pos, "ov_weak", qk)).isEqualTo("characterization_downgrades");
        assertThat(CharacterizationStage.seedStatus(0.1, 0.2, null, 0.2, "insufficient_positions", ok, qk)).isEqualTo("characterization_downgrades");
        assertThat(CharacterizationStage.seedStatus(-0.1, -0.2, null, 0.2, pos, ok, qk)).isEqualTo("characterization_falsifies");
    }

    @Test
    void finalStatusIncludingDominance() {
        assertThat(CharacterizationConsolidationStage.finalStatus(1, 1, 0, 0, 0.5, 1, 1, false)).isEqualTo("insufficient_characterization_data");
        assertThat(CharacterizationConsolidationStage.finalStatus(3, 3, 0, 0, 0.5, 3, 3, true)).isEqualTo("falsified_candidate");
        assertThat(CharacterizationConsolidationStage.finalStatus(3, 1, 0, 2, 0.5, 3, 3, false)).isEqualTo("falsified_candidate");
        assertThat(CharacterizationConsolidationStage.finalStatus(3, 2, 1, 0, 0.5, 2, 0, false)).isEqualTo("strengthened_local_candidate");
        assertThat(CharacterizationConsolidationStage.finalStatus(3, 2, 1, 0, 0.5, 1, 2, false)).isEqualTo("strengthened_local_candidate");
        assertThat(CharacterizationConsolidationStage.finalStatus(3, 2, 1, 0, 0.5, 1, 1, false)).isEqualTo("downgraded_candidate");
        assertThat(CharacterizationConsolidationStage.finalStatus(3, 2, 0, 1, 0.5, 3, 3, false)).isEqualTo("downgraded_candidate");
        assertThat(CharacterizationConsolidationStage.finalStatus(3, 2, 1, 0, 0.0, 3, 3, false)).isEqualTo("downgraded_candidate");
        assertThat(CharacterizationConsolidationStage.finalStatus(3, 0, 1, 1, null, 0, 0, false)).isEqualTo("downgraded_candidate");
        assertThat(CharacterizationConsolidationStage.finalStatus(2, 0, 0, 1, null, 0, 0, false)).isEqualTo("falsified_candidate");
    }

    @Test
    void correlationsAgainstHandComputedValues() {
        // x = 1,2,3,4; y = 2,4,5,4 -> sxy = 3.5, sxx = 5, syy = 4.75
        assertThat(CharacterizationStage.pearson(List.of(1.0, 2.0, 3.0, 4.0), List.of(2.0, 4.0, 5.0, 4.0)))
                .isCloseTo(3.5 / Math.sqrt(5 * 4.75), within(1e-12));
        // ranks of y with a tie: 1, 2.5, 4, 2.5 -> sxy = 3, syy = 4.5
        assertThat(CharacterizationStage.spearman(List.of(1.0, 2.0, 3.0, 4.0), List.of(2.0, 4.0, 5.0, 4.0)))
                .isCloseTo(3.0 / Math.sqrt(5 * 4.5), within(1e-12));
        assertThat(CharacterizationStage.averageRanks(new double[]{3, 1, 3, 2})).containsExactly(3.5, 1, 3.5, 2);
        assertThat(CharacterizationStage.pearson(Arrays.asList(1.0, null, 3.0), Arrays.asList(1.0, 2.0, 3.0))).isCloseTo(1.0, within(1e-12)); // null pair dropped
        assertThat(CharacterizationStage.pearson(Arrays.asList(1.0, null), Arrays.asList(1.0, 2.0))).isNull(); // one pair left
        assertThat(CharacterizationStage.pearson(List.of(1.0, 1.0, 1.0), List.of(1.0, 2.0, 3.0))).isNull(); // constant column
        assertThat(CharacterizationStage.spearman(List.of(1.0), List.of(2.0))).isNull();
    }

    @Test
    void attentionExcludesBosTargetAndSource() {
        CharacterizationStage.Attention a = CharacterizationStage.attention(new double[]{0.5, 0.1, 0.2, 0.15, 0.05}, 4, 2);
        assertThat(a.toSource()).isEqualTo(0.2);
        assertThat(a.bestDistractor()).isEqualTo(0.15);
        assertThat(a.margin()).isCloseTo(0.05, within(1e-15));
        CharacterizationStage.Attention control = CharacterizationStage.attention(new double[]{0.5, 0.1, 0.4}, 2, null);
        assertThat(control.toSource()).isNull();
        assertThat(control.bestDistractor()).isEqualTo(0.1);
        assertThat(control.margin()).isNull();
    }

    @Test
    void qkMarginUsesPositionsOneToTMinus2() {
        HeadCircuit.Qk q = HeadCircuit.qkMargin(new double[]{9, 1, 3, 2, 8}, 2);
        assertThat(q.sourceScore()).isEqualTo(3.0);
        assertThat(q.bestDistractorScore()).isEqualTo(2.0);
        assertThat(q.margin()).isEqualTo(1.0);
        assertThat(HeadCircuit.qkMargin(new double[]{1, 2}, 5).margin()).isNull();
    }

    /** OV and QK from explicitly TL-processed matrices (every centring applied, plain loops) vs HeadCircuit. */
    @Test
    void ovQkMatchAnIndependentTransformerLensFrameComputation(@TempDir Path root) {
        LabModel model = LabFixtures.randomWordModel(root, "tiny", 7);
        ModelConfig c = model.config();
        InMemoryCheckpoint w = RandomCheckpoints.generate(c, 7, 0.5f);
        try (ExportedWeights exported = ExportedWeights.open(model.layout().graphDir(), c)) {
            for (String n : List.of(Gpt2Tensors.WTE, Gpt2Tensors.attnW(1), Gpt2Tensors.projW(1), Gpt2Tensors.LN_F_W, w.unembeddingName()))
                assertThat(exported.array(n)).as(n).containsExactly(w.array(n));
        } finally {
            model.close();
        }
        int d = c.dModel(), dh = c.dHead(), v = c.vocabSize(), layer = 1, head = 2, src = 5, tru = 9, wrong = 3;
        float[] wte = w.array(Gpt2Tensors.WTE), a = w.array(Gpt2Tensors.attnW(layer)), o = w.array(Gpt2Tensors.projW(layer)),
                g1 = w.array(Gpt2Tensors.ln1W(layer)), gf = w.array(Gpt2Tensors.LN_F_W), u = w.array(w.unembeddingName());
        double[][] we = new double[v][d];
        for (int t = 0; t < v; t++) {
            double m = 0;
            for (int i = 0; i < d; i++) m += wte[t * d + i];
            for (int i = 0; i < d; i++) we[t][i] = wte[t * d + i] - m / d;
        }
        double[][][] wqkv = new double[3][d][dh];
        for (int blk = 0; blk < 3; blk++)
            for (int j = 0; j < dh; j++) {
                double m = 0;
                for (int i = 0; i < d; i++) m += (double) g1[i] * a[i * 3 * d + blk * d + head * dh + j];
                for (int i = 0; i < d; i++) wqkv[blk][i][j] = (double) g1[i] * a[i * 3 * d + blk * d + head * dh + j] - m / d;
            }
        double[][] wo = new double[dh][d];
        for (int j = 0; j < dh; j++) {
            double m = 0;
            for (int i = 0; i < d; i++) m += o[(head * dh + j) * d + i];
            for (int i = 0; i < d; i++) wo[j][i] = o[(head * dh + j) * d + i] - m / d;
        }
        double[][] wu = new double[d][v];
        for (int i = 0; i < d; i++) for (int t = 0; t < v; t++) wu[i][t] = (double) gf[i] * u[t * d + i];
        for (int t = 0; t < v; t++) { double m = 0; for (int i = 0; i < d; i++) m += wu[i][t]; for (int i = 0; i < d; i++) wu[i][t] -= m / d; }
        for (int i = 0; i < d; i++) { double m = Arrays.stream(wu[i]).sum() / v; for (int t = 0; t < v; t++) wu[i][t] -= m; }
        double[] z = new double[dh], res = new double[d], logits = new double[v];
        for (int j = 0; j < dh; j++) for (int i = 0; i < d; i++) z[j] += we[src][i] * wqkv[2][i][j];
        for (int i = 0; i < d; i++) for (int j = 0; j < dh; j++) res[i] += z[j] * wo[j][i];
        for (int t = 0; t < v; t++) for (int i = 0; i < d; i++) logits[t] += res[i] * wu[i][t];
        int rank = 1;
        for (double x : logits) if (x > logits[tru]) rank++;

        HeadCircuit hc = new HeadCircuit(w);
        HeadCircuit.Ov ov = hc.ov(layer, head, src, tru, wrong);
        assertThat(ov.trueScore()).isCloseTo(logits[tru], within(1e-9));
        assertThat(ov.wrongScore()).isCloseTo(logits[wrong], within(1e-9));
        assertThat(ov.margin()).isCloseTo(logits[tru] - logits[wrong], within(1e-9));
        assertThat(ov.rankOfTrue()).isEqualTo(rank);

        int[] tokens = {0, 4, 7, 4, 11, 7};
        double[] scores = hc.qkScores(layer, head, tokens);
        for (int p = 0; p < tokens.length; p++) {
            double[] q = new double[dh], k = new double[dh];
            for (int j = 0; j < dh; j++) for (int i = 0; i < d; i++) {
                q[j] += we[tokens[tokens.length - 1]][i] * wqkv[0][i][j];
                k[j] += we[tokens[p]][i] * wqkv[1][i][j];
            }
            double s = 0;
            for (int j = 0; j < dh; j++) s += q[j] * k[j];
            assertThat(scores[p]).as("position %d", p).isCloseTo(s / Math.sqrt(dh), within(1e-9));
        }
    }
}
