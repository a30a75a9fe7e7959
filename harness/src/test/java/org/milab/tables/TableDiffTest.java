package org.milab.tables;

import org.junit.jupiter.api.Test;
import org.milab.tables.TableDiff.Change;
import org.milab.tables.TableDiff.ColumnSummary;
import org.milab.util.UserError;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.tuple;

class TableDiffTest {
    /** Rows: seed, candidate_id (keys), status, effect_size, layer, ok. */
    private static Table results(Object[]... rows) {
        TableBuilder b = Table.builder("heldout_robustness_results").keys("seed", "candidate_id")
                .int64("seed").string("candidate_id", "status").float64("effect_size").int64("layer").bool("ok");
        for (Object[] r : rows) b.addRow(r);
        return b.build();
    }

    private static Object[] row(Object... values) {
        return values;
    }

    private static final Object[] R1 = row(10, "cand_000", "ok", 0.5, 7, true);
    private static final Object[] R2 = row(10, "cand_001", "ok", 0.25, 9, true);
    private static final Object[] R3 = row(11, "cand_000", "ok", Double.NaN, 0, false);

    @Test
    void identicalTablesHaveNoDifferences() {
        TableDiff.Result r = TableDiff.diff(results(R1, R2, R3), results(R1, R2, R3));

        assertThat(r.identical()).isTrue();
        assertThat(r.changes()).isEmpty();
        assertThat(r.columns()).isEmpty();
        assertThat(r.rowsMatched()).isEqualTo(3);
        assertThat(r.rowsChanged()).isZero();
        assertThat(r.toTable().rowCount()).isZero();
        assertThat(r.render(10)).isEqualTo("heldout_robustness_results: identical (3 rows)\n");
    }

    @Test
    void rowOrderDoesNotMatter() {
        assertThat(TableDiff.diff(results(R1, R2, R3), results(R3, R1, R2)).identical()).isTrue();
    }

    @Test
    void statusChangeIsReportedWithItsKey() {
        TableDiff.Result r = TableDiff.diff(results(R1, R2), results(R1, row(10, "cand_001", "skipped_no_hint", 0.25, 9, false)));

        assertThat(r.changes()).containsExactly(
                new Change(DiffKind.STATUS_CHANGE, "seed=10, candidate_id=cand_001",
                        "{\"seed\":10,\"candidate_id\":\"cand_001\"}", "status", "ok", "skipped_no_hint", null),
                new Change(DiffKind.STATUS_CHANGE, "seed=10, candidate_id=cand_001",
                        "{\"seed\":10,\"candidate_id\":\"cand_001\"}", "ok", "true", "false", null));
        assertThat(r.rowsChanged()).isEqualTo(1);
        assertThat(r.columns()).containsExactly(new ColumnSummary("status", 1, null), new ColumnSummary("ok", 1, null));
        assertThat(r.render(10)).contains("seed=10, candidate_id=cand_001: status ok -> skipped_no_hint");
    }

    @Test
    void numericDeltasAreBMinusAWithPerColumnMaximum() {
        TableDiff.Result r = TableDiff.diff(results(R1, R2),
                results(row(10, "cand_000", "ok", 0.75, 8, true), row(10, "cand_001", "ok", -0.25, 4, true)));

        assertThat(r.changes()).extracting(Change::column, Change::kind, Change::valueA, Change::valueB, Change::delta)
                .containsExactly(
                        tuple("effect_size", DiffKind.NUMERIC_DELTA, "0.5", "0.75", 0.25),
                        tuple("layer", DiffKind.NUMERIC_DELTA, "7", "8", 1.0),
                        tuple("effect_size", DiffKind.NUMERIC_DELTA, "0.25", "-0.25", -0.5),
                        tuple("layer", DiffKind.NUMERIC_DELTA, "9", "4", -5.0));
        assertThat(r.columns()).containsExactly(new ColumnSummary("effect_size", 2, 0.5), new ColumnSummary("layer", 2, 5.0));
        assertThat(r.rowsChanged()).isEqualTo(2);
    }

    @Test
    void toleranceHidesSmallDeltasOnly() {
        Table a = results(R1, R2);
        Table b = results(row(10, "cand_000", "ok", 0.5 + 1e-9, 7, true), row(10, "cand_001", "ok", 0.35, 9, true));

        assertThat(TableDiff.diff(a, b).changes()).hasSize(2); // default: exact
        TableDiff.Result r = TableDiff.diff(a, b, 1e-6);
        assertThat(r.changes()).extracting(Change::key).containsExactly("seed=10, candidate_id=cand_001");
        assertThat(TableDiff.diff(a, b, 0.2).identical()).isTrue();
        assertThatThrownBy(() -> TableDiff.diff(a, b, -1)).isInstanceOf(UserError.class).hasMessageContaining("tolerance");
    }

    @Test
    void rowsOnlyInOneSideAreListed() {
        TableDiff.Result r = TableDiff.diff(results(R1, R2), results(R2, R3));

        assertThat(r.changes()).extracting(Change::kind, Change::key, Change::column, Change::valueA, Change::valueB)
                .containsExactly(
                        tuple(DiffKind.ONLY_IN_A, "seed=10, candidate_id=cand_000", "",
                                "{\"status\":\"ok\",\"effect_size\":0.5,\"layer\":7,\"ok\":true}", null),
                        tuple(DiffKind.ONLY_IN_B, "seed=11, candidate_id=cand_000", "",
                                null, "{\"status\":\"ok\",\"effect_size\":\"NaN\",\"layer\":0,\"ok\":false}"));
        assertThat(List.of(r.rowsMatched(), r.rowsChanged(), r.rowsOnlyInA(), r.rowsOnlyInB())).containsExactly(1, 0, 1, 1);
    }

    @Test
    void nanEqualsNanButNotANumber() {
        Table a = results(R3, row(12, "c", "ok", 0.0, 1, true));
        assertThat(TableDiff.diff(a, results(R3, row(12, "c", "ok", -0.0, 1, true))).identical())
                .as("NaN vs NaN and 0.0 vs -0.0 are no change").isTrue();

        TableDiff.Result r = TableDiff.diff(a, results(row(11, "cand_000", "ok", 1.0, 0, false), row(12, "c", "ok", Double.NaN, 1, true)));
        assertThat(r.changes()).extracting(Change::kind, Change::valueA, Change::valueB)
                .containsExactly(tuple(DiffKind.NUMERIC_DELTA, "NaN", "1.0"), tuple(DiffKind.NUMERIC_DELTA, "0.0", "NaN"));
        assertThat(r.changes()).allSatisfy(c -> assertThat(c.delta()).isNaN());
        // NaN is reported even with a huge tolerance, and does not poison the column maximum.
        assertThat(TableDiff.diff(a, results(row(11, "cand_000", "ok", 1.0, 0, false), row(12, "c", "ok", 0.0, 1, true)), 1e9).changes())
                .hasSize(1);
        assertThat(r.columns()).containsExactly(new ColumnSummary("effect_size", 2, null));
    }

    @Test
    void nullVersusAnyValueIsANullChange() {
        TableDiff.Result r = TableDiff.diff(
                results(row(1, "a", null, null, null, null), row(1, "b", "ok", Double.NaN, 3, true), row(1, "c", null, null, null, null)),
                results(row(1, "a", "ok", 0.0, 0, false), row(1, "b", null, null, null, null), row(1, "c", null, null, null, null)));

        assertThat(r.changes()).extracting(Change::kind).containsOnly(DiffKind.NULL_CHANGE);
        assertThat(r.changes()).extracting(Change::key, Change::column, Change::valueA, Change::valueB)
                .contains(tuple("seed=1, candidate_id=a", "effect_size", null, "0.0"),
                        tuple("seed=1, candidate_id=b", "effect_size", "NaN", null));
        assertThat(r.changes()).hasSize(8).allSatisfy(c -> assertThat(c.delta()).isNull());
        assertThat(r.rowsChanged()).isEqualTo(2);
    }

    @Test
    void int64DeltaIsExactAndSurvivesOverflow() {
        Table a = results(row(1, "a", "ok", 0.0, Long.MAX_VALUE - 1, true), row(1, "b", "ok", 0.0, Long.MIN_VALUE, true));
        Table b = results(row(1, "a", "ok", 0.0, Long.MAX_VALUE, true), row(1, "b", "ok", 0.0, Long.MAX_VALUE, true));

        assertThat(TableDiff.diff(a, b).changes()).extracting(Change::delta).containsExactly(1.0, 0x1p64);
    }

    @Test
    void duplicateKeysAreAnError() {
        Table dup = results(R1, row(10, "cand_000", "other", 1.0, 1, false));
        assertThatThrownBy(() -> TableDiff.diff(results(R1), dup)).isInstanceOf(UserError.class)
                .hasMessageContaining("in B has the key seed=10, candidate_id=cand_000 on rows 0 and 1")
                .hasMessageContaining("Fix:");
        assertThatThrownBy(() -> TableDiff.diff(dup, results(R1))).isInstanceOf(UserError.class).hasMessageContaining("in A");
    }

    @Test
    void tablesThatCannotBeAlignedAreErrors() {
        Table other = Table.builder("heldout_robustness_results").keys("seed").int64("seed").build();
        assertThatThrownBy(() -> TableDiff.diff(results(R1), other)).isInstanceOf(UserError.class)
                .hasMessageContaining("[seed, candidate_id] in A but [seed] in B");
        Table renamed = Table.builder("baseline").keys("seed").int64("seed").build();
        assertThatThrownBy(() -> TableDiff.diff(other, renamed)).isInstanceOf(UserError.class)
                .hasMessageContaining("'heldout_robustness_results' against table 'baseline'");
        Table keyless = Table.builder("t").int64("x").addRow(1).build();
        assertThatThrownBy(() -> TableDiff.diff(keyless, keyless)).isInstanceOf(UserError.class)
                .hasMessageContaining("no key columns");
    }

    @Test
    void schemaChangesAreReportedAndTheRestStillCompared() {
        Table a = Table.builder("t").keys("id").string("id").float64("x").int64("dropped").string("retyped")
                .addRow("r", 1.0, 5, "7").build();
        Table b = Table.builder("t").keys("id").string("id").float64("x").int64("retyped").bool("added")
                .addRow("r", 2.0, 7, true).build();

        assertThat(TableDiff.diff(a, b).changes()).extracting(Change::kind, Change::column, Change::valueA, Change::valueB)
                .containsExactly(
                        tuple(DiffKind.COLUMN_ONLY_IN_A, "dropped", "INT64", null),
                        tuple(DiffKind.TYPE_CHANGE, "retyped", "STRING", "INT64"),
                        tuple(DiffKind.COLUMN_ONLY_IN_B, "added", null, "BOOL"),
                        tuple(DiffKind.NUMERIC_DELTA, "x", "1.0", "2.0"));
    }

    @Test
    void diffTableHasOneRowPerChange() {
        TableDiff.Result r = TableDiff.diff(results(R1, R2), results(row(10, "cand_000", "ok", 0.75, 7, true), R3));
        Table t = r.toTable();

        assertThat(t.name()).isEqualTo("diff");
        assertThat(t.columnNames()).containsExactly("table", "key", "key_json", "column", "kind", "value_a", "value_b", "delta");
        assertThat(t.strings("kind")).containsExactly("numeric_delta", "only_in_a", "only_in_b");
        assertThat(t.strings("table")).containsOnly("heldout_robustness_results");
        assertThat(t.doubles("delta")).containsExactly(0.25, null, null);
        assertThat(t.provenance()).isEqualTo(Map.of("tolerance", 0.0));
    }

    @Test
    void provenanceDifferencesAreShownButAreNotDifferences() {
        Table a = results(R1).withProvenance(Map.of("git_commit", "abc", "device", "cpu"));
        Table b = results(R1).withProvenance(Map.of("git_commit", "def", "device", "cpu"));

        TableDiff.Result r = TableDiff.diff(a, b);
        assertThat(r.identical()).isTrue();
        assertThat(r.provenanceChanges()).containsExactly("git_commit: \"abc\" -> \"def\"");
        assertThat(r.render(5)).contains("provenance git_commit: \"abc\" -> \"def\"");
    }
}
