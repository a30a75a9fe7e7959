package org.milab.tables;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.milab.run.PlantedRuns;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A real run's tables (the full progression on the planted model) as a newcomer opens them: every column
 * described, head_id in every per-head table, and three independent readers - apache-arrow and Polars on the
 * Arrow files, Polars and DuckDB on the Parquet copies - see the same tables as the Java side, query the list
 * columns with their own list functions (lengths, explode/unnest; no string parsing) and find head_id
 * wherever there are layer and head columns. The readers are Node packages pinned in tools/readers; a
 * missing install fails the test with the command that installs them.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RunTablesReadersTest {
    Path run;
    /** Relative path without extension to the table as Java reads it. */
    final Map<String, Table> tables = new LinkedHashMap<>();

    @BeforeAll
    void readRun() throws IOException {
        run = PlantedRuns.fullRun();
        try (Stream<Path> files = Files.walk(run)) {
            for (Path f : files.filter(ArrowTables::isTableFile).sorted().toList()) {
                String rel = run.relativize(f).toString().replace(f.getFileSystem().getSeparator(), "/");
                tables.put(rel.substring(0, rel.length() - ArrowTables.EXTENSION.length()), ArrowTables.read(f));
            }
        }
        assertThat(tables).hasSizeGreaterThan(100);
    }

    @Test
    void everyColumnIsDescribedAndEveryPerHeadTableHasHeadId() {
        List<String> undescribed = new ArrayList<>();
        int perHead = 0;
        for (Map.Entry<String, Table> e : tables.entrySet()) {
            Table t = e.getValue();
            for (String c : t.columnNames()) if (t.description(c) == null) undescribed.add(e.getKey() + "." + c);
            if (t.hasColumn("layer") && t.hasColumn("head")) {
                perHead++;
                assertThat(t.columnNames()).as("%s: head_id right after head", e.getKey())
                        .containsSubsequence("head", "head_id");
                for (Table.Row r : t.rows())
                    assertThat(r.getString("head_id")).isEqualTo("L" + r.getLong("layer") + "H" + r.getLong("head"));
            }
        }
        assertThat(undescribed).as("columns without a description in columns.txt").isEmpty();
        assertThat(RunColumns.notInGlossary(run)).as("columns COLUMNS.md does not list as the table describes them").isEmpty();
        assertThat(perHead).isGreaterThan(60);
        // the failure taxonomy names heads by the reference's head_label; head_id carries the same value
        Table byHead = tables.get("failure_taxonomy/failure_taxonomy_by_head");
        assertThat(byHead.strings("head_id")).isEqualTo(byHead.strings("head_label"));
        // list columns are lists, not comma-joined or JSON text
        Table prompts = tables.get("controls/seed0/prompts");
        assertThat(prompts.type("prompt_tokens_text")).isEqualTo(ColumnType.STRING_LIST);
        assertThat(prompts.row(0).getStrings("prompt_tokens_text")).containsExactly(prompts.row(0).getString("prompt").split(" "));
        Table multi = tables.get("heldout_multiseed/heldout_multiseed_by_candidate");
        for (Table.Row r : multi.rows()) assertThat((long) r.getLongs("seeds_present").size()).isEqualTo(r.getLong("n_seeds"));
    }

    @Test
    void theSummaryReadsAsTextForPeople() throws IOException {
        assertThat(org.milab.testing.HumanText.problems(Files.readString(run.resolve("summary.md")))).isEmpty();
    }

    @Test
    void everyTableHasItsParquetCopy() {
        for (String label : tables.keySet())
            assertThat(run.resolve(label + ParquetCopies.EXTENSION)).as("Parquet copy of %s", label).isRegularFile();
    }

    @Test
    void apacheArrowReadsTheArrowFiles() throws Exception {
        compare(read("arrow-read.mjs", "apache-arrow", run.toString()), "apache-arrow");
    }

    @Test
    void polarsReadsTheArrowFilesAndTheParquetCopies() throws Exception {
        compare(read("polars-read.mjs", "nodejs-polars", run.toString(), "arrow"), "polars");
        compare(read("polars-read.mjs", "nodejs-polars", run.toString(), "parquet"), "polars");
    }

    @Test
    void duckdbReadsTheParquetCopies() throws Exception {
        JsonNode seen = read("duckdb-read.mjs", "@duckdb/node-api", run.toString());
        compare(seen, "duckdb");
        for (Map.Entry<String, Table> e : tables.entrySet()) {
            JsonNode meta = seen.get("tables").get(e.getKey()).get("metadata");
            assertThat(meta.get("milab.table").asText()).isEqualTo(e.getValue().name());
            assertThat(Json.readObject(meta.get("milab.provenance").asText())).isEqualTo(e.getValue().provenance());
            assertThat(Json.readObject(meta.get("milab.descriptions").asText())).isEqualTo(new LinkedHashMap<>(e.getValue().descriptions()));
        }
    }

    private static JsonNode read(String script, String module, String... args) throws Exception {
        return new ObjectMapper().readTree(ArrowNodeReaderTest.runNode(ArrowNodeReaderTest.tool(script, module), args));
    }

    /** What a reader saw equals the Java side: tables, rows, columns and types, list cells, head ids. */
    private void compare(JsonNode seen, String reader) {
        JsonNode byLabel = seen.get("tables");
        List<String> labels = new ArrayList<>();
        byLabel.fieldNames().forEachRemaining(labels::add);
        assertThat(labels).as("%s (%s) tables", reader, seen.get("format").asText()).containsExactlyElementsOf(tables.keySet());
        for (Map.Entry<String, Table> e : tables.entrySet()) {
            Table t = e.getValue();
            JsonNode s = byLabel.get(e.getKey());
            String where = reader + " " + seen.get("format").asText() + " " + e.getKey();
            assertThat(s.get("rows").asInt()).as("%s rows", where).isEqualTo(t.rowCount());
            List<List<String>> columns = new ArrayList<>();
            for (JsonNode c : s.get("columns")) columns.add(List.of(c.get(0).asText(), c.get(1).asText()));
            List<List<String>> expected = new ArrayList<>();
            for (Column c : t.columns()) expected.add(List.of(c.name(), typeName(reader, c.type())));
            assertThat(columns).as("%s columns", where).isEqualTo(expected);
            for (Column c : t.columns()) {
                if (!c.type().isList()) continue;
                List<Object> lengths = new ArrayList<>(), cells = new ArrayList<>();
                long total = 0;
                for (Object v : c.values()) {
                    List<?> l = (List<?>) v;
                    lengths.add(l == null ? null : (long) l.size());
                    cells.add(l == null ? null : l.stream().map(x -> x instanceof String ? x : x.toString()).toList());
                    total += l == null ? 0 : l.size();
                }
                assertThat(longs(s.get("list_lengths").get(c.name()))).as("%s %s lengths", where, c.name()).isEqualTo(lengths);
                assertThat(texts(s.get("lists").get(c.name()))).as("%s %s cells", where, c.name()).isEqualTo(cells);
                assertThat(s.get("exploded_count").get(c.name()).asLong()).as("%s %s exploded", where, c.name()).isEqualTo(total);
            }
            if (t.hasColumn("layer") && t.hasColumn("head")) {
                assertThat(s.get("head_id").isNull()).as("%s has head_id", where).isFalse();
                List<Object> ids = texts(s.get("head_id")), computed = texts(s.get("head_id_computed"));
                assertThat(ids).as("%s head_id", where).isEqualTo(new ArrayList<Object>(t.strings("head_id")));
                assertThat(computed).as("%s L{layer}H{head} computed by the reader", where).isEqualTo(ids);
            }
        }
    }

    /** The reader's name for a column type. */
    static String typeName(String reader, ColumnType type) {
        return switch (reader) {
            case "apache-arrow" -> switch (type) {
                case STRING -> "Utf8";
                case INT64 -> "Int64";
                case FLOAT64 -> "Float64";
                case BOOL -> "Bool";
                default -> "List<" + typeName(reader, type.element()) + ">";
            };
            case "polars" -> switch (type) {
                case STRING -> "String";
                case INT64 -> "Int64";
                case FLOAT64 -> "Float64";
                case BOOL -> "Bool";
                default -> "List(" + typeName(reader, type.element()) + ")";
            };
            case "duckdb" -> switch (type) {
                case STRING -> "VARCHAR";
                case INT64 -> "BIGINT";
                case FLOAT64 -> "DOUBLE";
                case BOOL -> "BOOLEAN";
                default -> typeName(reader, type.element()) + "[]";
            };
            default -> throw new IllegalArgumentException(reader);
        };
    }

    private static List<Object> longs(JsonNode array) {
        List<Object> out = new ArrayList<>();
        for (JsonNode n : array) out.add(n.isNull() ? null : Long.parseLong(n.asText()));
        return out;
    }

    /** Cells as text (int64 arrive as decimal strings), lists as lists of text. */
    private static List<Object> texts(JsonNode array) {
        List<Object> out = new ArrayList<>();
        for (JsonNode n : array) {
            if (n.isNull()) out.add(null);
            else if (n.isArray()) {
                List<Object> l = new ArrayList<>();
                for (Iterator<JsonNode> it = n.elements(); it.hasNext(); ) l.add(it.next().asText());
                out.add(l);
            } else out.add(n.asText());
        }
        return out;
    }
}
