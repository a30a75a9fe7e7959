package org.milab.protocol.v2;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.milab.planted.PlantedSpec;
import org.milab.tables.Table;

import java.nio.file.Path;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Protocol v2 at reduced counts on the planted {@code reactive-backup} model, whose backup induction head sits one
 * layer after the main one and copies the answer only when the main head's output is absent (a hydra / backup
 * name mover; the truth is read from the manifests by the test only). From its data v2 must confirm the main
 * head as {@code induction} and the reactive head as {@code backup_induction} (its single-head ablations are not
 * significant, its leave-one-out marginal in the induction group is), confirm the previous-token head, and
 * reject every head outside the circuit. The previous-token head's path into the backup's keys is printed, not
 * asserted: on clean runs the backup writes little, so that path is small (0.015 of the gap at these counts).
 */
class V2ReactiveBackupTest {
    @Test
    void namesTheReactiveHeadBackupFromGroupEvidence(@TempDir Path root) throws Exception {
        PlantedSpec spec = PlantedSpec.preset("reactive-backup");
        Path run = V2PlantedRuns.run(root, spec, V2PlantedRuns.CI, "reactive");
        JsonNode truth = V2PlantedRuns.truth(root, spec);
        Table v = V2PlantedRuns.table(run, VerdictStage.VERDICTS);
        Set<String> main = V2PlantedRuns.truthHeads(truth, h -> V2PlantedRuns.role(h, "INDUCTION"));
        Set<String> backup = V2PlantedRuns.truthHeads(truth, h -> V2PlantedRuns.role(h, "BACKUP_INDUCTION"));
        Set<String> prev = V2PlantedRuns.truthHeads(truth, h -> V2PlantedRuns.role(h, "PREVIOUS_TOKEN"));
        assertThat(main).hasSize(1);
        assertThat(backup).hasSize(1);
        for (Table.Row r : v.rows())
            System.out.printf("%s %s role %s kind %s: %s%n", r.getString("head_id"), r.getString("verdict"),
                    r.getString("role"), r.getString("circuit_kind"), r.getString("reason"));
        assertThat(V2PlantedRuns.headsWhere(v, "circuit_kind", Roles.INDUCTION)).as("induction kind").isEqualTo(main);
        assertThat(V2PlantedRuns.headsWhere(v, "circuit_kind", "backup_induction")).as("backup kind").isEqualTo(backup);
        V2NegativeHeadTest.assertBackupNamedFromEvidence(v, backup.iterator().next());
        Table.Row b = v.rows().stream().filter(x -> backup.contains(x.getString("head_id"))).findFirst().orElseThrow();
        assertThat(b.getString("verdict")).isNotEqualTo(Verdicts.REJECTED);
        // exactly the circuit is confirmed (the previous-token head with it), every other head rejected
        Set<String> inCircuit = V2PlantedRuns.truthHeads(truth, h -> h.path("inCircuit").asBoolean());
        assertThat(V2PlantedRuns.headsWhere(v, "verdict", Verdicts.CONFIRMED)).as("confirmed").isEqualTo(inCircuit)
                .containsAll(prev);
        assertThat(V2PlantedRuns.headsWhere(v, "verdict", Verdicts.REJECTED)).as("rejected")
                .isEqualTo(V2PlantedRuns.truthHeads(truth, h -> !h.path("inCircuit").asBoolean()));
        for (Table.Row r : v.rows())
            assertThat(r.getStrings("seed_verdicts")).as(r.getString("head_id"))
                    .containsExactly("1:" + r.getString("verdict"), "2:" + r.getString("verdict"));
        JsonNode c = new com.fasterxml.jackson.databind.ObjectMapper().readTree(run.resolve("v2/circuit.json").toFile());
        System.out.println("compositions: " + c.path("compositions"));
    }
}
