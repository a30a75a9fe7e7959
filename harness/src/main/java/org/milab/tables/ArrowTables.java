package org.milab.tables;

import com.fasterxml.jackson.core.JsonProcessingException;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.BitVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.ListVector;
import org.apache.arrow.vector.ipc.ArrowFileReader;
import org.apache.arrow.vector.ipc.ArrowFileWriter;
import org.apache.arrow.vector.ipc.InvalidArrowFileException;
import org.apache.arrow.vector.ipc.message.ArrowBlock;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;
import org.milab.util.AtomicFiles;
import org.milab.util.UserError;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntConsumer;

/**
 * Reads and writes {@link Table}s as Arrow IPC <em>files</em> (random-access format, "ARROW1" magic), which
 * pyarrow ({@code pa.ipc.open_file} / {@code feather.read_table}), Polars ({@code read_ipc}) and DuckDB open.
 * Schema metadata: {@code milab.table} (name), {@code milab.keys} (JSON list), {@code milab.provenance}
 * (JSON object), {@code milab.schema_version}, plus the table's extra metadata. Field metadata:
 * {@code description}, the column's one-line description. List columns are Arrow {@code list<item>} with a
 * utf8, int64 or float64 child named {@code item} (pyarrow's and Polars' convention).
 */
public final class ArrowTables {
    /** 2: list-typed columns, head_id, field descriptions (version 1 files hold none of them and still read). */
    public static final String SCHEMA_VERSION = "2";
    static final java.util.Set<String> READABLE_VERSIONS = java.util.Set.of("1", "2");
    /** The field-metadata key holding a column's one-line description. */
    public static final String FIELD_DESCRIPTION = "description";
    static final String LIST_ITEM = "item";
    public static final String EXTENSION = ".arrow";
    /** Rows per record batch: bounds the off-heap buffers held at once while writing or reading. */
    public static final int DEFAULT_BATCH_ROWS = 32_768;

    static final String META_TABLE = "milab.table";
    static final String META_KEYS = "milab.keys";
    static final String META_PROVENANCE = "milab.provenance";
    static final String META_SCHEMA_VERSION = "milab.schema_version";

    private ArrowTables() {}

    /** Writes {@code table} to {@code file} atomically (temp file + rename; no partial file on error). */
    public static void write(Path file, Table table) {
        write(file, table, DEFAULT_BATCH_ROWS);
    }

    public static void write(Path file, Table table, int maxBatchRows) {
        write(file, table, maxBatchRows, batch -> {});
    }

    /** Writes {@code dir/<table name>.arrow} and returns that path. */
    public static Path writeInto(Path dir, Table table) {
        Path file = dir.resolve(table.name() + EXTENSION);
        write(file, table);
        return file;
    }

    /** {@code afterBatch} is a test seam: it runs after each record batch is written. */
    static void write(Path file, Table table, int maxBatchRows, IntConsumer afterBatch) {
        if (maxBatchRows < 1) throw new IllegalArgumentException("maxBatchRows must be >= 1, got " + maxBatchRows);
        Schema schema = schemaOf(table);
        AtomicFiles.writeVia(file, tmp -> {
            try (BufferAllocator allocator = new RootAllocator();
                 FileChannel channel = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
                 VectorSchemaRoot root = VectorSchemaRoot.create(schema, allocator);
                 ArrowFileWriter writer = new ArrowFileWriter(root, null, channel)) {
                writer.start();
                int n = table.rowCount();
                int batch = 0;
                // An empty table still gets one (empty) batch: some readers treat zero batches specially.
                for (int from = 0; from < n || (n == 0 && batch == 0); from += maxBatchRows) {
                    int to = Math.min(n, from + maxBatchRows);
                    fillBatch(root, table, from, to);
                    writer.writeBatch();
                    afterBatch.accept(batch++);
                }
                writer.end();
            }
        });
    }

    /** Reads a table written by {@link #write}; a foreign Arrow file of the same four types also reads. */
    public static Table read(Path file) {
        try (BufferAllocator allocator = new RootAllocator();
             FileChannel channel = FileChannel.open(file, StandardOpenOption.READ);
             ArrowFileReader reader = new ArrowFileReader(channel, allocator)) {
            VectorSchemaRoot root = reader.getVectorSchemaRoot();
            Schema schema = root.getSchema();
            List<ColumnType> types = new ArrayList<>();
            List<List<Object>> data = new ArrayList<>();
            Map<String, String> descriptions = new LinkedHashMap<>();
            for (Field f : schema.getFields()) {
                types.add(columnTypeOf(file, f));
                data.add(new ArrayList<>());
                String d = f.getMetadata() == null ? null : f.getMetadata().get(FIELD_DESCRIPTION);
                if (d != null) descriptions.put(f.getName(), d);
            }
            for (ArrowBlock block : reader.getRecordBlocks()) {
                reader.loadRecordBatch(block);
                List<FieldVector> vectors = root.getFieldVectors();
                for (int c = 0; c < vectors.size(); c++) readColumn(vectors.get(c), root.getRowCount(), data.get(c));
            }
            List<Column> columns = new ArrayList<>();
            for (int c = 0; c < types.size(); c++) {
                columns.add(new Column(schema.getFields().get(c).getName(), types.get(c), data.get(c)));
            }
            return tableOf(file, schema.getCustomMetadata(), columns, descriptions);
        } catch (NoSuchFileException e) {
            throw new UserError("No table file at " + file + ".", "Check the path, or run the stage that writes it.", e);
        } catch (IOException | InvalidArrowFileException e) {
            throw new UserError("Cannot read " + file + " as an Arrow IPC file: " + e.getMessage(),
                    "Re-run the stage that writes it (the file may be truncated or not an Arrow file).", e);
        }
    }

    static Schema schemaOf(Table table) {
        List<Field> fields = new ArrayList<>();
        for (Column c : table.columns()) {
            String d = table.descriptions().get(c.name());
            FieldType type = new FieldType(true, arrowTypeOf(c.type()), null, d == null ? null : Map.of(FIELD_DESCRIPTION, d));
            List<Field> children = c.type().isList()
                    ? List.of(new Field(LIST_ITEM, FieldType.nullable(arrowTypeOf(c.type().element())), null)) : null;
            fields.add(new Field(c.name(), type, children));
        }
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put(META_TABLE, table.name());
        meta.put(META_KEYS, Json.write(table.keys()));
        meta.put(META_SCHEMA_VERSION, SCHEMA_VERSION);
        meta.put(META_PROVENANCE, table.provenanceJson());
        meta.putAll(table.metadata());
        return new Schema(fields, meta);
    }

    private static ArrowType arrowTypeOf(ColumnType type) {
        return switch (type) {
            case STRING -> ArrowType.Utf8.INSTANCE;
            case INT64 -> new ArrowType.Int(64, true);
            case FLOAT64 -> new ArrowType.FloatingPoint(FloatingPointPrecision.DOUBLE);
            case BOOL -> ArrowType.Bool.INSTANCE;
            case STRING_LIST, INT64_LIST, FLOAT64_LIST -> ArrowType.List.INSTANCE;
        };
    }

    private static ColumnType columnTypeOf(Path file, Field field) {
        ArrowType t = field.getType();
        if (t instanceof ArrowType.List && field.getChildren().size() == 1) {
            ColumnType item = columnTypeOf(file, field.getChildren().get(0));
            for (ColumnType c : ColumnType.values()) if (c.element() == item) return c;
        }
        if (t instanceof ArrowType.Utf8) return ColumnType.STRING;
        if (t instanceof ArrowType.Int i && i.getBitWidth() == 64 && i.getIsSigned()) return ColumnType.INT64;
        if (t instanceof ArrowType.FloatingPoint fp && fp.getPrecision() == FloatingPointPrecision.DOUBLE) return ColumnType.FLOAT64;
        if (t instanceof ArrowType.Bool) return ColumnType.BOOL;
        throw new UserError("Column '" + field.getName() + "' of " + file + " has Arrow type " + t
                + ", which lab tables do not use (only utf8, int64, float64, bool and lists of utf8, int64, float64).",
                "Cast the column to one of those types before writing the file.");
    }

    private static void fillBatch(VectorSchemaRoot root, Table table, int from, int to) {
        List<FieldVector> vectors = root.getFieldVectors();
        for (int c = 0; c < vectors.size(); c++) {
            FieldVector vector = vectors.get(c);
            List<Object> values = table.columns().get(c).values();
            vector.allocateNew(); // frees the previous batch's buffers first
            for (int r = from; r < to; r++) {
                int i = r - from;
                Object v = values.get(r);
                if (v == null) {
                    vector.setNull(i);
                } else if (vector instanceof ListVector list) {
                    List<?> items = (List<?>) v;
                    int start = list.startNewValue(i);
                    FieldVector child = (FieldVector) list.getDataVector();
                    for (int k = 0; k < items.size(); k++) setScalar(child, start + k, items.get(k));
                    list.endValue(i, items.size());
                } else {
                    setScalar(vector, i, v);
                }
            }
        }
        root.setRowCount(to - from); // sets every vector's value count (a list's child count from its offsets)
    }

    private static void setScalar(FieldVector vector, int i, Object v) {
        if (vector instanceof VarCharVector s) {
            s.setSafe(i, ((String) v).getBytes(StandardCharsets.UTF_8));
        } else if (vector instanceof BigIntVector l) {
            l.setSafe(i, (Long) v);
        } else if (vector instanceof Float8Vector d) {
            d.setSafe(i, (Double) v);
        } else if (vector instanceof BitVector b) {
            b.setSafe(i, (Boolean) v ? 1 : 0);
        } else {
            throw new IllegalStateException("unexpected vector " + vector.getClass());
        }
    }

    private static void readColumn(FieldVector vector, int rows, List<Object> out) {
        for (int i = 0; i < rows; i++) {
            if (vector.isNull(i)) {
                out.add(null);
            } else if (vector instanceof ListVector list) {
                FieldVector child = (FieldVector) list.getDataVector();
                int end = list.getElementEndIndex(i);
                List<Object> items = new ArrayList<>(end - list.getElementStartIndex(i));
                for (int k = list.getElementStartIndex(i); k < end; k++) items.add(child.isNull(k) ? null : scalar(child, k));
                out.add(items);
            } else {
                out.add(scalar(vector, i));
            }
        }
    }

    private static Object scalar(FieldVector vector, int i) {
        if (vector instanceof VarCharVector s) return new String(s.get(i), StandardCharsets.UTF_8);
        if (vector instanceof BigIntVector l) return l.get(i);
        if (vector instanceof Float8Vector d) return d.get(i);
        if (vector instanceof BitVector b) return b.get(i) != 0;
        throw new IllegalStateException("unexpected vector " + vector.getClass());
    }

    private static Table tableOf(Path file, Map<String, String> schemaMetadata, List<Column> columns,
                                 Map<String, String> descriptions) {
        Map<String, String> meta = new LinkedHashMap<>(schemaMetadata == null ? Map.of() : schemaMetadata);
        String version = meta.remove(META_SCHEMA_VERSION);
        if (version != null && !READABLE_VERSIONS.contains(version)) {
            throw new UserError(file + " has table schema version " + version + "; this build reads versions "
                    + new java.util.TreeSet<>(READABLE_VERSIONS) + ".", "Use the lab version that wrote it, or re-run the stage.");
        }
        String name = meta.remove(META_TABLE);
        if (name == null) name = stem(file); // foreign file: name it after the file, no keys
        String keysJson = meta.remove(META_KEYS);
        String provenance = meta.remove(META_PROVENANCE);
        List<String> keys;
        try {
            keys = keysJson == null ? List.of() : Json.readStringList(keysJson);
        } catch (JsonProcessingException e) {
            throw new UserError(file + " has a malformed " + META_KEYS + " entry: " + keysJson, "Re-run the stage that writes it.", e);
        }
        try {
            return new Table(name, columns, keys, provenance, meta, descriptions);
        } catch (IllegalArgumentException e) {
            throw new UserError(file + " is not a valid lab table: " + e.getMessage(), "Re-run the stage that writes it.", e);
        }
    }

    static String stem(Path file) {
        String f = file.getFileName().toString();
        return f.endsWith(EXTENSION) ? f.substring(0, f.length() - EXTENSION.length()) : f;
    }

    /** True if {@code file} names an existing regular file with the {@value #EXTENSION} extension. */
    static boolean isTableFile(Path file) {
        return Files.isRegularFile(file) && file.getFileName().toString().endsWith(EXTENSION);
    }
}
