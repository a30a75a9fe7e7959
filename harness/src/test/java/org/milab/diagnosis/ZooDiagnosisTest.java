package org.milab.diagnosis;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.milab.catalog.ZooModels;
import org.milab.stats.Bootstrap.Interval;
import org.milab.util.UserError;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The zoo's trained models hold a learned induction mechanism, by the independent diagnosis at reduced counts:
 * the second copy of repeated random tokens is predicted far better than the first, and at least one head is
 * clearly induction and one clearly previous-token. Also the declared classification rules on hand-made
 * numbers, and a tampered weights file refused.
 */
class ZooDiagnosisTest {
    static List<String> models() {
        return ZooFixtures.models();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void diagnosisFindsInductionAndItsHeads(String model, @TempDir Path tmp) throws Exception {
        InductionDiagnosis.Result r = ZooDiagnosis.diagnose(ZooFixtures.zooDir().resolve(model), InductionDiagnosis.Settings.CI);
        System.out.printf("ZooDiagnosisTest %s: first-copy %.3f, second-copy %.3f; induction %s previous-token %s negative %s "
                        + "not involved %s unclear %s%n", model, r.firstCopyLoss().estimate(), r.secondCopyLoss().estimate(),
                r.headsOf(HeadClass.INDUCTION), r.headsOf(HeadClass.PREVIOUS_TOKEN), r.headsOf(HeadClass.NEGATIVE),
                r.headsOf(HeadClass.NOT_INVOLVED), r.headsOf(HeadClass.UNCLEAR));
        // induction formed: the second copy's loss is at least 1 nat below the first copy's, by CI
        assertThat(r.gap().low()).as("induction gap CI low (nats)").isGreaterThan(1.0);
        assertThat(r.secondCopyLoss().high()).isLessThan(r.firstCopyLoss().low());
        assertThat(r.headsOf(HeadClass.INDUCTION)).as("clearly-induction heads").isNotEmpty();
        assertThat(r.headsOf(HeadClass.PREVIOUS_TOKEN)).as("clearly-previous-token heads").isNotEmpty();
        // the files: one JSON row and one table row per head, classes as computed
        DiagnosisFiles.write(tmp, r);
        JsonNode j = new ObjectMapper().readTree(tmp.resolve(DiagnosisFiles.JSON_FILE).toFile());
        assertThat(j.path("heads")).hasSize(r.heads().size());
        assertThat(j.path("classes").path("induction").size()).isEqualTo(r.headsOf(HeadClass.INDUCTION).size());
        assertThat(org.milab.tables.ArrowTables.read(tmp.resolve(DiagnosisFiles.TABLE + org.milab.tables.ArrowTables.EXTENSION))
                .rowCount()).isEqualTo(r.heads().size());
    }

    /**
     * The Java reference forward (what the diagnosis runs, and what the export self-check holds the ONNX graphs
     * to) computes the logits PyTorch computed when it wrote the model (tools/zoo/train.py, pytorch_logits.json):
     * the weights are read in the layout they were trained in (Conv1D [in, out], tied unembedding, tanh GELU).
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void javaComputesTheLogitsPyTorchComputed(String model) throws Exception {
        Path dir = ZooFixtures.zooDir().resolve(model);
        JsonNode ref = new ObjectMapper().readTree(dir.resolve("pytorch_logits.json").toFile());
        int[] ids = new int[ref.path("token_ids").size()];
        for (int i = 0; i < ids.length; i++) ids[i] = ref.path("token_ids").get(i).asInt();
        double worst = 0;
        try (org.milab.model.SafetensorsFile ckpt = org.milab.model.SafetensorsFile.open(dir.resolve(ZooModels.WEIGHTS),
                org.milab.model.ModelConfig.read(dir.resolve(ZooModels.CONFIG)))) {
            double[][] logits = new org.milab.model.ReferenceGpt2(ckpt).run(ids).logits();
            for (int p = 0; p < ids.length; p++)
                for (int v = 0; v < logits[p].length; v++)
                    worst = Math.max(worst, Math.abs(logits[p][v] - ref.path("centred_logits").get(p).get(v).asDouble()));
        }
        System.out.printf("ZooDiagnosisTest %s: max |Java - PyTorch| centred logit %.2e over %d positions%n", model, worst, ids.length);
        assertThat(worst).isLessThan(1e-4);
    }

    @Test
    void classesFollowTheDeclaredThresholds() {
        DiagnosisThresholds t = DiagnosisThresholds.DEFAULT;
        Interval helps = new Interval(0.3, 0.2, 0.4), hurts = new Interval(-0.3, -0.4, -0.2), none = new Interval(0, -0.01, 0.01),
                straddles = new Interval(0.05, -0.1, 0.2);
        assertThat(InductionDiagnosis.classify(0.6, 0.0, 0.05, helps, t)).isEqualTo(HeadClass.INDUCTION);
        assertThat(InductionDiagnosis.classify(0.6, 0.0, 0.05, straddles, t)).isEqualTo(HeadClass.UNCLEAR);
        assertThat(InductionDiagnosis.classify(0.6, 0.0, 0.05, hurts, t)).isEqualTo(HeadClass.NEGATIVE);
        assertThat(InductionDiagnosis.classify(0.02, 0.0, 0.9, helps, t)).isEqualTo(HeadClass.PREVIOUS_TOKEN);
        assertThat(InductionDiagnosis.classify(0.02, 0.0, 0.9, none, t)).isEqualTo(HeadClass.UNCLEAR);
        assertThat(InductionDiagnosis.classify(0.05, 0.05, 0.05, none, t)).isEqualTo(HeadClass.NOT_INVOLVED);
        // a head with no attention role but an effect is not "clearly not involved"
        assertThat(InductionDiagnosis.classify(0.05, 0.05, 0.05, helps, t)).isEqualTo(HeadClass.UNCLEAR);
        assertThat(InductionDiagnosis.classify(0.05, 0.05, 0.05, Interval.EMPTY, t)).isEqualTo(HeadClass.UNCLEAR);
    }

    @Test
    void anUnknownZooModelIsRefusedWithTheModelsThereAre(@TempDir Path tmp) {
        assertThatThrownBy(() -> ZooModels.export(new org.milab.catalog.ModelLayout(tmp, "zoo-nope"), ZooFixtures.zooDir()))
                .isInstanceOf(UserError.class).hasMessageContaining("zoo-nope").hasMessageContaining(ZooFixtures.models().get(0));
        assertThat(tmp.resolve("graphs")).doesNotExist();
    }

    @Test
    void aTamperedZooFileIsRefusedByName(@TempDir Path tmp) throws Exception {
        String model = ZooFixtures.models().get(0);
        Path copy = tmp.resolve(model);
        Files.createDirectories(copy);
        try (var s = Files.list(ZooFixtures.zooDir().resolve(model))) {
            for (Path f : s.toList()) Files.copy(f, copy.resolve(f.getFileName()));
        }
        Files.writeString(copy.resolve(ZooModels.VOCAB), Files.readString(copy.resolve(ZooModels.VOCAB)) + "extra\n");
        assertThatThrownBy(() -> ZooDiagnosis.diagnose(copy, InductionDiagnosis.Settings.CI))
                .isInstanceOf(UserError.class).hasMessageContaining(ZooModels.VOCAB).hasMessageContaining("sha256");
    }
}
