package org.milab.tables;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Builds a {@link Table} row by row. Declare keys and columns first, then add rows:
 * <pre>{@code
 * TableBuilder b = Table.builder("heldout_robustness_results")
 *         .keys("seed", "candidate_id", "example_id")
 *         .int64("seed", "layer", "head").string("candidate_id", "example_id", "family")
 *         .float64("effect_size").bool("should_show_induction_behavior")
 *         .provenance(run.provenance());
 * b.row().set("seed", 10).set("candidate_id", "cand_000").set("example_id", "ex_1").set("layer", 7).add();
 * b.addRow(Map.of("seed", 10, "candidate_id", "cand_001", "example_id", "ex_1", "effect_size", 0.25));
 * Table t = b.build();
 * }</pre>
 * Unset non-key cells are null. Every mistake (unknown column, wrong value type, missing key value, column
 * declared after rows) fails at once with a message naming the table, row and column.
 *
 * <p>Two conventions are applied by {@link #build()} so that every table follows them without each stage
 * repeating them: a table with INT64 {@code layer} and {@code head} columns gets a {@code head_id} column
 * ({@code L{layer}H{head}}, the one name of a head across all tables) right after {@code head}; and every
 * column gets its one-line description from {@link ColumnGlossary} unless {@link #describe} gave one.
 */
public final class TableBuilder {
    private final String name;
    private final List<String> keys = new ArrayList<>();
    private final Map<String, ColumnType> schema = new LinkedHashMap<>();
    private final List<List<Object>> data = new ArrayList<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();
    private final Map<String, String> descriptions = new LinkedHashMap<>();
    private String provenanceJson = "{}";
    private int rows;

    TableBuilder(String name) {
        if (name == null || name.isBlank()) throw new IllegalArgumentException("A table needs a non-blank name");
        this.name = name;
    }

    /** Names the key columns (declared with the typed methods, before or after this call). */
    public TableBuilder keys(String... keyColumns) {
        keys.addAll(Arrays.asList(keyColumns));
        return this;
    }

    public TableBuilder string(String... columns) {
        return columns(ColumnType.STRING, columns);
    }

    public TableBuilder int64(String... columns) {
        return columns(ColumnType.INT64, columns);
    }

    public TableBuilder float64(String... columns) {
        return columns(ColumnType.FLOAT64, columns);
    }

    public TableBuilder bool(String... columns) {
        return columns(ColumnType.BOOL, columns);
    }

    /** Columns holding a list of strings per cell (Arrow {@code list<utf8>}). */
    public TableBuilder stringList(String... columns) {
        return columns(ColumnType.STRING_LIST, columns);
    }

    /** Columns holding a list of integers per cell (Arrow {@code list<int64>}). */
    public TableBuilder int64List(String... columns) {
        return columns(ColumnType.INT64_LIST, columns);
    }

    /** Columns holding a list of floats per cell (Arrow {@code list<float64>}). */
    public TableBuilder float64List(String... columns) {
        return columns(ColumnType.FLOAT64_LIST, columns);
    }

    /** The column's one-line description (instead of the glossary's); declared columns only. */
    public TableBuilder describe(String column, String description) {
        if (!schema.containsKey(column)) throw error("cannot describe undeclared column '" + column + "'");
        if (description == null || description.isBlank() || description.contains("\n"))
            throw error("column '" + column + "' needs a non-blank one-line description");
        descriptions.put(column, description.strip());
        return this;
    }

    public TableBuilder column(String column, ColumnType type) {
        if (rows > 0) throw error("column '" + column + "' is declared after rows were added; declare all columns first");
        if (column == null || column.isEmpty()) throw error("column names must not be empty");
        if (schema.putIfAbsent(column, type) != null) throw error("column '" + column + "' is declared twice");
        data.add(new ArrayList<>());
        return this;
    }

    private TableBuilder columns(ColumnType type, String... columns) {
        for (String c : columns) column(c, type);
        return this;
    }

    /** The provenance JSON object written to the file's {@code milab.provenance} metadata. */
    public TableBuilder provenance(Map<String, ?> provenance) {
        this.provenanceJson = Table.normalizeProvenance(name, Json.write(provenance));
        return this;
    }

    /** An extra schema-metadata entry (not one of the reserved milab.table/keys/provenance/schema_version). */
    public TableBuilder metadata(String key, String value) {
        if (Table.RESERVED_METADATA.contains(key)) throw error("metadata key '" + key + "' is reserved");
        metadata.put(key, value);
        return this;
    }

    /**
     * Adds a row from column name to value; absent non-key columns are null. A {@code head_id} entry (a row
     * of another per-head table) is accepted when this builder derives head_id, and must agree with it.
     */
    public TableBuilder addRow(Map<String, ?> values) {
        checkKeysDeclared();
        for (String c : values.keySet()) {
            if (c.equals(HEAD_ID) && needsHeadId()) {
                Object l = values.get(LAYER), h = values.get(HEAD), given = values.get(HEAD_ID);
                Object derived = l instanceof Number ln && h instanceof Number hn ? headId(ln.longValue(), hn.longValue()) : null;
                if (!java.util.Objects.equals(given, derived))
                    throw error("row " + rows + " has head_id " + given + " but layer " + l + " and head " + h);
                continue;
            }
            columnIndex(c);
        }
        Object[] row = new Object[schema.size()];
        int i = 0;
        for (String c : schema.keySet()) row[i++] = values.get(c);
        return append(row);
    }

    /**
     * Appends a row of another table (a concatenation, a selection or a resumed chunk): its columns by name, so
     * no column is named here; a column this builder lacks is an error, one the row lacks is null.
     */
    public TableBuilder copyRow(Table.Row row) {
        return addRow(row.toMap());
    }

    /** Adds a row given every column's value in declaration order. */
    public TableBuilder addRow(Object... values) {
        checkKeysDeclared();
        if (values.length != schema.size()) {
            throw error("row " + rows + " has " + values.length + " values but the table has " + schema.size()
                    + " columns " + schema.keySet());
        }
        return append(values.clone());
    }

    /** {@link #addRow(Object...)} for {@link RecordSchema}, which hands over a fresh array (not copied again). */
    TableBuilder addCells(Object[] values) {
        checkKeysDeclared();
        if (values.length != schema.size())
            throw error("row " + rows + " has " + values.length + " values but the table has " + schema.size() + " columns " + schema.keySet());
        return append(values);
    }

    /** Starts a typed row: {@code b.row().set("layer", 7).set("family", "word").add()}. */
    public RowBuilder row() {
        checkKeysDeclared();
        return new RowBuilder();
    }

    public int rowCount() {
        return rows;
    }

    public Table build() {
        checkKeysDeclared();
        List<Column> columns = new ArrayList<>(schema.size() + 1);
        int i = 0;
        for (Map.Entry<String, ColumnType> e : schema.entrySet()) {
            columns.add(new Column(e.getKey(), e.getValue(), data.get(i++)));
            if (e.getKey().equals(HEAD) && needsHeadId()) columns.add(headIds());
        }
        Map<String, String> described = new LinkedHashMap<>();
        for (Column c : columns) {
            String d = descriptions.containsKey(c.name()) ? descriptions.get(c.name()) : ColumnGlossary.describe(name, c.name());
            if (d != null) described.put(c.name(), d);
        }
        return new Table(name, columns, keys, provenanceJson, metadata, described);
    }

    static final String LAYER = "layer", HEAD = "head", HEAD_ID = "head_id";

    /** The canonical head name: L{layer}H{head}, as in the field's notation (L7H7) and the file names. */
    public static String headId(long layer, long head) {
        return "L" + layer + "H" + head;
    }

    private boolean needsHeadId() {
        return schema.get(LAYER) == ColumnType.INT64 && schema.get(HEAD) == ColumnType.INT64 && !schema.containsKey(HEAD_ID);
    }

    private Column headIds() {
        List<Object> layers = data.get(columnIndex(LAYER)), heads = data.get(columnIndex(HEAD));
        List<Object> ids = new ArrayList<>(rows);
        for (int r = 0; r < rows; r++) {
            Object l = layers.get(r), h = heads.get(r);
            ids.add(l == null || h == null ? null : headId((Long) l, (Long) h));
        }
        return new Column(HEAD_ID, ColumnType.STRING, ids);
    }

    private TableBuilder append(Object[] row) {
        int i = 0;
        Object[] coerced = new Object[row.length];
        for (Map.Entry<String, ColumnType> e : schema.entrySet()) {
            Object v = row[i];
            // a cell already of the column's boxed type is kept as it is (coerce would only copy it)
            Object c = v != null && v.getClass() == e.getValue().javaType() && !e.getValue().isList() ? v : e.getValue().coerce(v);
            if (v != null && c == null) {
                throw error("row " + rows + " column '" + e.getKey() + "' is " + e.getValue() + " but got "
                        + v.getClass().getSimpleName() + " " + v);
            }
            if (c == null && keys.contains(e.getKey())) {
                throw error("row " + rows + " has no value for key column '" + e.getKey() + "'");
            }
            coerced[i++] = c;
        }
        // Only mutate once the whole row is valid, so a caught error leaves the builder consistent.
        for (int j = 0; j < coerced.length; j++) data.get(j).add(coerced[j]);
        rows++;
        return this;
    }

    private int columnIndex(String column) {
        int i = 0;
        for (String c : schema.keySet()) {
            if (c.equals(column)) return i;
            i++;
        }
        throw error("no column '" + column + "'; declared columns: " + schema.keySet());
    }

    private void checkKeysDeclared() {
        for (String k : keys) {
            if (!schema.containsKey(k)) throw error("key column '" + k + "' is not declared as a column");
        }
    }

    private IllegalArgumentException error(String message) {
        return new IllegalArgumentException("Table '" + name + "': " + message);
    }

    /** One row being filled by column name; {@link #add()} appends it to the table. */
    public final class RowBuilder {
        private final Object[] values = new Object[schema.size()];
        private final boolean[] set = new boolean[schema.size()];
        private boolean added;

        private RowBuilder() {}

        public RowBuilder set(String column, Object value) {
            int i = columnIndex(column);
            if (set[i]) throw error("row " + rows + " sets column '" + column + "' twice");
            set[i] = true;
            values[i] = value;
            return this;
        }

        public TableBuilder add() {
            if (added) throw error("the same row() was added twice; start each row with row()");
            append(values);
            added = true;
            return TableBuilder.this;
        }
    }
}
