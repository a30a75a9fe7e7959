package org.milab.protocol.v2;

import org.milab.graph.Head;
import org.milab.tables.Table;
import org.milab.tables.TableBuilder;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A head stopped for futility enters the multiple-testing correction as p = 1 for each of its single-head tests, and it
 * still does in a subset where it has no rows at all (the natural-text family it never reached: Sequential's
 * deferNaturalText). So the correction's family is the same with or without its rows, and no other head's adjusted p
 * moves; without the stopping (a head merely missing rows) the family would shrink.
 */
class StoppedHeadCorrectionTest {
    private static final Head STOPPED = VerdictRulesTest.SILENT;

    @Test
    void aStoppedHeadWithoutRowsKeepsItsPlaceInTheCorrection() {
        VerdictInputs in = VerdictRulesTest.inputs(1);
        Map<Head, Integer> stopped = Map.of(STOPPED, 4);
        VerdictInputs withRows = new VerdictInputs(in.attention(), in.copying(), in.baselines(), in.ablations(), in.patches(),
                in.groups(), in.composition(), stopped);
        VerdictInputs noRows = new VerdictInputs(in.attention(), in.copying(), in.baselines(), without(in.ablations(),
                CausalStage.ABLATIONS), without(in.patches(), CausalStage.PATCHES), in.groups(), in.composition(), stopped);
        Verdicts.Result a = VerdictRulesTest.decide(withRows), b = VerdictRulesTest.decide(noRows);

        assertThat(a.head(STOPPED).effects()).as("the stopped head has tests where it has rows").isNotEmpty();
        assertThat(b.head(STOPPED).effects()).as("and none without them").isEmpty();
        assertThat(b.rawP()).hasSameSizeAs(a.rawP());
        assertThat(b.adjustedP()).containsExactly(a.adjustedP());
        for (Verdicts.HeadVerdict v : a.heads())
            if (!v.head().equals(STOPPED)) {
                assertThat(b.head(v.head()).adjusted()).as(v.head() + " adjusted").isEqualTo(v.adjusted());
                assertThat(b.head(v.head()).verdict()).isEqualTo(v.verdict());
            }

        // not vacuous: the same missing rows on a head that did not stop shrink the family
        VerdictInputs notStopped = new VerdictInputs(noRows.attention(), noRows.copying(), noRows.baselines(),
                noRows.ablations(), noRows.patches(), noRows.groups(), noRows.composition());
        assertThat(VerdictRulesTest.decide(notStopped).rawP().length).isLessThan(a.rawP().length);
    }

    private static Table without(Table t, String name) {
        TableBuilder b = Causal.perPromptTable(name, "x", "intervention");
        for (Table.Row r : t.rows()) if (!Roles.head(r).equals(STOPPED)) b.addRow(r.toMap());
        return b.build();
    }
}
