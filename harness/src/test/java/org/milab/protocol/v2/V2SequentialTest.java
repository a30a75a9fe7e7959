package org.milab.protocol.v2;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.milab.planted.PlantedLayout;
import org.milab.planted.PlantedSpec;
import org.milab.tables.Table;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The sequential design against every head on every pair, on the default planted model at reduced counts (2 seeds
 * x 5 families x 4 pairs): identical verdicts (pooled, per seed, per family, circuit kind) for every head, fewer
 * causal rows with the design on, and every stopped head eligible, rejected, and saying why.
 */
class V2SequentialTest {
    static final V2Protocol.Counts OFF = new V2Protocol.Counts(List.of(1, 2), 4, 4, 1000, false);

    @Test
    void sameVerdictsWithFewerRows(@TempDir Path on, @TempDir Path off) throws Exception {
        PlantedSpec spec = new PlantedSpec(PlantedLayout.defaults(), 0, PlantedSpec.DEFAULT_NOISE_STD);
        Path a = V2PlantedRuns.run(on, spec, V2PlantedRuns.CI, "seq-on");
        Path b = V2PlantedRuns.run(off, spec, OFF, "seq-off");
        ObjectMapper json = new ObjectMapper();
        assertThat(json.readTree(a.resolve("v2/protocol.json").toFile()).path("sequential").path("enabled").asBoolean()).isTrue();
        JsonNode offDesign = json.readTree(b.resolve("v2/protocol.json").toFile()).path("sequential");
        assertThat(offDesign.path("enabled").isBoolean()).isTrue();
        assertThat(offDesign.path("enabled").asBoolean()).isFalse();

        Table va = V2PlantedRuns.table(a, VerdictStage.VERDICTS), vb = V2PlantedRuns.table(b, VerdictStage.VERDICTS);
        for (String column : List.of("verdict", "role", "circuit_kind", "seed_verdicts", "family_verdicts"))
            assertThat(V2PlantedRuns.byHead(va, column)).as(column).isEqualTo(V2PlantedRuns.byHead(vb, column));
        V2PlantedRuns.assertRecoversTheCircuit(a, V2PlantedRuns.truth(on, spec));

        long rowsOn = causalRows(a), rowsOff = causalRows(b);
        assertThat(rowsOn).isLessThan(rowsOff);
        Table seq = V2PlantedRuns.table(a, Sequential.TABLE);
        Map<String, String> verdicts = V2PlantedRuns.byHead(va, "verdict"), roles = V2PlantedRuns.byHead(va, "role"),
                reasons = V2PlantedRuns.byHead(va, "reason");
        int stopped = 0;
        long expectedRows = rowsOff;
        for (Table.Row r : seq.rows()) {
            String h = r.getString("head_id");
            if (!Boolean.TRUE.equals(r.getBool("stopped"))) {
                assertThat(r.getLong("stopped_at_pairs")).isEqualTo(r.getLong("pairs_total"));
                continue;
            }
            stopped++;
            assertThat(r.getBool("eligible")).as(h).isTrue();
            assertThat(roles.get(h)).as(h).isEqualTo(Roles.OTHER);
            assertThat(verdicts.get(h)).as(h).isEqualTo(Verdicts.REJECTED);
            assertThat(reasons.get(h)).as(h).contains("Stopped for futility after " + r.getLong("stopped_at_pairs") + " pairs");
            assertThat(r.getLong("stopped_at_pairs")).as(h).isLessThan(r.getLong("pairs_total"));
            for (String test : Sequential.TESTS) {
                assertThat(r.getDouble(test + "_futility_ci_low")).as(h + " " + test).isGreaterThan(-0.05);
                assertThat(r.getDouble(test + "_futility_ci_high")).as(h + " " + test).isLessThan(0.05);
            }
            // 4 single-head rows (3 ablation, 1 denoising) per pair it did not get
            expectedRows -= 4 * (r.getLong("pairs_total") - r.getLong("stopped_at_pairs"));
        }
        assertThat(stopped).isPositive();
        assertThat(rowsOn).isEqualTo(expectedRows);
        // the off run's table says nothing stopped
        assertThat(V2PlantedRuns.table(b, Sequential.TABLE).rows()).allMatch(r -> !r.getBool("stopped"));
        System.out.printf("sequential on: %d causal rows, %d heads stopped; off: %d rows%n", rowsOn, stopped, rowsOff);
    }

    static long causalRows(Path run) {
        return V2PlantedRuns.table(run, CausalStage.ABLATIONS).rowCount() + V2PlantedRuns.table(run, CausalStage.PATCHES).rowCount();
    }
}
