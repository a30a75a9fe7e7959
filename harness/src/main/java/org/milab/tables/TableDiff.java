package org.milab.tables;

import org.milab.util.UserError;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * Aligns two versions of one table on their key columns and lists what changed: rows only in A or only in
 * B, and for matched rows every changed non-key cell. Numbers count as changed when |b - a| > tolerance
 * (tolerance 0: any difference); NaN equals NaN; null vs a value (NaN included) is always a change.
 */
public final class TableDiff {
    private TableDiff() {}

    /** One difference. {@code key}/{@code keyJson} are empty for column-level kinds, {@code column} for row-level ones. */
    public record Change(DiffKind kind, String key, String keyJson, String column, String valueA, String valueB,
                         Double delta) {}

    /**
     * Per changed column: how many matched rows changed and the largest finite-or-infinite |delta|
     * (null for string/bool columns or when every delta was NaN).
     */
    public record ColumnSummary(String column, int rowsChanged, Double maxAbsDelta) {}

    public record Result(String table, List<String> keys, double tolerance, int rowsA, int rowsB, int rowsMatched,
                         int rowsChanged, int rowsOnlyInA, int rowsOnlyInB, List<Change> changes,
                         List<ColumnSummary> columns, List<String> provenanceChanges) {
        public Result {
            keys = List.copyOf(keys);
            changes = List.copyOf(changes);
            columns = List.copyOf(columns);
            provenanceChanges = List.copyOf(provenanceChanges);
        }

        /** No row, cell or column differences (provenance and description differences alone do not count). */
        public boolean identical() {
            return changes.isEmpty();
        }

        /** The changes as a {@code diff} table (see {@link DiffTables}). */
        public Table toTable() {
            return DiffTables.changes(Map.of(table, this), List.of(), List.of(), Map.of("tolerance", tolerance));
        }

        /** A terminal rendering, at most {@code maxChanges} change lines. */
        public String render(int maxChanges) {
            StringBuilder sb = new StringBuilder();
            DiffTables.renderTable(sb, table, this, maxChanges, true);
            return sb.toString();
        }
    }

    public static Result diff(Table a, Table b) {
        return diff(a, b, 0.0);
    }

    public static Result diff(Table a, Table b, double tolerance) {
        if (!(tolerance >= 0) || Double.isInfinite(tolerance)) {
            throw new UserError("Numeric tolerance must be a finite number >= 0, got " + tolerance + ".",
                    "Pass e.g. --tolerance 0 (exact) or --tolerance 1e-6.");
        }
        String name = a.name();
        if (!name.equals(b.name())) {
            throw new UserError("Cannot diff table '" + name + "' against table '" + b.name() + "'.",
                    "Compare two versions of the same table.");
        }
        checkKeys(a, b);
        Map<List<Object>, Integer> rowsOfB = indexByKey(b, "B");
        indexByKey(a, "A"); // only for the duplicate check

        List<Change> changes = new ArrayList<>();
        List<String> compared = new ArrayList<>();
        for (Column ca : a.columns()) {
            if (a.keys().contains(ca.name())) continue;
            if (!b.hasColumn(ca.name())) {
                changes.add(columnChange(DiffKind.COLUMN_ONLY_IN_A, ca.name(), ca.type().toString(), null));
            } else if (b.type(ca.name()) != ca.type()) {
                changes.add(columnChange(DiffKind.TYPE_CHANGE, ca.name(), ca.type().toString(), b.type(ca.name()).toString()));
            } else {
                compared.add(ca.name());
            }
        }
        for (Column cb : b.columns()) {
            if (!a.hasColumn(cb.name())) changes.add(columnChange(DiffKind.COLUMN_ONLY_IN_B, cb.name(), null, cb.type().toString()));
        }

        Map<String, int[]> changedPerColumn = new LinkedHashMap<>();
        Map<String, Double> maxDelta = new HashMap<>();
        boolean[] matchedInB = new boolean[b.rowCount()];
        int matched = 0, rowsChanged = 0, onlyA = 0;
        for (int i = 0; i < a.rowCount(); i++) {
            Table.Row ra = a.row(i);
            Integer j = rowsOfB.get(ra.key());
            if (j == null) {
                onlyA++;
                changes.add(rowChange(DiffKind.ONLY_IN_A, ra, valuesJson(ra), null));
                continue;
            }
            matched++;
            matchedInB[j] = true;
            boolean changed = false;
            for (String col : compared) {
                Change c = compareCell(ra, a.column(col).type(), col, a.value(i, col), b.value(j, col), tolerance);
                if (c == null) continue;
                changes.add(c);
                changed = true;
                changedPerColumn.computeIfAbsent(col, k -> new int[1])[0]++;
                if (c.delta() != null && !c.delta().isNaN()) maxDelta.merge(col, Math.abs(c.delta()), Math::max);
            }
            if (changed) rowsChanged++;
        }
        int onlyB = 0;
        for (int j = 0; j < b.rowCount(); j++) {
            if (matchedInB[j]) continue;
            onlyB++;
            Table.Row rb = b.row(j);
            changes.add(rowChange(DiffKind.ONLY_IN_B, rb, null, valuesJson(rb)));
        }
        List<ColumnSummary> summaries = new ArrayList<>();
        for (String col : compared) {
            int[] n = changedPerColumn.get(col);
            if (n != null) summaries.add(new ColumnSummary(col, n[0], maxDelta.get(col)));
        }
        return new Result(name, a.keys(), tolerance, a.rowCount(), b.rowCount(), matched, rowsChanged, onlyA, onlyB,
                changes, summaries, provenanceChanges(a, b));
    }

    private static void checkKeys(Table a, Table b) {
        if (!a.keys().equals(b.keys())) {
            throw new UserError("Table '" + a.name() + "' has key columns " + a.keys() + " in A but " + b.keys()
                    + " in B, so its rows cannot be aligned.", "Compare runs whose tables were written with the same keys.");
        }
        if (a.keys().isEmpty()) {
            throw new UserError("Table '" + a.name() + "' declares no key columns, so its rows cannot be aligned.",
                    "Name the columns that identify a row with TableBuilder.keys(...) in the stage that writes it.");
        }
        for (String k : a.keys()) {
            if (a.type(k) != b.type(k)) {
                throw new UserError("Key column '" + k + "' of table '" + a.name() + "' is " + a.type(k) + " in A but "
                        + b.type(k) + " in B.", "Compare runs whose tables were written with the same schema.");
            }
        }
    }

    private static Map<List<Object>, Integer> indexByKey(Table t, String side) {
        Map<List<Object>, Integer> index = new HashMap<>();
        for (int i = 0; i < t.rowCount(); i++) {
            Table.Row r = t.row(i);
            Integer previous = index.putIfAbsent(r.key(), i);
            if (previous != null) {
                throw new UserError("Table '" + t.name() + "' in " + side + " has the key " + keyText(r)
                        + " on rows " + previous + " and " + i + ", so its rows cannot be aligned.",
                        "Add the column that tells those rows apart to the table's keys(...) in the stage that writes it.");
            }
        }
        return index;
    }

    /** Null when the cells are the same; see the class comment for the rules. */
    private static Change compareCell(Table.Row row, ColumnType type, String col, Object va, Object vb, double tol) {
        if (Objects.equals(va, vb)) return null; // Double.equals: NaN == NaN
        if (va == null || vb == null) return cellChange(DiffKind.NULL_CHANGE, row, col, va, vb, null);
        return switch (type) {
            case STRING, BOOL -> cellChange(DiffKind.STATUS_CHANGE, row, col, va, vb, null);
            case STRING_LIST, INT64_LIST, FLOAT64_LIST -> cellChange(DiffKind.LIST_CHANGE, row, col, va, vb, null);
            case INT64 -> {
                long a = (Long) va, b = (Long) vb;
                double delta;
                try {
                    delta = Math.subtractExact(b, a);
                } catch (ArithmeticException overflow) {
                    delta = (double) b - (double) a;
                }
                // Compare exactly: a long delta above 2^53 may round, but a != b already holds.
                yield tol > 0 && Math.abs(delta) <= tol ? null : cellChange(DiffKind.NUMERIC_DELTA, row, col, va, vb, delta);
            }
            case FLOAT64 -> {
                double a = (Double) va, b = (Double) vb;
                if (a == b) yield null; // 0.0 vs -0.0 (Double.equals tells them apart, == does not)
                double delta = b - a;
                yield Math.abs(delta) <= tol ? null : cellChange(DiffKind.NUMERIC_DELTA, row, col, va, vb, delta);
            }
        };
    }

    private static Change cellChange(DiffKind kind, Table.Row row, String col, Object va, Object vb, Double delta) {
        return new Change(kind, keyText(row), keyJson(row), col, render(va), render(vb), delta);
    }

    private static Change rowChange(DiffKind kind, Table.Row row, String valueA, String valueB) {
        return new Change(kind, keyText(row), keyJson(row), "", valueA, valueB, null);
    }

    private static Change columnChange(DiffKind kind, String column, String valueA, String valueB) {
        return new Change(kind, "", "", column, valueA, valueB, null);
    }

    /** "seed=10, candidate_id=cand_001": the readable key. */
    static String keyText(Table.Row row) {
        StringBuilder sb = new StringBuilder();
        for (String k : row.table().keys()) {
            if (sb.length() > 0) sb.append(", ");
            sb.append(k).append('=').append(render(row.get(k)));
        }
        return sb.toString();
    }

    static String keyJson(Table.Row row) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (String k : row.table().keys()) m.put(k, row.get(k));
        return Json.write(m);
    }

    /** The row's non-key values as JSON, for rows present on one side only. */
    private static String valuesJson(Table.Row row) {
        Map<String, Object> m = row.toMap();
        row.table().keys().forEach(m::remove);
        return Json.write(m);
    }

    /** A cell as text: null stays null; doubles in round-trip form; lists as JSON. */
    static String render(Object v) {
        return v == null ? null : v instanceof List<?> ? Json.write(v) : v.toString();
    }

    /**
     * Provenance entries that say which run wrote a table and when, not what it holds: two runs of the same
     * config differ in them by design, so a diff reports them once per run (RunDiff) and never per table.
     */
    public static final java.util.Set<String> RUN_IDENTITY = java.util.Set.of("run_id", "created_utc");

    /** Top-level provenance entries that differ, as "key: a -> b" (informational only; run identity left out). */
    private static List<String> provenanceChanges(Table a, Table b) {
        Map<String, Object> pa = a.provenance(), pb = b.provenance();
        List<String> out = new ArrayList<>();
        List<String> names = new ArrayList<>(pa.keySet());
        pb.keySet().stream().filter(k -> !pa.containsKey(k)).forEach(names::add);
        names.removeAll(RUN_IDENTITY);
        for (String k : names) {
            Object va = pa.get(k), vb = pb.get(k);
            if (!Objects.equals(va, vb)) {
                out.add(String.format(Locale.ROOT, "%s: %s -> %s", k,
                        pa.containsKey(k) ? Json.write(va) : "(absent)", pb.containsKey(k) ? Json.write(vb) : "(absent)"));
            }
        }
        return out;
    }
}
