package org.milab.diagnosis;

import org.junit.jupiter.api.Test;
import org.milab.planted.GroundTruth;
import org.milab.planted.Planted;
import org.milab.planted.PlantedInductionModel;
import org.milab.planted.PlantedSpec;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The diagnosis against a known answer: on the hand-wired planted model (default layout) it calls the built
 * induction head induction and the built previous-token head previous-token, and calls no other head either.
 * The truth is read here, by the test only; the diagnosis sees the weights and the vocabulary.
 */
class PlantedDiagnosisTest {
    @Test
    void findsThePlantedCircuitAndNothingElse() {
        Planted planted = PlantedInductionModel.build(PlantedSpec.defaults());
        List<Integer> span = new ArrayList<>();
        for (int i = 0; i < planted.vocabulary().size(); i++) {
            String w = planted.vocabulary().get(i);
            if (!w.equals(org.milab.catalog.ZooModels.BOS) && !w.equals(org.milab.catalog.ZooModels.UNK)) span.add(i);
        }
        // reduced counts: the planted model is 1536 wide, and its effects are large
        InductionDiagnosis.Result r = InductionDiagnosis.run("planted-induction", planted.checkpoint(), planted.bosId(), span,
                new InductionDiagnosis.Settings(8, 4, 4, 20261, 1000), DiagnosisThresholds.DEFAULT);
        Set<String> induction = new TreeSet<>(), prev = new TreeSet<>();
        for (GroundTruth.HeadTruth h : planted.groundTruth().heads()) {
            if (h.role() == GroundTruth.Role.INDUCTION || h.role() == GroundTruth.Role.BACKUP_INDUCTION) induction.add(h.name());
            if (h.role() == GroundTruth.Role.PREVIOUS_TOKEN) prev.add(h.name());
        }
        System.out.println("PlantedDiagnosisTest: induction " + r.headsOf(HeadClass.INDUCTION) + " previous-token "
                + r.headsOf(HeadClass.PREVIOUS_TOKEN) + " not involved " + r.headsOf(HeadClass.NOT_INVOLVED)
                + "; truth induction " + induction + " previous-token " + prev);
        assertThat(new TreeSet<>(r.headsOf(HeadClass.INDUCTION))).isEqualTo(induction);
        assertThat(new TreeSet<>(r.headsOf(HeadClass.PREVIOUS_TOKEN))).isEqualTo(prev);
        assertThat(r.gap().low()).isGreaterThan(1.0);
    }
}
