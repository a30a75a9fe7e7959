package org.milab.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.milab.catalog.ModelExports;
import org.milab.catalog.ModelLayout;
import org.milab.graph.Head;
import org.milab.lab.LabModel;
import org.milab.planted.PlantedInductionModel;
import org.milab.planted.PlantedSpec;
import org.milab.run.Pipeline;
import org.milab.stage.RunConfig;
import org.milab.run.RunContext;
import org.milab.runtime.Device;
import org.milab.tables.ArrowTables;
import org.milab.tables.Table;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * A real run's report in a real browser: the planted model's whole progression (reduced counts) ends with
 * report.html, which Debian's chromium opens headless from file:// with every network request blocked
 * (tools/report-js/check-report.mjs, playwright-core). No console or page errors, every figure drawn with
 * the marks its data declares, the verdict table holds the run's heads, hovering a cell shows its value.
 * A copy of the run with a hand-made protocol v2 result checks the v2 sections the same way. Screenshots
 * go to harness/target/report-browser/. Skips (saying why) only where chromium is absent outside CI.
 */
class ReportBrowserTest {
    static final Path OUT = Path.of("target", "report-browser").toAbsolutePath();

    @Test
    void aPlantedRunsReportRendersOfflineInChromium(@TempDir Path root) throws Exception {
        Path chromium = Path.of(System.getenv().getOrDefault("MILAB_CHROMIUM", "/usr/bin/chromium"));
        if (!Files.isExecutable(chromium)) {
            String why = "no chromium at " + chromium + " (apt-get install chromium; .ci/run installs it)";
            if (System.getenv("CI") != null) fail("ReportBrowserTest must run in CI but finds " + why);
            System.out.println("ReportBrowserTest skipped: " + why);
            Assumptions.abort(why);
        }
        Path script = VendoredLibrariesTest.repoRoot().resolve("tools/report-js/check-report.mjs");
        if (!Files.isDirectory(script.resolveSibling("node_modules").resolve("playwright-core")))
            fail("tools/report-js/node_modules is missing, so the report cannot be opened in a browser: run `make test`, "
                    + "or `npm ci --prefix tools/report-js` in the repository root.");

        ModelExports.exportPlanted(new ModelLayout(root, PlantedInductionModel.MODEL_ID), PlantedSpec.defaults());
        Path run, withV2 = root.resolve("results/browser-v2");
        try (LabModel m = LabModel.open(root, PlantedInductionModel.MODEL_ID, Device.CPU, 0)) {
            RunConfig cfg = new RunConfig(PlantedInductionModel.MODEL_ID, "browser", List.of(0, 1), 8, List.of(0), 4, 6, 4,
                    List.of(10, 11), 8, 4, 20, null, RunConfig.FRAME_TL, List.of(20, 21), 6, 2);
            RunContext ctx = new RunContext(root, cfg, m);
            Pipeline p = new Pipeline(ctx);
            p.all();
            p.finish("test");
            run = ctx.finalDir();
            assertThat(Files.readString(run.resolve("summary.md"))).startsWith("# Verdict: run browser on `planted-induction`")
                    .contains("Figures: [report.html](report.html)");
            org.milab.testing.TestFiles.copyTree(run, withV2);
            List<ReportFixtures.V2Row> v2 = List.of(
                    new ReportFixtures.V2Row(new Head(0, 1), "previous_token", "confirmed", 0.9, 0.05, "previous_token"),
                    new ReportFixtures.V2Row(new Head(1, 0), "duplicate_token", "rejected", 0.01, 0.02, "duplicate_token_null_ov"),
                    new ReportFixtures.V2Row(new Head(1, 2), "induction", "confirmed", 0.95, 0.03, "induction"),
                    new ReportFixtures.V2Row(new Head(1, 1), "other", "inconclusive", 0.2, 0.3, "frequency"));
            ReportFixtures.writeV2(withV2, v2);
            RunReport.write(root, withV2, m);
        }
        Files.createDirectories(OUT);
        JsonNode seen = new ObjectMapper().readTree(node(script, run.resolve(RunReport.FILE), withV2.resolve(RunReport.FILE)));
        assertThat(seen).hasSize(2);

        Set<String> sweptHeads = new TreeSet<>();
        for (Table.Row r : ArrowTables.read(run.resolve("head_sweep_multiseed/head_specific_multiseed_by_head.arrow")).rows())
            sweptHeads.add(new Head(r.getLong("layer").intValue(), r.getLong("head").intValue()).label());
        Set<List<String>> slices = new TreeSet<>(java.util.Comparator.comparing(Object::toString));
        for (Table.Row r : ArrowTables.read(run.resolve("heldout/seed10/heldout_robustness_by_candidate.arrow")).rows())
            slices.add(List.of(r.getString("intervention"), r.getString("position_label")));

        for (JsonNode page : seen) {
            String which = page.path("report").asText();
            assertThat(page.path("console_errors")).as("console errors in %s", which).isEmpty();
            assertThat(page.path("page_errors")).as("page errors in %s", which).isEmpty();
            assertThat(page.path("blocked_requests")).as("network requests of %s", which).isEmpty();
            assertThat(page.path("state").path("failed")).as("failed figures of %s", which).isEmpty();
            assertThat(page.path("state").path("rendered").asInt()).isEqualTo(page.path("state").path("expected").asInt());
            List<String> ids = new ArrayList<>();
            for (JsonNode f : page.path("figures")) {
                String id = f.path("id").asText();
                ids.add(id);
                assertThat(f.path("rendered").asBoolean()).as("%s rendered", id).isTrue();
                assertThat(f.path("expected").asInt()).as("%s declares marks", id).isPositive();
                assertThat(f.path("drawn").asInt()).as("%s: marks drawn in the SVG", id).isEqualTo(f.path("expected").asInt());
                assertThat(f.path("svg_width").asDouble() * f.path("svg_height").asDouble()).as("%s SVG area", id).isPositive();
            }
            for (List<String> s : slices) assertThat(ids).contains("heldout-heatmap-" + s.get(0) + "-" + s.get(1));
            assertThat(ids).contains("sweep-positives-vs-control", "sweep-heatmap-positive", "heldout-distributions",
                    "attention-L1H2", "attention-L0H1", "logit-lens", "calibration");
            Set<String> reference = new TreeSet<>();
            for (JsonNode r : page.path("verdict_rows")) if (r.path("protocol").asText().equals("reference")) reference.add(r.path("head").asText());
            assertThat(reference).as("reference rows of the verdict table").isEqualTo(sweptHeads);
            assertThat(page.path("tooltip").asText()).as("hover on an attention cell").contains("attention");
            for (String shot : List.of("screenshot", "screenshot_full", "screenshot_figures"))
                assertThat(Files.size(Path.of(page.path(shot).asText()))).as(shot).isGreaterThan(10_000);
        }
        JsonNode v2page = seen.get(1);
        List<String> ids = new ArrayList<>();
        v2page.path("figures").forEach(f -> ids.add(f.path("id").asText()));
        assertThat(ids).contains("v2-circuit", "v2-heatmap-induction_score", "v2-heatmap-raw_delta");
        Set<String> v2rows = new TreeSet<>();
        for (JsonNode r : v2page.path("verdict_rows")) if (r.path("protocol").asText().equals("v2")) v2rows.add(r.path("head").asText());
        assertThat(v2rows).containsExactly("L0H1", "L1H0", "L1H1", "L1H2");
        System.out.println("ReportBrowserTest: " + seen.get(0).path("browser").asText() + ", screenshots in " + OUT);
    }

    private static String node(Path script, Path... reports) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("node", script.toString(), OUT.toString()));
        for (Path r : reports) cmd.add(r.toString());
        Path err = Files.createTempFile("check-report", ".stderr");
        try {
            Process p = new ProcessBuilder(cmd).redirectError(err.toFile()).start();
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(300, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                fail("check-report.mjs did not finish within 300 s");
            }
            if (p.exitValue() != 0) fail("check-report.mjs failed (exit " + p.exitValue() + "): " + Files.readString(err));
            return new String(out, StandardCharsets.UTF_8);
        } finally {
            Files.deleteIfExists(err);
        }
    }
}
