package org.milab.examples;

import org.milab.catalog.ModelExports;
import org.milab.catalog.ModelLayout;
import org.milab.graph.GraphVariant;
import org.milab.graph.HookNames;
import org.milab.lab.LabModel;
import org.milab.planted.PlantedInductionModel;
import org.milab.planted.PlantedSpec;
import org.milab.runtime.Device;
import org.milab.runtime.Feeds;
import org.milab.runtime.TokenBatch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BiConsumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Runs every example against the planted model (exported here as {@code make export MODEL=planted-induction}
 * does) and checks (1) what they print against independent computations, (2) that the outputs docs/api.md and
 * README.md show are exactly what the examples print now.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ExamplesTest {
    private static final Map<String, BiConsumer<PrintStream, String[]>> EXAMPLES = Map.of(
            "CacheExample", CacheExample::run, "PatchHeadExample", PatchHeadExample::run,
            "HeadSweepExample", HeadSweepExample::run, "AttentionExample", AttentionExample::run,
            "AttributionExample", AttributionExample::run, "EdgeAttributionExample", EdgeAttributionExample::run,
            "CircuitExample", CircuitExample::run);
    /** {@code <!-- output of: Example args... -->} then a fenced block: what the example prints. */
    private static final Pattern SHOWN = Pattern.compile("<!-- output of: (\\w+)((?: [\\w-]+)*) -->\\s*```text\\n(.*?)```", Pattern.DOTALL);

    Path root, repo, graphs;

    @BeforeAll
    void export(@TempDir Path dir) {
        root = dir;
        repo = Path.of(System.getProperty("milab.root", "..")).toAbsolutePath().normalize();
        ModelExports.exportPlanted(new ModelLayout(root, PlantedInductionModel.MODEL_ID), PlantedSpec.defaults());
        graphs = root.resolve("graphs").resolve(PlantedInductionModel.MODEL_ID);
    }

    private String run(String example, String... args) {
        String[] a = args.clone();
        if (a.length > 0 && a[0].equals(PlantedInductionModel.MODEL_ID)) a[0] = graphs.toString();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (PrintStream p = new PrintStream(out, true, StandardCharsets.UTF_8)) {
            EXAMPLES.get(example).accept(p, a);
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    private static double number(String text, String regex) {
        Matcher m = Pattern.compile(regex).matcher(text);
        assertThat(m.find()).as("'%s' in %s", regex, text).isTrue();
        return Double.parseDouble(m.group(1));
    }

    @Test
    void cacheExamplePrintsShapesAndTheCaptureGraphsTopToken() throws Exception {
        String out = run("CacheExample", PlantedInductionModel.MODEL_ID);
        try (LabModel lab = LabModel.open(root, PlantedInductionModel.MODEL_ID, Device.CPU, 1)) {
            int heads = lab.config().nHead(), dh = lab.config().dHead();
            assertThat(out).contains("blocks.0.attn.hook_z [pos, head, d_head] [8, " + heads + ", " + dh + "]")
                    .contains("blocks.1.attn.hook_pattern [head, query_pos, key_pos] [" + heads + ", 8, 8]");
            // the top token and its logit, from the capture graph (another graph than the API's)
            float[] logits;
            try (Feeds f = new Feeds(lab.sessions().env()).batch(TokenBatch.of(List.of(lab.promptTokens("A B C D A B C"))))) {
                logits = f.run(lab.sessions().session(GraphVariant.CAPTURE), Set.of(HookNames.LOGITS_FINAL)).get(HookNames.LOGITS_FINAL).data();
            }
            int top = 0;
            for (int v = 1; v < logits.length; v++) if (logits[v] > logits[top]) top = v;
            assertThat(out).contains(String.format(java.util.Locale.ROOT, "top next token: '%s' (logit %.3f)",
                    lab.tokenizer().decode(new int[]{top}), logits[top]));
        }
    }

    @Test
    void theSweepAgreesWithTheSingleHeadPatchOfEveryHead() {
        String sweep = run("HeadSweepExample", PlantedInductionModel.MODEL_ID);
        List<String> rows = sweep.lines().filter(l -> l.startsWith("L")).toList();
        assertThat(rows).isNotEmpty();
        for (int l = 0; l < rows.size(); l++) {
            String[] cells = rows.get(l).substring(rows.get(l).indexOf(':') + 1).trim().split("\\s+");
            for (int h = 0; h < cells.length; h++) {
                String one = run("PatchHeadExample", PlantedInductionModel.MODEL_ID, "L" + l + "H" + h);
                assertThat(number(one, "\\(change (-?[0-9.]+)\\)")).as("L%dH%d", l, h).isCloseTo(Double.parseDouble(cells[h]),
                        org.assertj.core.data.Offset.offset(0.0015)); // both printed to 3 decimals
                assertThat(number(one, "clean (-?[0-9.]+),")).isEqualTo(number(sweep, "clean logit difference (-?[0-9.]+);"));
            }
        }
    }

    @Test
    void attentionRowsSumToOneAndAttributionNamesFiveNodes() {
        String att = run("AttentionExample", PlantedInductionModel.MODEL_ID, "L1H0");
        double sum = att.lines().filter(l -> l.startsWith("  key")).mapToDouble(l -> Double.parseDouble(l.trim().split("\\s+")[3])).sum();
        assertThat(sum).isCloseTo(1.0, org.assertj.core.data.Offset.offset(0.01)); // eight weights rounded to 3 decimals
        String atp = run("AttributionExample", PlantedInductionModel.MODEL_ID);
        assertThat(atp.lines().filter(l -> l.contains("AtP-IG")).count()).isEqualTo(5);
        // the metric of the clean run is the logit difference the patch example prints for the clean run
        assertThat(number(atp, "metric clean (-?[0-9.]+),"))
                .isCloseTo(number(run("PatchHeadExample", PlantedInductionModel.MODEL_ID), "clean (-?[0-9.]+),"),
                        org.assertj.core.data.Offset.offset(0.0015));
    }

    /** The edge example prints five MIB-named edges whose EAP-IG lies inside its own interval, largest |EAP-IG| first. */
    @Test
    void edgeAttributionPrintsFiveRankedEdgesInsideTheirIntervals() {
        String edges = run("EdgeAttributionExample", PlantedInductionModel.MODEL_ID);
        List<String> lines = edges.lines().filter(l -> l.contains("EAP-IG ")).toList();
        assertThat(lines).hasSize(5);
        double previous = Double.POSITIVE_INFINITY;
        for (String l : lines) {
            Matcher m = Pattern.compile("^  (\\S+->\\S+)\\s+EAP\\s+(-?[0-9.]+)\\s+EAP-IG\\s+(-?[0-9.]+) \\[\\s*(-?[0-9.]+),\\s*(-?[0-9.]+)\\]$").matcher(l);
            assertThat(m.find()).as(l).isTrue();
            assertThat(m.group(1)).matches("(input|a\\d+\\.h\\d+|m\\d+)->(a\\d+\\.h\\d+<[qkv]>|m\\d+|logits)");
            double ig = Double.parseDouble(m.group(3));
            assertThat(ig).isBetween(Double.parseDouble(m.group(4)), Double.parseDouble(m.group(5)));
            assertThat(Math.abs(ig)).isLessThanOrEqualTo(previous);
            previous = Math.abs(ig);
        }
    }

    /**
     * The circuit example's curve ends at every edge with faithfulness 1 (all edges in is the clean run), its smallest
     * circuit is the first grid size printed at >= 0.9 or a refined size below it, its pruned circuit measured alone keeps
     * the smallest's faithfulness (pruning changes no patched run), and the circuit it writes reads back as MIB JSON.
     */
    @Test
    void circuitExamplePrintsACurveEndingAtOneAndAFaithfulSmallestCircuit(@org.junit.jupiter.api.io.TempDir Path dir) throws IOException {
        Path file = dir.resolve("circuit.json");
        String out = run("CircuitExample", PlantedInductionModel.MODEL_ID, file.toString());
        System.out.print(out);
        int edges = (int) number(out, "^(\\d+) edges ranked");
        List<double[]> grid = new ArrayList<>();
        Matcher m = Pattern.compile("(?m)^  k=(\\d+)\\s+[0-9.]+%\\s+(-?[0-9.]+) \\[\\s*(-?[0-9.]+),\\s*(-?[0-9.]+)\\]$").matcher(out);
        while (m.find()) grid.add(new double[]{Double.parseDouble(m.group(1)), Double.parseDouble(m.group(2))});
        assertThat(grid.size()).isGreaterThan(5);
        assertThat(grid.get(grid.size() - 1)[0]).isEqualTo(edges);
        assertThat(grid.get(grid.size() - 1)[1]).isCloseTo(1.0, org.assertj.core.data.Offset.offset(0.0015));
        int smallest = (int) number(out, "keeping 0.90: (\\d+) edges");
        double firstAbove = grid.stream().filter(p -> p[1] >= 0.9).findFirst().orElseThrow()[0];
        double below = grid.stream().filter(p -> p[0] < firstAbove).mapToDouble(p -> p[0]).max().orElse(0);
        assertThat((double) smallest).isGreaterThan(below).isLessThanOrEqualTo(firstAbove);
        assertThat(number(out, "keeping 0.90: \\d+ edges \\((-?[0-9.]+)\\)")).isGreaterThanOrEqualTo(0.9);
        assertThat(number(out, "faithfulness (-?[0-9.]+) \\[")).isCloseTo(number(out, "keeping 0.90: \\d+ edges \\((-?[0-9.]+)\\)"),
                org.assertj.core.data.Offset.offset(0.002));
        List<String> listed = out.lines().filter(l -> l.matches("  \\S+->\\S+")).map(String::trim).toList();
        assertThat(listed).hasSize((int) number(out, "pruned: (\\d+) edges")).isNotEmpty();
        for (String e : listed) assertThat(e).matches("(input|a\\d+\\.h\\d+|m\\d+)->(a\\d+\\.h\\d+<[qkv]>|m\\d+|logits)");
        com.fasterxml.jackson.databind.JsonNode json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(file.toFile());
        List<String> inGraph = new ArrayList<>();
        json.get("edges").fields().forEachRemaining(f -> { if (f.getValue().get("in_graph").asBoolean()) inGraph.add(f.getKey()); });
        assertThat(inGraph).containsExactlyInAnyOrderElementsOf(listed);
        assertThat(json.get("edges").size()).isEqualTo(edges);
    }

    /** The JShell session docs/api.md shows, run snippet by snippet in this JVM: every snippet valid, no exception. */
    @Test
    void theJShellSnippetOfTheDocsRuns() throws IOException {
        Matcher m = Pattern.compile("## JShell.*?```java\\n(.*?)```", Pattern.DOTALL).matcher(Files.readString(repo.resolve("docs/api.md")));
        assertThat(m.find()).as("docs/api.md has a JShell section with a java block").isTrue();
        String previousRoot = System.getProperty("milab.root");
        System.setProperty("milab.root", root.toString()); // the snippet opens the model by name, under milab.root
        List<String> values = new ArrayList<>();
        try (jdk.jshell.JShell js = jdk.jshell.JShell.builder().executionEngine("local").build()) {
            for (String cp : System.getProperty("java.class.path").split(java.io.File.pathSeparator)) js.addToClasspath(cp);
            String rest = m.group(1);
            while (!rest.isBlank()) {
                jdk.jshell.SourceCodeAnalysis.CompletionInfo ci = js.sourceCodeAnalysis().analyzeCompletion(rest);
                for (jdk.jshell.SnippetEvent e : js.eval(ci.source())) {
                    assertThat(e.status()).as(ci.source()).isEqualTo(jdk.jshell.Snippet.Status.VALID);
                    assertThat(e.exception()).as(ci.source()).isNull();
                    if (e.value() != null && !e.value().isEmpty()) values.add(e.value());
                }
                rest = ci.remaining();
            }
        } finally {
            if (previousRoot == null) System.clearProperty("milab.root");
            else System.setProperty("milab.root", previousRoot);
        }
        // its last value is the logit difference the patch example prints for L1H2 patched
        double patched = number(run("PatchHeadExample", PlantedInductionModel.MODEL_ID, "L1H2"), "corrupt run (-?[0-9.]+) ");
        assertThat(Double.parseDouble(values.get(values.size() - 1))).isCloseTo(patched, org.assertj.core.data.Offset.offset(0.0015));
    }

    @Test
    void theOutputsTheDocsShowAreWhatTheExamplesPrint() throws IOException {
        List<String> checked = new ArrayList<>();
        org.assertj.core.api.SoftAssertions soft = new org.assertj.core.api.SoftAssertions(); // every stale block at once
        for (String doc : List.of("docs/api.md", "README.md")) {
            Matcher m = SHOWN.matcher(Files.readString(repo.resolve(doc)));
            while (m.find()) {
                String[] args = m.group(2).isBlank() ? new String[0] : m.group(2).trim().split(" ");
                soft.assertThat(run(m.group(1), args)).as("%s: output of %s %s", doc, m.group(1), Arrays.toString(args)).isEqualTo(m.group(3));
                checked.add(doc + ":" + m.group(1));
            }
        }
        soft.assertAll();
        // every example's output is shown in docs/api.md, and README shows one
        for (String example : EXAMPLES.keySet()) assertThat(checked).contains("docs/api.md:" + example);
        assertThat(checked).anyMatch(c -> c.startsWith("README.md:"));
    }
}
