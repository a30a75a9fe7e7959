package org.milab.tables;

import java.math.BigDecimal;
import java.math.MathContext;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The tables and text a diff produces. {@code diff}: one row per difference (table, key, key_json, column,
 * kind, value_a, value_b, delta). {@code diff_summary}: one row per table (status, row counts).
 * {@code diff_columns}: one row per changed column (rows changed, max |delta|).
 */
final class DiffTables {
    private DiffTables() {}

    static Table changes(Map<String, TableDiff.Result> tables, List<String> onlyInA, List<String> onlyInB,
                         Map<String, ?> provenance) {
        TableBuilder b = Table.builder("diff").keys("table", "key_json", "column", "kind")
                .string("table", "key", "key_json", "column", "kind", "value_a", "value_b").float64("delta")
                .provenance(provenance);
        for (String t : onlyInA) b.addRow(t, "", "", "", DiffKind.TABLE_ONLY_IN_A.label(), null, null, null);
        for (String t : onlyInB) b.addRow(t, "", "", "", DiffKind.TABLE_ONLY_IN_B.label(), null, null, null);
        tables.forEach((label, r) -> {
            for (TableDiff.Change c : r.changes()) {
                b.addRow(label, c.key(), c.keyJson(), c.column(), c.kind().label(), c.valueA(), c.valueB(), c.delta());
            }
        });
        return b.build();
    }

    static Table summary(Map<String, TableDiff.Result> tables, List<String> onlyInA, List<String> onlyInB,
                         Map<String, ?> provenance) {
        TableBuilder b = Table.builder("diff_summary").keys("table")
                .string("table", "status")
                .int64("rows_a", "rows_b", "rows_matched", "rows_changed", "rows_only_in_a", "rows_only_in_b", "changes")
                .provenance(provenance);
        for (String t : onlyInA) b.row().set("table", t).set("status", DiffKind.TABLE_ONLY_IN_A.label()).add();
        for (String t : onlyInB) b.row().set("table", t).set("status", DiffKind.TABLE_ONLY_IN_B.label()).add();
        tables.forEach((label, r) -> b.addRow(label, r.identical() ? "identical" : "different", r.rowsA(), r.rowsB(),
                r.rowsMatched(), r.rowsChanged(), r.rowsOnlyInA(), r.rowsOnlyInB(), r.changes().size()));
        return b.build();
    }

    static Table columns(Map<String, TableDiff.Result> tables, Map<String, ?> provenance) {
        TableBuilder b = Table.builder("diff_columns").keys("table", "column")
                .string("table", "column").int64("rows_changed").float64("max_abs_delta")
                .provenance(provenance);
        tables.forEach((label, r) -> {
            for (TableDiff.ColumnSummary c : r.columns()) b.addRow(label, c.column(), c.rowsChanged(), c.maxAbsDelta());
        });
        return b.build();
    }

    /** @param withProvenance list the table's provenance differences under it (RunDiff groups them instead) */
    static void renderTable(StringBuilder sb, String label, TableDiff.Result r, int maxChanges, boolean withProvenance) {
        if (r.identical()) {
            sb.append(label).append(": identical (").append(r.rowsA()).append(" rows)\n");
        } else {
            sb.append(String.format(Locale.ROOT,
                    "%s: DIFFERENT  rows A %d, B %d; matched %d, changed %d; only in A %d, only in B %d%n",
                    label, r.rowsA(), r.rowsB(), r.rowsMatched(), r.rowsChanged(), r.rowsOnlyInA(), r.rowsOnlyInB()));
            for (TableDiff.ColumnSummary c : r.columns()) {
                sb.append(String.format(Locale.ROOT, "  column %-28s %6d row%s changed", c.column(), c.rowsChanged(),
                        c.rowsChanged() == 1 ? "" : "s"));
                if (c.maxAbsDelta() != null) sb.append(", max |delta| ").append(brief(c.maxAbsDelta()));
                sb.append('\n');
            }
            List<TableDiff.Change> changes = r.changes();
            for (int i = 0; i < Math.min(maxChanges, changes.size()); i++) {
                sb.append("  ").append(line(changes.get(i))).append('\n');
            }
            if (changes.size() > maxChanges) {
                sb.append("  ... ").append(changes.size() - maxChanges).append(" more (write them with --out to see all)\n");
            }
        }
        if (withProvenance) for (String p : r.provenanceChanges()) sb.append("  provenance ").append(p).append('\n');
    }

    static String line(TableDiff.Change c) {
        return switch (c.kind()) {
            case ONLY_IN_A -> "only in A: " + c.key();
            case ONLY_IN_B -> "only in B: " + c.key();
            case COLUMN_ONLY_IN_A -> "column only in A: " + c.column() + " (" + c.valueA() + ")";
            case COLUMN_ONLY_IN_B -> "column only in B: " + c.column() + " (" + c.valueB() + ")";
            case TYPE_CHANGE -> "column " + c.column() + " changed type: " + c.valueA() + " -> " + c.valueB();
            case TABLE_ONLY_IN_A, TABLE_ONLY_IN_B -> c.kind().label();
            case STATUS_CHANGE, LIST_CHANGE, NULL_CHANGE, NUMERIC_DELTA -> c.key() + ": " + c.column() + " " + cell(c.valueA())
                    + " -> " + cell(c.valueB())
                    + (c.delta() == null ? "" : " (delta " + (c.delta() > 0 ? "+" : "") + brief(c.delta()) + ")");
        };
    }

    /** 4 significant digits, no padding: "0.125", "1E-7", "-2.5E+3"; the cells themselves stay exact. */
    static String brief(double v) {
        if (!Double.isFinite(v)) return Double.toString(v);
        return new BigDecimal(v).round(new MathContext(4)).stripTrailingZeros().toString();
    }

    private static String cell(String v) {
        return v == null ? "null" : v.isEmpty() ? "\"\"" : v;
    }
}
