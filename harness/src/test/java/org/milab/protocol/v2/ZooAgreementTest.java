package org.milab.protocol.v2;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.milab.catalog.ModelLayout;
import org.milab.catalog.ZooModels;
import org.milab.diagnosis.HeadClass;
import org.milab.diagnosis.InductionDiagnosis;
import org.milab.diagnosis.ZooDiagnosis;
import org.milab.diagnosis.ZooFixtures;
import org.milab.lab.LabModel;
import org.milab.run.Pipeline;
import org.milab.run.RunConfig;
import org.milab.run.RunContext;
import org.milab.runtime.Device;
import org.milab.tables.Table;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Protocol v2 agrees with the independent diagnosis on every TRAINED zoo model (reduced counts): each head the
 * diagnosis clearly calls induction or previous-token is confirmed in that role, or inconclusive with a stated
 * reason, never rejected; no head the diagnosis clearly rules out (not involved) is confirmed; a negative
 * (anti-induction) head is neither confirmed nor rejected. v2 never sees the diagnosis: the test compares the two.
 * The model is exported from its committed weights first (the export self-checks against the Java reference).
 */
class ZooAgreementTest {
    /** Reduced counts for CI (as V2Gpt2Test): 1 seed x 5 families x 4 pairs, 4 probes per length, 1000 resamples. */
    static final V2Protocol.Counts ZOO_CI = new V2Protocol.Counts(List.of(1), 4, 4, 1000);

    static List<String> models() {
        return ZooFixtures.models();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void v2AgreesWithTheDiagnosis(String model, @TempDir Path root) {
        InductionDiagnosis.Result d = ZooDiagnosis.diagnose(ZooFixtures.zooDir().resolve(model), InductionDiagnosis.Settings.CI);
        ZooModels.export(new ModelLayout(root, model), ZooFixtures.zooDir());
        Path run;
        try (LabModel m = LabModel.open(root, model, Device.CPU, 0)) {
            RunContext ctx = new RunContext(root, RunConfig.reference(model, "zoo"), m);
            Pipeline p = new Pipeline(ctx);
            p.v2(ZOO_CI);
            p.finish("test run-v2 " + model);
            run = ctx.finalDir();
        }
        Table v = V2PlantedRuns.table(run, VerdictStage.VERDICTS);
        Map<String, String> verdict = V2PlantedRuns.byHead(v, "verdict"), role = V2PlantedRuns.byHead(v, "role"),
                reason = V2PlantedRuns.byHead(v, "reason");
        List<String> disagreements = new ArrayList<>();
        int clear = 0;
        for (InductionDiagnosis.HeadRow h : d.heads()) {
            String id = h.headId(), ver = verdict.get(id), r = role.get(id);
            System.out.printf("ZooAgreementTest %s %s: diagnosis %s (prefix %.2f prev %.2f ablation %.2f of the gap) | v2 %s %s: %s%n",
                    model, id, h.diagnosis().label(), h.prefixScore(), h.previousTokenScore(), h.secondCopyNorm().estimate(),
                    ver, r, reason.get(id));
            if (h.diagnosis().clear()) clear++;
            String expectedRole = switch (h.diagnosis()) {
                case INDUCTION -> "induction";
                case PREVIOUS_TOKEN -> "previous_token";
                default -> null;
            };
            if (expectedRole != null) {
                boolean confirmedAsDiagnosed = Verdicts.CONFIRMED.equals(ver) && expectedRole.equals(r);
                boolean inconclusiveWithReason = Verdicts.INCONCLUSIVE.equals(ver) && reason.get(id) != null && !reason.get(id).isBlank();
                if (!confirmedAsDiagnosed && !inconclusiveWithReason)
                    disagreements.add(id + ": diagnosis " + h.diagnosis().label() + ", v2 " + ver + " as " + r);
            } else if (h.diagnosis() == HeadClass.NOT_INVOLVED && Verdicts.CONFIRMED.equals(ver))
                disagreements.add(id + ": diagnosis not_involved, v2 confirmed as " + r);
            else if (h.diagnosis() == HeadClass.NEGATIVE && !Verdicts.INCONCLUSIVE.equals(ver)
                    && !(Verdicts.CONFIRMED.equals(ver) && "negative".equals(r)))
                disagreements.add(id + ": diagnosis negative, v2 " + ver + " as " + r);
        }
        assertThat(clear).as("clearly diagnosed heads in " + model).isPositive();
        assertThat(disagreements).as("v2 vs the diagnosis on " + model).isEmpty();
    }
}
