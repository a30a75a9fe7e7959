package org.milab.tables;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Predicate;

/**
 * An immutable, column-oriented result table: a name, ordered typed columns, the key columns that identify
 * a row (used to align two runs' tables), a one-line description per column (written to each Arrow field's
 * {@code description} metadata), a provenance JSON object and extra string metadata. Stage code
 * builds one with {@link #builder(String)} and writes it with {@link ArrowTables#write}; analysis stages read
 * it back with {@link ArrowTables#read} and use the typed column accessors.
 */
public final class Table {
    /** Schema-metadata keys the Arrow file reserves for the table's own fields. */
    static final Set<String> RESERVED_METADATA =
            Set.of("milab.table", "milab.keys", "milab.provenance", "milab.schema_version");

    private final String name;
    private final List<Column> columns;
    private final List<String> keys;
    private final String provenanceJson;
    private final Map<String, String> metadata;
    private final Map<String, String> descriptions;
    private final Map<String, Integer> index = new HashMap<>();
    private final int rowCount;

    /**
     * @param provenanceJson a JSON object (normalized to compact form)
     * @param metadata extra schema metadata; must not use the reserved {@code milab.*} keys above
     */
    Table(String name, List<Column> columns, List<String> keys, String provenanceJson, Map<String, String> metadata) {
        this(name, columns, keys, provenanceJson, metadata, Map.of());
    }

    /** @param descriptions column name to its one-line description (columns without one are absent) */
    Table(String name, List<Column> columns, List<String> keys, String provenanceJson, Map<String, String> metadata,
          Map<String, String> descriptions) {
        if (name == null || name.isBlank()) throw new IllegalArgumentException("A table needs a non-blank name");
        this.name = name;
        this.columns = List.copyOf(columns);
        this.keys = List.copyOf(keys);
        this.provenanceJson = normalizeProvenance(name, provenanceJson);
        this.metadata = Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
        for (String k : this.metadata.keySet()) {
            if (RESERVED_METADATA.contains(k)) {
                throw new IllegalArgumentException("Table '" + name + "': metadata key '" + k
                        + "' is reserved (set the name, keys or provenance instead)");
            }
        }
        for (int i = 0; i < this.columns.size(); i++) {
            if (index.put(this.columns.get(i).name(), i) != null) {
                throw new IllegalArgumentException("Table '" + name + "' has two columns named '" + this.columns.get(i).name() + "'");
            }
        }
        this.descriptions = Collections.unmodifiableMap(new LinkedHashMap<>(descriptions));
        for (String c : this.descriptions.keySet()) {
            if (!index.containsKey(c)) throw new IllegalArgumentException("Table '" + name + "' describes column '" + c
                    + "', which it does not have");
        }
        this.rowCount = this.columns.isEmpty() ? 0 : this.columns.get(0).size();
        for (Column c : this.columns) {
            if (c.size() != rowCount) {
                throw new IllegalArgumentException("Table '" + name + "': column '" + c.name() + "' has " + c.size()
                        + " values but column '" + this.columns.get(0).name() + "' has " + rowCount);
            }
        }
        if (new HashSet<>(this.keys).size() != this.keys.size()) {
            throw new IllegalArgumentException("Table '" + name + "' lists a key column twice: " + this.keys);
        }
        for (String k : this.keys) {
            Column c = column(k);
            int missing = c.values().indexOf(null);
            if (missing >= 0) {
                throw new IllegalArgumentException("Table '" + name + "' row " + missing + " has no value for key column '" + k + "'");
            }
        }
    }

    public static TableBuilder builder(String name) {
        return new TableBuilder(name);
    }

    public String name() {
        return name;
    }

    public List<Column> columns() {
        return columns;
    }

    public List<String> columnNames() {
        return columns.stream().map(Column::name).toList();
    }

    public boolean hasColumn(String column) {
        return index.containsKey(column);
    }

    public Column column(String column) {
        Integer i = index.get(column);
        if (i == null) {
            throw new IllegalArgumentException("Table '" + name + "' has no column '" + column + "'; columns: " + columnNames());
        }
        return columns.get(i);
    }

    public ColumnType type(String column) {
        return column(column).type();
    }

    /** Key column names, in key order. */
    public List<String> keys() {
        return keys;
    }

    public int rowCount() {
        return rowCount;
    }

    /** The provenance object as compact JSON ("{}" when none was given). */
    public String provenanceJson() {
        return provenanceJson;
    }

    /** The provenance object parsed (insertion-ordered; numbers as Integer/Long/Double as JSON gives them). */
    public Map<String, Object> provenance() {
        try {
            return Json.readObject(provenanceJson);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("normalized provenance did not parse", e);
        }
    }

    /** Extra schema metadata (never the reserved milab.table/keys/provenance/schema_version entries). */
    public Map<String, String> metadata() {
        return metadata;
    }

    public List<String> strings(String column) {
        return typed(column, ColumnType.STRING);
    }

    public List<Long> longs(String column) {
        return typed(column, ColumnType.INT64);
    }

    public List<Double> doubles(String column) {
        return typed(column, ColumnType.FLOAT64);
    }

    public List<Boolean> bools(String column) {
        return typed(column, ColumnType.BOOL);
    }

    public List<List<String>> stringLists(String column) {
        return typed(column, ColumnType.STRING_LIST);
    }

    public List<List<Long>> longLists(String column) {
        return typed(column, ColumnType.INT64_LIST);
    }

    public List<List<Double>> doubleLists(String column) {
        return typed(column, ColumnType.FLOAT64_LIST);
    }

    /** Column name to its one-line description, in column order (undescribed columns are absent). */
    public Map<String, String> descriptions() {
        return descriptions;
    }

    /** The column's one-line description, or null. */
    public String description(String column) {
        column(column); // fails on an unknown column
        return descriptions.get(column);
    }

    @SuppressWarnings("unchecked") // the Column constructor checked every value's class against the type
    private <T> List<T> typed(String column, ColumnType expected) {
        Column c = column(column);
        if (c.type() != expected) {
            throw new IllegalArgumentException("Table '" + name + "' column '" + column + "' is " + c.type() + ", not " + expected);
        }
        return (List<T>) (List<?>) c.values();
    }

    public Object value(int row, String column) {
        return column(column).get(row);
    }

    public Row row(int index) {
        Objects.checkIndex(index, rowCount);
        return new Row(this, index);
    }

    public List<Row> rows() {
        List<Row> out = new ArrayList<>(rowCount);
        for (int i = 0; i < rowCount; i++) out.add(new Row(this, i));
        return out;
    }

    /** The rows for which {@code keep} is true, same schema and metadata. */
    public Table filter(Predicate<Row> keep) {
        List<Integer> picked = new ArrayList<>();
        for (int i = 0; i < rowCount; i++) {
            if (keep.test(new Row(this, i))) picked.add(i);
        }
        return select(picked);
    }

    /**
     * Splits the rows by the values of {@code columns}: group key (the values, in the given column order)
     * to a sub-table with the same schema. Groups are in order of first appearance.
     */
    public Map<List<Object>, Table> groupBy(String... groupColumns) {
        List<Column> cols = new ArrayList<>();
        for (String g : groupColumns) cols.add(column(g));
        Map<List<Object>, List<Integer>> groups = new LinkedHashMap<>();
        for (int i = 0; i < rowCount; i++) {
            List<Object> key = new ArrayList<>(cols.size());
            for (Column c : cols) key.add(c.get(i));
            groups.computeIfAbsent(Collections.unmodifiableList(key), k -> new ArrayList<>()).add(i);
        }
        Map<List<Object>, Table> out = new LinkedHashMap<>();
        groups.forEach((k, rows) -> out.put(k, select(rows)));
        return out;
    }

    private Table select(List<Integer> rows) {
        List<Column> cols = new ArrayList<>(columns.size());
        for (Column c : columns) {
            List<Object> values = new ArrayList<>(rows.size());
            for (int r : rows) values.add(c.get(r));
            cols.add(new Column(c.name(), c.type(), values));
        }
        return new Table(name, cols, keys, provenanceJson, metadata, descriptions);
    }

    /** A copy with this provenance object (model sha256, graph hashes, git commit, seeds, device, versions...). */
    public Table withProvenance(Map<String, ?> provenance) {
        return new Table(name, columns, keys, Json.write(provenance), metadata, descriptions);
    }

    /** A copy with one more (or a replaced) extra metadata entry. */
    public Table withMetadata(String key, String value) {
        Map<String, String> m = new LinkedHashMap<>(metadata);
        m.put(key, value);
        return new Table(name, columns, keys, provenanceJson, m, descriptions);
    }

    static String normalizeProvenance(String table, String json) {
        if (json == null) return "{}";
        try {
            JsonNode node = Json.MAPPER.readTree(json);
            if (node == null || !node.isObject()) {
                throw new IllegalArgumentException("Table '" + table + "': provenance must be a JSON object, got: " + json);
            }
            return Json.write(node); // one line, as the metadata has always been
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("Table '" + table + "': provenance is not valid JSON: " + e.getOriginalMessage(), e);
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Table t && name.equals(t.name) && columns.equals(t.columns) && keys.equals(t.keys)
                && provenanceJson.equals(t.provenanceJson) && metadata.equals(t.metadata)
                && descriptions.equals(t.descriptions);
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, columns, keys, provenanceJson, metadata, descriptions);
    }

    @Override
    public String toString() {
        return "Table[" + name + ", " + rowCount + " rows, columns=" + columnNames() + ", keys=" + keys + "]";
    }

    /** A read view of one row. Typed getters return null for null cells and fail on a type mismatch. */
    public record Row(Table table, int index) {
        public Object get(String column) {
            return table.column(column).get(index);
        }

        public String getString(String column) {
            return table.strings(column).get(index);
        }

        public Long getLong(String column) {
            return table.longs(column).get(index);
        }

        public Double getDouble(String column) {
            return table.doubles(column).get(index);
        }

        public Boolean getBool(String column) {
            return table.bools(column).get(index);
        }

        public List<String> getStrings(String column) {
            return table.stringLists(column).get(index);
        }

        public List<Long> getLongs(String column) {
            return table.longLists(column).get(index);
        }

        public List<Double> getDoubles(String column) {
            return table.doubleLists(column).get(index);
        }

        /** The key column values, in key order. */
        public List<Object> key() {
            List<Object> k = new ArrayList<>(table.keys.size());
            for (String c : table.keys) k.add(get(c));
            return k;
        }

        /** Column name to value, in column order. */
        public Map<String, Object> toMap() {
            Map<String, Object> m = new LinkedHashMap<>();
            for (Column c : table.columns) m.put(c.name(), c.get(index));
            return m;
        }
    }
}
