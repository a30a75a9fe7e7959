package org.milab.protocol.v2;

import org.junit.jupiter.api.Disabled;
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
import org.milab.stage.RunConfig;
import org.milab.run.RunContext;
import org.milab.runtime.Device;
import org.milab.tables.Table;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Protocol v2 against the independent diagnosis on every TRAINED zoo model (reduced counts). v2 never sees the
 * diagnosis: the test compares the two. Each model is exported from its committed weights first (the export
 * self-checks against the Java reference), diagnosed, and run through v2 once for both tests.
 */
class ZooAgreementTest {
    /** Reduced counts for CI (as V2Gpt2Test): 1 seed x 5 families x 4 pairs, 4 probes per length, 1000 resamples. */
    static final V2Protocol.Counts ZOO_CI = new V2Protocol.Counts(List.of(1), 4, 4, 1000);

    @TempDir
    static Path root;

    /** One model's diagnosis beside v2's verdicts table. */
    record Compared(InductionDiagnosis.Result diagnosis, Map<String, String> verdict, Map<String, String> role,
                    Map<String, String> reason) {}

    private static final Map<String, Compared> RUNS = new ConcurrentHashMap<>();

    static List<String> models() {
        return ZooFixtures.models();
    }

    static synchronized Compared compared(String model) {
        return RUNS.computeIfAbsent(model, m -> {
            InductionDiagnosis.Result d = ZooDiagnosis.diagnose(ZooFixtures.zooDir().resolve(m), InductionDiagnosis.Settings.CI);
            ZooModels.export(new ModelLayout(root, m), ZooFixtures.zooDir());
            Path run;
            try (LabModel lab = LabModel.open(root, m, Device.CPU, 0)) {
                RunContext ctx = new RunContext(root, RunConfig.reference(m, "zoo"), lab);
                Pipeline p = new Pipeline(ctx);
                p.v2(ZOO_CI);
                p.finish("test run-v2 " + m);
                run = ctx.finalDir();
            }
            Table v = V2PlantedRuns.table(run, VerdictStage.VERDICTS);
            Compared c = new Compared(d, V2PlantedRuns.byHead(v, "verdict"), V2PlantedRuns.byHead(v, "role"),
                    V2PlantedRuns.byHead(v, "reason"));
            for (InductionDiagnosis.HeadRow h : d.heads())
                System.out.printf("ZooAgreementTest %s %s: diagnosis %s (prefix %.2f prev %.2f ablation %.2f of the gap) | v2 %s %s: %s%n",
                        m, h.headId(), h.diagnosis().label(), h.prefixScore(), h.previousTokenScore(),
                        h.secondCopyNorm().estimate(), c.verdict.get(h.headId()), c.role.get(h.headId()), c.reason.get(h.headId()));
            return c;
        });
    }

    /**
     * Each head the diagnosis clearly calls induction or previous-token is confirmed in that role, or inconclusive
     * with a stated reason, never rejected; no head the diagnosis clearly rules out (not involved) is confirmed; a
     * negative (anti-induction) head is inconclusive or confirmed as negative, never rejected or confirmed otherwise.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void v2AgreesWithTheDiagnosis(String model) {
        Compared c = compared(model);
        List<String> disagreements = new ArrayList<>();
        int clear = 0;
        for (InductionDiagnosis.HeadRow h : c.diagnosis().heads()) {
            String id = h.headId(), ver = c.verdict().get(id), r = c.role().get(id), why = c.reason().get(id);
            if (h.diagnosis().clear()) clear++;
            String expectedRole = switch (h.diagnosis()) {
                case INDUCTION -> "induction";
                case PREVIOUS_TOKEN -> "previous_token";
                default -> null;
            };
            if (expectedRole != null) {
                boolean confirmedAsDiagnosed = Verdicts.CONFIRMED.equals(ver) && expectedRole.equals(r);
                boolean inconclusiveWithReason = Verdicts.INCONCLUSIVE.equals(ver) && why != null && !why.isBlank();
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

    /**
     * Stronger: v2 confirms, as induction, at least one head the diagnosis clearly calls induction (a protocol that
     * leaves every real induction head inconclusive passes the test above but finds nothing).
     */
    @Disabled("Fails with today's v2 at these CI counts (1 seed x 5 families x 4 pairs), measured on all three zoo models "
            + "after copying was read through the effective embedding: every diagnosed induction head is 'inconclusive', "
            + "either 'its OV circuit does not copy above chance' (top-1 copy fraction CI lows 0.010-0.057 against the needed "
            + "chance + copy_margin; eigenvalue positivity through the effective embedding 0.95-0.97) or 'no causal test is "
            + "significant' (denoising 0.22-0.40 of the gap, adj. p 0.07-1). At 8 pairs per family zoo-2l4h-s11's L1H1 is "
            + "confirmed (docs/zoo.md). Open: a copy statistic with the power of Wang et al.'s top-k copy score, and counts.")
    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void v2ConfirmsADiagnosedInductionHead(String model) {
        Compared c = compared(model);
        List<String> confirmed = new ArrayList<>();
        for (String id : c.diagnosis().headsOf(HeadClass.INDUCTION))
            if (Verdicts.CONFIRMED.equals(c.verdict().get(id)) && "induction".equals(c.role().get(id))) confirmed.add(id);
        assertThat(confirmed).as("diagnosed induction heads %s that v2 confirms on %s",
                c.diagnosis().headsOf(HeadClass.INDUCTION), model).isNotEmpty();
    }
}
