package org.milab.tables;

import org.apache.arrow.c.ArrowArrayStream;
import org.apache.arrow.c.Data;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.ipc.ArrowFileReader;
import org.duckdb.DuckDBConnection;
import org.milab.util.AtomicFiles;
import org.milab.util.UserError;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Writes a Parquet copy {@code X.parquet} beside a lab table {@code X.arrow}, for DuckDB (which reads Arrow
 * IPC files only through a community extension downloaded at run time, so not offline) and any other
 * Parquet reader. DuckDB's own engine writes the copy: the Arrow file is handed to it zero-copy through the
 * Arrow C stream interface, then {@code COPY ... TO (FORMAT parquet)}; list columns become Parquet lists.
 * The schema metadata ({@code milab.table}, {@code milab.keys}, {@code milab.provenance}) and the column
 * descriptions (as {@code milab.descriptions}, a JSON object) go into the Parquet file's key-value metadata.
 */
public final class ParquetCopies {
    public static final String EXTENSION = ".parquet";
    static final String META_DESCRIPTIONS = "milab.descriptions";

    private ParquetCopies() {}

    /** Writes a copy beside every table under {@code dir} (recursively); returns the copies, sorted. */
    public static List<Path> writeAll(Path dir) {
        List<Path> tables;
        try (Stream<Path> s = Files.walk(dir)) {
            tables = s.filter(ArrowTables::isTableFile).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot list " + dir + ": " + e.getMessage(), e);
        }
        List<Path> out = new ArrayList<>(tables.size());
        if (tables.isEmpty()) return out;
        try (Connection c = open(); BufferAllocator allocator = new RootAllocator()) {
            for (Path t : tables) out.add(write(c.unwrap(DuckDBConnection.class), allocator, t));
        } catch (SQLException e) {
            throw new IllegalStateException("DuckDB failed while writing Parquet copies under " + dir + ": " + e.getMessage(), e);
        }
        return out;
    }

    /** The Parquet copy's path for a table file. */
    public static Path copyOf(Path arrowFile) {
        return arrowFile.resolveSibling(ArrowTables.stem(arrowFile) + EXTENSION);
    }

    private static Connection open() {
        try {
            return DriverManager.getConnection("jdbc:duckdb:");
        } catch (SQLException | UnsatisfiedLinkError e) {
            throw new UserError("DuckDB (org.duckdb:duckdb_jdbc, used to write the Parquet copies of the tables) cannot "
                    + "start on this machine: " + e.getMessage(),
                    "The .arrow tables are complete without the copies. If your platform is not linux amd64/arm64, "
                            + "macOS or windows amd64, build with -Dduckdb.classifier= (the all-platform jar).", e);
        }
    }

    private static Path write(DuckDBConnection duck, BufferAllocator allocator, Path arrow) throws SQLException {
        Path target = copyOf(arrow);
        Map<String, String> kv = new LinkedHashMap<>();
        try (FileChannel ch = FileChannel.open(arrow, StandardOpenOption.READ);
             ArrowFileReader reader = new ArrowFileReader(ch, allocator);
             ArrowArrayStream stream = ArrowArrayStream.allocateNew(allocator)) {
            var schema = reader.getVectorSchemaRoot().getSchema();
            if (schema.getCustomMetadata() != null) kv.putAll(schema.getCustomMetadata());
            Map<String, String> descriptions = new LinkedHashMap<>();
            schema.getFields().forEach(f -> {
                String d = f.getMetadata() == null ? null : f.getMetadata().get(ArrowTables.FIELD_DESCRIPTION);
                if (d != null) descriptions.put(f.getName(), d);
            });
            kv.put(META_DESCRIPTIONS, Json.write(descriptions));
            Data.exportArrayStream(allocator, reader, stream);
            String view = "milab_table";
            duck.registerArrowStream(view, stream);
            AtomicFiles.writeVia(target, tmp -> {
                try (Statement st = duck.createStatement()) {
                    st.execute("COPY (SELECT * FROM " + view + ") TO " + literal(tmp.toString())
                            // no DuckDB temp file of its own: writeVia is the atomic step and cleans up after a failure
                            + " (FORMAT parquet, COMPRESSION zstd, USE_TMP_FILE false, KV_METADATA " + struct(kv) + ")");
                } catch (SQLException e) {
                    throw new IOException("DuckDB could not write " + target + ": " + e.getMessage(), e);
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot read " + arrow + " for its Parquet copy: " + e.getMessage(), e);
        }
        return target;
    }

    /** A DuckDB struct literal {'k': 'v', ...}. */
    private static String struct(Map<String, String> kv) {
        StringBuilder sb = new StringBuilder("{");
        kv.forEach((k, v) -> sb.append(sb.length() > 1 ? ", " : "").append(literal(k)).append(": ").append(literal(v)));
        return sb.append('}').toString();
    }

    private static String literal(String s) {
        return "'" + s.replace("'", "''") + "'";
    }
}
