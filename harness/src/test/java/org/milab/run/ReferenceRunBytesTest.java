package org.milab.run;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.milab.catalog.ModelExports;
import org.milab.catalog.ModelLayout;
import org.milab.planted.PlantedInductionModel;
import org.milab.planted.PlantedSpec;
import org.milab.runtime.Device;
import org.milab.lab.LabModel;
import org.milab.stage.RunConfig;
import org.milab.tables.ArrowTables;
import org.milab.tables.Column;
import org.milab.tables.Table;
import org.milab.util.Hashing;
import org.milab.util.Json;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The reference replica writes the same files, byte for byte, as it did before its tables were built from
 * records: a small full reference run (S3-S19 with small prompt counts on the planted model) is digested file by file and compared
 * with {@code reference-run-digest.txt}, recorded from the code before the migration. A table's digest is its
 * whole Arrow content except the two entries that name the run rather than its results (the provenance's
 * {@code created_utc}, {@code code_git_commit}, {@code java}, {@code machine} and ONNX Runtime build values): name,
 * keys, metadata, every column's name, type and description in order, every cell (doubles by their exact bits),
 * and the provenance's keys in order. JSON, Markdown and CSV files are digested as bytes.
 *
 * <p>The numbers come from ONNX Runtime on the CPU; the digest records the platform it was made on, and the
 * comparison is skipped (saying why) on another platform, where float kernels may round differently. To record
 * it again after an intended change: {@code MILAB_RECORD_REFERENCE_DIGEST=1 in the environment}.
 */
class ReferenceRunBytesTest {
    private static final String RESOURCE = "reference-run-digest.txt";
    /** Provenance values that name the run, its machine or its build, never its results. */
    private static final List<String> IDENTITY = List.of("created_utc", "code_git_commit", "java", "machine",
            "onnxruntime_version", "onnxruntime_artifact", "run_id");

    /**
     * JSON files whose objects were written from {@code Map.of} before the migration, whose iteration order
     * differs from JVM to JVM: their bytes were never reproducible, so they are compared with sorted keys
     * (content, not order; their order is now their records' and the same in every run).
     */
    private static final List<String> UNORDERED_JSON = List.of("baseline_metrics.json");
    private static final com.fasterxml.jackson.databind.ObjectMapper SORTED = new com.fasterxml.jackson.databind.ObjectMapper()
            .enable(com.fasterxml.jackson.databind.SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS);

    @Test
    void aReferenceRunWritesTheRecordedBytes(@TempDir Path root) throws IOException {
        Path run;
        ModelExports.exportPlanted(new ModelLayout(root, PlantedInductionModel.MODEL_ID), PlantedSpec.defaults());
        try (LabModel model = LabModel.open(root, PlantedInductionModel.MODEL_ID, Device.CPU, 2)) {
            RunConfig config = new RunConfig(PlantedInductionModel.MODEL_ID, "bytes", List.of(0, 1), 8, List.of(0), 2, 12, 4, List.of(10, 11), 12, 6,
                    20, null, RunConfig.FRAME_TL, List.of(20, 21), 12, 6);
            RunContext ctx = new RunContext(root, config, model);
            Pipeline p = new Pipeline(ctx);
            p.all();
            p.finish("test bytes");
            run = ctx.finalDir();
        }
        Map<String, String> digest = digest(run);
        String platform = platform();
        String text = render(platform, digest);
        if ("1".equals(System.getenv("MILAB_RECORD_REFERENCE_DIGEST"))) {
            Path out = Path.of(System.getProperty("milab.root", ".."), "harness/src/test/resources/org/milab/run", RESOURCE);
            Files.writeString(out, text);
            System.err.println("recorded " + out.toAbsolutePath());
        }
        String recorded;
        try (InputStream in = ReferenceRunBytesTest.class.getResourceAsStream(RESOURCE)) {
            assertThat(in).as(RESOURCE + " (record it with MILAB_RECORD_REFERENCE_DIGEST=1 in the environment)").isNotNull();
            recorded = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        String recordedPlatform = recorded.lines().findFirst().orElse("");
        assumeTrue(recordedPlatform.equals(platform), "the digest was recorded on '" + recordedPlatform
                + "', this is '" + platform + "': ONNX Runtime's float kernels may round differently here");
        assertThat(digest.size()).isGreaterThan(40);
        List<String> expected = recorded.lines().skip(1).toList(), actual = text.lines().skip(1).toList();
        List<String> changed = new ArrayList<>();
        for (String line : expected) if (!actual.contains(line)) changed.add("recorded " + line);
        for (String line : actual) if (!expected.contains(line)) changed.add("now      " + line);
        assertThat(changed).as("files whose digest changed").isEmpty();
    }

    private static String platform() {
        return "platform " + System.getProperty("os.arch") + " " + System.getProperty("os.name") + " ort "
                + ai.onnxruntime.OrtEnvironment.getEnvironment().getVersion() + " isa " + vectorIsa();
    }

    /** ORT picks its MatMul kernels by the CPU's vector extensions, and their sums round differently. */
    private static String vectorIsa() {
        try {
            String flags = Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("flags"))
                    .findFirst().orElse("");
            List<String> f = List.of(flags.split("\\s+"));
            return f.contains("avx512f") ? "avx512f" : f.contains("avx2") ? "avx2" : "other";
        } catch (IOException e) {
            return "unknown";
        }
    }

    private static String render(String platform, Map<String, String> digest) {
        StringBuilder sb = new StringBuilder(platform).append('\n');
        digest.forEach((f, d) -> sb.append(d).append("  ").append(f).append('\n'));
        return sb.toString();
    }

    /** Relative path -> sha256 of every result file (run identity, timings and the report left out). */
    static Map<String, String> digest(Path run) throws IOException {
        Map<String, String> out = new TreeMap<>();
        List<Path> files;
        try (Stream<Path> s = Files.walk(run)) {
            files = s.filter(Files::isRegularFile).toList();
        }
        for (Path f : files) {
            String rel = run.relativize(f).toString().replace('\\', '/');
            String name = f.getFileName().toString();
            // identity and timing by design; Parquet copies are DuckDB's rendering of the Arrow files digested here
            if (name.equals("run_manifest.json") || name.equals("summary.md") || name.endsWith(".html")
                    || name.endsWith(".parquet") || rel.startsWith(".")) continue;
            if (name.endsWith(ArrowTables.EXTENSION)) out.put(rel, Hashing.sha256(tableText(ArrowTables.read(f))));
            else if (UNORDERED_JSON.contains(name)) out.put(rel, Hashing.sha256(SORTED.writeValueAsString(
                    SORTED.readValue(f.toFile(), Object.class))));
            else out.put(rel, Hashing.sha256(new String(Files.readAllBytes(f), StandardCharsets.ISO_8859_1)));
        }
        return out;
    }

    private static String tableText(Table t) {
        StringBuilder sb = new StringBuilder(t.name()).append('\n').append(t.keys()).append('\n');
        new TreeMap<>(t.metadata()).forEach((k, v) -> {
            if (!k.equals("milab.provenance")) sb.append(k).append('=').append(v).append('\n');
        });
        List<String> provenance = new ArrayList<>();
        t.provenance().forEach((k, v) -> provenance.add(IDENTITY.contains(k) ? k : k + "=" + Json.compact(v)));
        sb.append(provenance).append('\n');
        for (Column c : t.columns()) sb.append(c.name()).append(':').append(c.type()).append(':').append(t.description(c.name())).append('\n');
        for (Table.Row r : t.rows()) {
            for (String c : t.columnNames()) sb.append(cell(r.get(c))).append('\t');
            sb.append('\n');
        }
        return sb.toString();
    }

    private static String cell(Object v) {
        if (v instanceof Double d) return Long.toHexString(Double.doubleToRawLongBits(d));
        if (v instanceof List<?> l) {
            List<String> parts = new ArrayList<>();
            for (Object o : l) parts.add(cell(o));
            return parts.toString();
        }
        return String.valueOf(v);
    }
}
