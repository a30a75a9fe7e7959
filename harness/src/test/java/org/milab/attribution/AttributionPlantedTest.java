package org.milab.attribution;

import org.milab.atp.AttributionPatching;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.milab.catalog.ModelExports;
import org.milab.catalog.ModelLayout;
import org.milab.graph.GraphVariant;
import org.milab.lab.LabModel;
import org.milab.planted.GroundTruth;
import org.milab.planted.PlantedInductionModel;
import org.milab.planted.PlantedSpec;
import org.milab.stage.RunConfig;
import org.milab.run.RunContext;
import org.milab.runtime.Device;
import org.milab.stats.RankAgreement;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The planted model, whose circuit is known (the ground truth is read from its manifest here, in the test,
 * never by the attribution code): AtP-IG ranks the induction and previous-token heads first and agrees with
 * exact per-head patching (Spearman >= 0.9); plain AtP finds the induction head but, as the literature warns,
 * misses the previous-token head, whose effect runs through a saturated softmax.
 */
class AttributionPlantedTest {

    @Test
    void atpRankingAgainstExactPatchingAndTheGroundTruth(@TempDir Path root) throws Exception {
        ModelExports.exportPlanted(new ModelLayout(root, PlantedInductionModel.MODEL_ID), PlantedSpec.defaults());
        try (LabModel m = LabModel.open(root, PlantedInductionModel.MODEL_ID, Device.CPU, 0)) {
            GroundTruth truth = GroundTruth.fromJson(m.manifest(GraphVariant.GRAD).get("ground_truth").toString());
            int nHead = m.config().nHead();
            GroundTruth.HeadTruth induction = truth.head(GroundTruth.Role.INDUCTION), previous = truth.head(GroundTruth.Role.PREVIOUS_TOKEN);
            int ind = induction.layer() * nHead + induction.head(), prev = previous.layer() * nHead + previous.head();

            AttributionConfig cfg = new AttributionConfig(8, 6, 0, 4, 10, 500, 0, 32, 10);
            RunContext ctx = new RunContext(root, RunConfig.reference(m.id(), "atp"), m);
            AttributionPatching.Result atp = AttributionStage.run(ctx, cfg, AttributionStage.pairs(ctx, cfg));
            AttributionVerificationStage.Verification v = AttributionVerificationStage.run(ctx, cfg, atp);

            double[] exact = v.exactHeadsDenoising();
            // exact patching itself shows both circuit heads carry the behaviour (a sanity check of the setup)
            assertThat(Set.of(RankAgreement.top(exact, 2))).containsExactlyInAnyOrder(ind, prev);
            // AtP-IG: the two circuit heads first, and the ranking agrees with exact patching
            assertThat(Set.of(RankAgreement.top(v.atpHeadsIg(), 2))).containsExactlyInAnyOrder(ind, prev);
            assertThat(v.get("head", "ig", "spearman").value().estimate()).isGreaterThanOrEqualTo(0.9);
            // plain AtP (denoising): induction head first, rank agreement >= 0.9, but the previous-token head's
            // estimate is under a tenth of its exact effect (attention saturation)
            assertThat(RankAgreement.top(v.atpHeadsDenoising(), 1)[0]).isEqualTo(ind);
            assertThat(v.get("head", "denoising", "spearman").value().estimate()).isGreaterThanOrEqualTo(0.9);
            assertThat(Math.abs(v.atpHeadsDenoising()[prev])).isLessThan(0.1 * Math.abs(exact[prev]));
            List<String> summary = ctx.summaryLines();
            assertThat(String.join("\n", summary)).contains("head ig: spearman");
            // every column of every attribution table described, by the glossary (so COLUMNS.md lists it)
            assertThat(org.milab.tables.RunColumns.tables(ctx.runDir())).isNotEmpty();
            assertThat(org.milab.tables.RunColumns.notInGlossary(ctx.runDir())).isEmpty();
            assertThat(org.milab.testing.HumanText.problems(String.join("\n", summary))).isEmpty();
        }
    }
}
