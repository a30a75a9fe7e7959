package org.milab.protocol.v2;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.milab.planted.PlantedLayout;
import org.milab.planted.PlantedSpec;
import org.milab.tables.Table;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The sequential design with three looks (2 seeds x 5 families x 8 pairs: 2, 4 and 8 pairs per group) on the
 * default planted model, against the design off: the same verdicts; a head that stopped has rows of exactly the
 * pairs up to its look, a head that ran on has a row for every pair, and v2/sequential says which look.
 */
class V2LooksTest {
    static final V2Protocol.Counts ON = new V2Protocol.Counts(List.of(1, 2), 8, 4, 1000, true),
            OFF = new V2Protocol.Counts(List.of(1, 2), 8, 4, 1000, false);

    @Test
    void threeLooksKeepEachHeadsRowsUpToItsLook(@TempDir Path on, @TempDir Path off) throws Exception {
        PlantedSpec spec = new PlantedSpec(PlantedLayout.defaults(), 0, PlantedSpec.DEFAULT_NOISE_STD);
        Path a = V2PlantedRuns.run(on, spec, ON, "looks-on");
        Path b = V2PlantedRuns.run(off, spec, OFF, "looks-off");
        Table va = V2PlantedRuns.table(a, VerdictStage.VERDICTS), vb = V2PlantedRuns.table(b, VerdictStage.VERDICTS);
        for (String column : List.of("verdict", "role", "circuit_kind", "seed_verdicts", "family_verdicts"))
            assertThat(V2PlantedRuns.byHead(va, column)).as(column).isEqualTo(V2PlantedRuns.byHead(vb, column));

        // the first look's pairs of every group: 2 of 8 (the 20-pair floor over 10 verdict-feeding groups)
        Set<String> firstLook = new HashSet<>();
        Map<String, Integer> index = new HashMap<>();
        for (Table.Row r : V2PlantedRuns.table(a, ProtocolStage.PROMPTS).rows()) {
            index.put(r.getString("prompt_id"), r.getLong("index").intValue());
            if (r.getLong("index") < 2) firstLook.add(r.getString("prompt_id"));
        }
        Map<String, Set<String>> pairsOf = new HashMap<>();
        for (String t : List.of(CausalStage.ABLATIONS, CausalStage.PATCHES))
            for (Table.Row r : V2PlantedRuns.table(a, t).rows())
                pairsOf.computeIfAbsent(r.getString("head_id") + " " + r.getString("intervention"), k -> new HashSet<>())
                        .add(r.getString("prompt_id"));
        int stopped = 0, running = 0;
        for (Table.Row r : V2PlantedRuns.table(a, Sequential.TABLE).rows()) {
            String h = r.getString("head_id");
            assertThat(r.getLong("looks")).isEqualTo(3);
            assertThat(r.getLong("pairs_total")).isEqualTo(80);
            Set<String> expected = Boolean.TRUE.equals(r.getBool("stopped")) ? firstLook : index.keySet();
            if (Boolean.TRUE.equals(r.getBool("stopped"))) {
                stopped++;
                assertThat(r.getLong("stopped_at_look")).as(h).isEqualTo(1);
                assertThat(r.getLong("stopped_at_pairs")).as(h).isEqualTo(20);
            } else {
                running++;
                assertThat(r.getLong("stopped_at_look")).as(h).isNull();
                assertThat(r.getLong("decided_at_look")).as(h).isEqualTo(2); // the last look before every pair
                assertThat(r.getLong("decided_at_pairs")).as(h).isEqualTo(40);
                assertThat(r.getLong("stopped_at_pairs")).as(h).isEqualTo(80);
            }
            for (String test : Sequential.TESTS)
                assertThat(pairsOf.get(h + " " + test)).as(h + " " + test).isEqualTo(expected);
        }
        assertThat(stopped).isPositive();
        assertThat(running).isPositive();
    }
}
