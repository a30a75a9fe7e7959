package org.milab.tables;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * Independent reader check: the apache-arrow JavaScript library (tools/readers/arrow-read.mjs) must see
 * exactly the schema (list types, field descriptions), metadata, batches and values the Java side wrote.
 * Fails (never skips) when the npm dependencies are not installed, because then the file format is not
 * being checked at all.
 */
class ArrowNodeReaderTest {
    static final String INSTALL_HINT = "run `make test`, or `npm ci --prefix tools/readers` in the repository root";

    @TempDir
    Path dir;

    @Test
    void nodeApacheArrowReadsExactlyWhatJavaWrote() throws Exception {
        Path script = tool("arrow-read.mjs", "apache-arrow");
        Table table = TestTables.everyType();
        Path file = dir.resolve("every_type.arrow");
        ArrowTables.write(file, table, 3);

        JsonNode seen = new ObjectMapper().readTree(runNode(script, file.toString()));

        assertThat(seen.get("format").asText()).isEqualTo("file");
        List<Map<String, Object>> expectedFields = new ArrayList<>();
        for (Column c : table.columns()) {
            String d = table.descriptions().get(c.name());
            expectedFields.add(Map.of("name", c.name(), "type", jsTypeName(c.type()), "nullable", true,
                    "metadata", d == null ? Map.of() : Map.of("description", d),
                    "children", c.type().isList() ? List.of(Map.of("name", "item", "type", jsTypeName(c.type().element())))
                            : List.of()));
        }
        assertThat(new ObjectMapper().convertValue(seen.get("fields"), List.class)).isEqualTo(expectedFields);

        Map<String, String> expectedMeta = new LinkedHashMap<>();
        expectedMeta.put("milab.table", "every_type");
        expectedMeta.put("milab.keys", "[\"seed\",\"example_id\"]");
        expectedMeta.put("milab.schema_version", ArrowTables.SCHEMA_VERSION);
        expectedMeta.put("milab.provenance", table.provenanceJson());
        expectedMeta.put("milab.stage", "S12");
        assertThat(new ObjectMapper().convertValue(seen.get("metadata"), Map.class)).isEqualTo(expectedMeta);

        assertThat(seen.get("num_rows").asInt()).isEqualTo(10);
        assertThat(new ObjectMapper().convertValue(seen.get("batch_rows"), List.class)).isEqualTo(List.of(3, 3, 3, 1));
        JsonNode rows = seen.get("rows");
        assertThat(rows.size()).isEqualTo(table.rowCount());
        for (int r = 0; r < table.rowCount(); r++) {
            assertThat(rows.get(r).size()).as("row %d cell count", r).isEqualTo(table.columns().size());
            for (Column c : table.columns()) {
                Object js = decode(rows.get(r).get(c.name()), c.type());
                // Double.equals: NaN equals NaN, -0.0 differs from 0.0; boxed equality otherwise.
                assertThat(js).as("row %d column %s", r, c.name()).isEqualTo(c.get(r));
            }
        }
    }

    /** tools/readers/{@code script}, failing with the install hint when {@code module} is not installed. */
    static Path tool(String script, String module) {
        String root = System.getProperty("milab.root");
        if (root == null) fail("System property milab.root is not set; run the tests through Maven (" + INSTALL_HINT + ").");
        Path tool = Path.of(root, "tools", "readers");
        if (!Files.isDirectory(tool.resolve("node_modules").resolve(module))) {
            fail(tool.resolve("node_modules").resolve(module) + " is missing, so this independent reader cannot run: "
                    + INSTALL_HINT + ".");
        }
        return tool.resolve(script);
    }

    /** Runs {@code node script args...} and returns its stdout; any failure fails the test with node's stderr. */
    static String runNode(Path script, String... args) throws IOException, InterruptedException {
        Path err = Files.createTempFile("milab-reader", ".stderr");
        try {
            List<String> cmd = new ArrayList<>(List.of("node", script.toString()));
            cmd.addAll(List.of(args));
            Process p;
            try {
                p = new ProcessBuilder(cmd).redirectError(err.toFile()).start();
            } catch (IOException e) {
                throw new AssertionError("Cannot start `node` (Node.js 20+ must be on PATH): " + e.getMessage(), e);
            }
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                fail("node " + script.getFileName() + " did not finish within 120 s");
            }
            if (p.exitValue() != 0) {
                fail("node " + script.getFileName() + " failed (exit " + p.exitValue() + "): " + Files.readString(err)
                        + "\nIf a module is missing: " + INSTALL_HINT + ".");
            }
            return new String(out, StandardCharsets.UTF_8);
        } finally {
            Files.deleteIfExists(err);
        }
    }

    private static String jsTypeName(ColumnType type) {
        return switch (type) {
            case STRING -> "Utf8";
            case INT64 -> "Int64";
            case FLOAT64 -> "Float64";
            case BOOL -> "Bool";
            case STRING_LIST, INT64_LIST, FLOAT64_LIST -> "List<" + jsTypeName(type.element()) + ">";
        };
    }

    /** Undoes read.mjs's encoding (int64 as decimal strings; NaN, infinities and -0 as strings). */
    private static Object decode(JsonNode v, ColumnType type) {
        if (v == null) throw new AssertionError("cell missing from node output");
        if (v.isNull()) return null;
        return switch (type) {
            case STRING_LIST, INT64_LIST, FLOAT64_LIST -> {
                assertThat(v.isArray()).as("list cell %s", v).isTrue();
                List<Object> items = new ArrayList<>();
                v.forEach(item -> items.add(decode(item, type.element())));
                yield items;
            }
            case STRING -> {
                assertThat(v.isTextual()).as("string cell %s", v).isTrue();
                yield v.textValue();
            }
            case INT64 -> {
                assertThat(v.isTextual()).as("int64 cell %s is a decimal string", v).isTrue();
                yield Long.parseLong(v.textValue());
            }
            case FLOAT64 -> v.isTextual() ? switch (v.textValue()) {
                case "NaN" -> Double.NaN;
                case "Infinity" -> Double.POSITIVE_INFINITY;
                case "-Infinity" -> Double.NEGATIVE_INFINITY;
                case "-0" -> -0.0;
                default -> throw new AssertionError("unexpected float64 text " + v);
            } : v.doubleValue();
            case BOOL -> {
                assertThat(v.isBoolean()).as("bool cell %s", v).isTrue();
                yield v.booleanValue();
            }
        };
    }
}
