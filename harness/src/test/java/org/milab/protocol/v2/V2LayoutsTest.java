package org.milab.protocol.v2;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.milab.planted.PlantedLayout;
import org.milab.planted.PlantedSpec;
import org.milab.tables.Table;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Protocol v2 on the other planted layouts and under other weight noise, at reduced counts: it must confirm
 * exactly the induction heads (the weaker backup included) and the previous-token head with its
 * composition, and reject the duplicate-token decoy, the frequency head, the sink and every noise head
 * (the truth is read from the manifests by the test only). backup: a second, weaker induction head;
 * deep3: three layers, the circuit in other heads, at another noise seed and twice the noise; default at
 * noise seed 1 and at noise 0.02: the verdicts do not depend on the noise draw or its size.
 */
class V2LayoutsTest {
    static List<PlantedSpec> specs() {
        return List.of(PlantedSpec.preset("backup"),
                new PlantedSpec(PlantedLayout.preset("deep3"), 1, 0.02),
                new PlantedSpec(PlantedLayout.defaults(), 1, PlantedSpec.DEFAULT_NOISE_STD),
                new PlantedSpec(PlantedLayout.defaults(), 0, 0.02));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("specs")
    void recoversTheCircuitAndRejectsEveryDecoy(PlantedSpec spec, @TempDir Path root) throws Exception {
        Path run = V2PlantedRuns.run(root, spec, V2PlantedRuns.CI, "layout");
        JsonNode truth = V2PlantedRuns.truth(root, spec);
        V2PlantedRuns.assertRecoversTheCircuit(run, truth);
        Table v = V2PlantedRuns.table(run, VerdictStage.VERDICTS);
        Set<String> backups = V2PlantedRuns.truthHeads(truth, h -> V2PlantedRuns.role(h, "BACKUP_INDUCTION"));
        for (Table.Row r : v.rows())
            if (backups.contains(r.getString("head_id"))) {
                // the backup is seen by itself and by leave-one-out group ablation
                assertThat(r.getDouble("leave_one_out_norm_ci_low")).isGreaterThan(0.05);
                assertThat(r.getDouble("denoising_norm_ci_low")).isGreaterThan(0.05);
            }
        for (Table.Row r : v.rows())
            assertThat(r.getStrings("seed_verdicts")).as(r.getString("head_id"))
                    .containsExactly("1:" + r.getString("verdict"), "2:" + r.getString("verdict"));
    }
}
