package org.milab.tables;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Array;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The Parquet copy holds the same rows, types and metadata as the Arrow table. Read back here through
 * DuckDB's JDBC driver with plain SQL (the independent Node readers, Polars and DuckDB, read a real run's
 * copies in RunTablesReadersTest).
 */
class ParquetCopiesTest {
    @TempDir
    Path dir;

    @Test
    void copyHasEveryRowTypedListsAndTheMetadata() throws Exception {
        Table t = TestTables.everyType();
        Path arrow = ArrowTables.writeInto(dir.resolve("s03"), t);
        ArrowTables.writeInto(dir, Table.builder("empty").keys("id").string("id").stringList("l").build());

        List<Path> copies = ParquetCopies.writeAll(dir);

        assertThat(copies).containsExactly(dir.resolve("empty.parquet"), dir.resolve("s03/every_type.parquet"));
        try (Stream files = new Stream(dir)) {
            assertThat(files.tmp()).as("no temp files left").isEmpty();
        }
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement st = c.createStatement()) {
            String file = "'" + ParquetCopies.copyOf(arrow) + "'";
            Map<String, String> types = new LinkedHashMap<>();
            try (ResultSet rs = st.executeQuery("DESCRIBE SELECT * FROM read_parquet(" + file + ")")) {
                while (rs.next()) types.put(rs.getString("column_name"), rs.getString("column_type"));
            }
            assertThat(types.keySet()).containsExactlyElementsOf(t.columnNames());
            assertThat(types).containsEntry("tokens", "VARCHAR[]").containsEntry("seeds", "BIGINT[]")
                    .containsEntry("effects", "DOUBLE[]").containsEntry("rank", "BIGINT").containsEntry("ok", "BOOLEAN")
                    .containsEntry("head_id", "VARCHAR");
            // list columns are queried as lists: lengths and elements, no string parsing
            try (ResultSet rs = st.executeQuery("SELECT example_id, len(tokens) AS n, tokens, seeds, effects, head_id, effect_size "
                    + "FROM read_parquet(" + file + ") ORDER BY seed, example_id")) {
                int row = 0;
                while (rs.next()) {
                    Table.Row expected = t.row(row++);
                    assertThat(rs.getString("example_id")).isEqualTo(expected.getString("example_id"));
                    assertThat(list(rs.getArray("tokens"))).isEqualTo(expected.getStrings("tokens"));
                    assertThat(list(rs.getArray("seeds"))).isEqualTo(expected.getLongs("seeds"));
                    assertThat(list(rs.getArray("effects"))).isEqualTo(expected.getDoubles("effects"));
                    assertThat(rs.getString("head_id")).isEqualTo(expected.getString("head_id"));
                    Double effect = expected.getDouble("effect_size");
                    double got = rs.getDouble("effect_size");
                    assertThat(rs.wasNull() ? null : got).isEqualTo(effect);
                }
                assertThat(row).isEqualTo(t.rowCount());
            }
            Map<String, String> kv = new LinkedHashMap<>();
            try (ResultSet rs = st.executeQuery("SELECT decode(key) AS k, decode(value) AS v FROM parquet_kv_metadata(" + file + ")")) {
                while (rs.next()) kv.put(rs.getString("k"), rs.getString("v"));
            }
            assertThat(kv).containsEntry("milab.table", "every_type").containsEntry("milab.keys", "[\"seed\",\"example_id\"]")
                    .containsEntry("milab.provenance", t.provenanceJson()).containsEntry("milab.stage", "S12");
            assertThat(Json.readObject(kv.get("milab.descriptions"))).containsEntry("effect_size",
                    "Normalized effect of the patch (test description).").containsKey("head_id");
            try (ResultSet rs = st.executeQuery("SELECT count(*) FROM read_parquet('" + dir.resolve("empty.parquet") + "')")) {
                assertThat(rs.next()).isTrue();
                assertThat(rs.getLong(1)).isZero();
            }
        }
    }

    private static List<Object> list(Array a) throws Exception {
        if (a == null) return null;
        return new ArrayList<>(Arrays.asList((Object[]) a.getArray()));
    }

    /** Temp files left in a folder tree. */
    private record Stream(Path root) implements AutoCloseable {
        List<Path> tmp() throws java.io.IOException {
            try (var s = Files.walk(root)) {
                return s.filter(p -> p.getFileName().toString().endsWith(".tmp")).toList();
            }
        }

        @Override
        public void close() {}
    }
}
