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
 * Real runs' reports in a real browser: Debian's chromium opens report.html headless from file:// with every
 * network request blocked (tools/report-js/check-report.mjs, playwright-core). No console or page errors, every
 * figure drawn with the marks its data declares, the verdict table holds the run's heads, hovering a cell shows
 * its value, whole charts on the first 1366 x 768 screen, the page within its budget. Runs: the planted model's
 * progression at reduced counts (and a copy with a hand-made v2 result), a full {@code make demo}, a run-all on
 * GPT-2 small's head layout (12 x 12, reduced counts), a circuit run; hand-made pages with extreme values and
 * with charts that throw. Screenshots go to harness/target/report-browser/ (paths printed). Skips (saying why)
 * only where chromium is absent outside CI.
 */
class ReportBrowserTest {
    static final Path OUT = Path.of("target", "report-browser").toAbsolutePath();

    /** Declared page heights (px at 1366 wide): a planted run's page (reduced counts); the hand-made 12 x 12-head page. */
    static final int PLANTED_BUDGET_PX = 8_000, EXTREME_VALUES_BUDGET_PX = 9_000;
    /**
     * The budget of a real run's page, any model (what {@code make check-report} declares too, tools/report-js/check-run.mjs):
     * everything but the evidence table within 9000 px, then at most 22 px per line of that one-line-per-head table.
     */
    static final int FIGURES_BUDGET_PX = 9_000, EVIDENCE_ROW_BUDGET_PX = 22;
    /** The laptop screen the first screen is judged at (check-report.mjs's viewport). */
    static final int FOLD_PX = 768, FOLD_WIDTH_PX = 1366;

    /** The check script, or the test is skipped (outside CI only) saying why. */
    static Path script() {
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
        return script;
    }

    /**
     * Everything wrong with a page as the browser saw it: console and page errors, network requests, figures the
     * page itself reports as failed, and any figure whose SVG does not hold the marks its data declares.
     */
    static List<String> problems(JsonNode page) {
        List<String> out = new ArrayList<>();
        page.path("console_errors").forEach(e -> out.add("console error: " + e.asText()));
        page.path("page_errors").forEach(e -> out.add("page error: " + e.asText()));
        page.path("blocked_requests").forEach(e -> out.add("network request: " + e.asText()));
        page.path("state").path("failed").forEach(e -> out.add("failed figure: " + e.asText()));
        if (page.path("state").path("rendered").asInt() != page.path("state").path("expected").asInt())
            out.add("rendered " + page.path("state").path("rendered").asInt() + " of " + page.path("state").path("expected").asInt() + " figures");
        for (JsonNode f : page.path("figures")) {
            String id = f.path("id").asText();
            if (!f.path("rendered").asBoolean()) out.add(id + " not rendered");
            if (f.path("expected").asInt() <= 0) out.add(id + " declares no marks");
            if (f.path("drawn").asInt() != f.path("expected").asInt())
                out.add(id + " drew " + f.path("drawn").asInt() + " of " + f.path("expected").asInt() + " marks");
            if (!(f.path("svg_width").asDouble() * f.path("svg_height").asDouble() > 0)) out.add(id + " has an empty SVG");
        }
        return out;
    }

    /** CPU seconds this JVM has used (every thread, ONNX Runtime's included): what a run costs, whatever the machine's load. */
    static double cpuSeconds() {
        return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime() / 1e9;
    }

    /** {@link #FIGURES_BUDGET_PX} plus {@link #EVIDENCE_ROW_BUDGET_PX} per line of the page's evidence table. */
    static int budget(JsonNode page) {
        return FIGURES_BUDGET_PX + EVIDENCE_ROW_BUDGET_PX * page.path("verdict_rows").size();
    }

    /**
     * The first screen: the figures whose whole chart (its SVG, legend included) is inside the 1366 x 768 viewport at
     * scroll 0. A figure whose caption shows but whose chart starts or ends below the fold is not seen.
     */
    static List<String> aboveTheFold(JsonNode page) {
        List<String> out = new ArrayList<>();
        for (JsonNode f : page.path("figures"))
            if (f.path("svg_top").asDouble() + f.path("svg_height").asDouble() <= FOLD_PX
                    && f.path("svg_left").asDouble() + f.path("svg_width").asDouble() <= FOLD_WIDTH_PX) out.add(f.path("id").asText());
        return out;
    }

    @Test
    void aPlantedRunsReportRendersOfflineInChromium(@TempDir Path root) throws Exception {
        Path script = script();

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
            // inspect --html: the attention of two chosen heads on a prompt of one's own
            AttentionPage.write(root.resolve("results/inspect-html"), m, "A B C D A B C", AttentionPage.heads(m, List.of("L1H2", "L0H1")));
        }
        Files.createDirectories(OUT);
        JsonNode all = new ObjectMapper().readTree(node(script, run.resolve(RunReport.FILE), withV2.resolve(RunReport.FILE),
                root.resolve("results/inspect-html").resolve(AttentionPage.FILE)));
        assertThat(all).hasSize(3);
        JsonNode attentionPage = all.get(2);
        assertThat(problems(attentionPage)).as("inspect --html page").isEmpty();
        List<String> attentionIds = new ArrayList<>();
        attentionPage.path("figures").forEach(f -> attentionIds.add(f.path("id").asText()));
        assertThat(attentionIds).containsExactly("attention-L1H2", "attention-L0H1");
        // 8 tokens (BOS first): a causal 8 x 8 pattern has 36 cells per head
        attentionPage.path("figures").forEach(f -> assertThat(f.path("drawn").asInt()).isEqualTo(36));
        assertThat(attentionPage.path("tooltip").asText()).as("hover on an attention cell").contains("attention");
        List<JsonNode> seen = List.of(all.get(0), all.get(1));

        Set<String> sweptHeads = new TreeSet<>();
        for (Table.Row r : ArrowTables.read(run.resolve("head_sweep_multiseed/head_specific_multiseed_by_head.arrow")).rows())
            sweptHeads.add(new Head(r.getLong("layer").intValue(), r.getLong("head").intValue()).label());
        Set<List<String>> slices = new TreeSet<>(java.util.Comparator.comparing(Object::toString));
        for (Table.Row r : ArrowTables.read(run.resolve("heldout/seed10/heldout_robustness_by_candidate.arrow")).rows())
            slices.add(List.of(r.getString("intervention"), r.getString("position_label")));

        for (JsonNode page : seen) {
            String which = page.path("report").asText();
            assertThat(problems(page)).as("what went wrong in %s", which).isEmpty();
            assertThat(page.path("status_line").asText()).as("status line of %s", which).doesNotContain("FAILED");
            assertThat(page.path("page_height").asInt()).as("page height of %s (budget %d px)", which, PLANTED_BUDGET_PX)
                    .isLessThanOrEqualTo(PLANTED_BUDGET_PX);
            List<String> ids = new ArrayList<>();
            for (JsonNode f : page.path("figures")) ids.add(f.path("id").asText());
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
        // the first screen: the verdict, then the circuit and the attention of the confirmed heads
        assertThat(aboveTheFold(v2page)).as("figures above the fold at 1366x768").contains("v2-circuit", "v2-deciding")
                .hasSizeGreaterThanOrEqualTo(4);
        assertThat(aboveTheFold(seen.get(0))).as("reference-only page: figures above the fold").hasSizeGreaterThanOrEqualTo(2);
        System.out.println("ReportBrowserTest planted page heights: " + seen.get(0).path("page_height") + ", " + v2page.path("page_height")
                + " px; above the fold: " + aboveTheFold(seen.get(0)) + " / " + aboveTheFold(v2page));
        Set<String> v2rows = new TreeSet<>();
        for (JsonNode r : v2page.path("verdict_rows")) if (r.path("protocol").asText().equals("v2")) v2rows.add(r.path("head").asText());
        assertThat(v2rows).containsExactly("L0H1", "L1H0", "L1H1", "L1H2");
        System.out.println("ReportBrowserTest: " + seen.get(0).path("browser").asText() + ", screenshots in " + OUT);
    }

    /**
     * A GPT-2-small-shaped page (12 x 12 heads, every v2 score column, hand-made values): p = 2.3e-322, 1e-300
     * and 0, constant and all-NaN columns all render; no figure for the constant or empty columns; p-values
     * on a -log10 scale; the verdict plus four figures above the fold; the page within its budget.
     */
    @Test
    void aGpt2ShapedV2PageWithExtremeValuesRendersWithinItsBudget(@TempDir Path root) throws Exception {
        Path script = script();
        Path run = ReportFixtures.referenceRun(root);
        ReportFixtures.writeGpt2ShapeV2(run);
        Path report = RunReport.write(root, run, null);
        Files.createDirectories(OUT);
        JsonNode page = new ObjectMapper().readTree(node(script, report)).get(0);
        assertThat(problems(page)).isEmpty();
        List<String> ids = new ArrayList<>();
        page.path("figures").forEach(f -> ids.add(f.path("id").asText()));
        assertThat(ids).contains("v2-circuit", "v2-deciding", "v2-significance", "v2-heatmap-p_composition", "v2-heatmap-induction_excess")
                .doesNotContain("v2-heatmap-gap", "v2-heatmap-copy_chance", "v2-heatmap-denoising_norm", "v2-heatmap-p_adjusted");
        assertThat(aboveTheFold(page)).as("figures above the fold at 1366x768").startsWith("v2-circuit", "v2-deciding", "v2-significance");
        assertThat(page.path("verdict_top").asDouble()).as("the verdict opens the page").isLessThan(200);
        assertThat(page.path("toc")).as("table of contents").isNotEmpty();
        assertThat(page.path("page_height").asInt()).as("page height (budget %d px)", EXTREME_VALUES_BUDGET_PX)
                .isLessThanOrEqualTo(EXTREME_VALUES_BUDGET_PX);
        Set<String> v2rows = new TreeSet<>();
        for (JsonNode r : page.path("verdict_rows")) if (r.path("protocol").asText().equals("v2")) v2rows.add(r.path("head").asText());
        assertThat(v2rows).hasSize(144);
        System.out.println("ReportBrowserTest GPT-2-shape page: " + page.path("page_height") + " px, above the fold " + aboveTheFold(page)
                + ", screenshot " + page.path("screenshot").asText());
    }

    /**
     * A real run on GPT-2 small's head layout ({@link Gpt2ShapeRun}: 12 x 12 heads, random weights, run-all at
     * reduced counts, the report written with the model open): no problem in the browser, every chart drawn, the
     * verdict plus at least four figures above the fold at 1366 x 768, 144 heads per protocol in the evidence
     * table, the page within its declared budget.
     */
    @Test
    void aGpt2ShapedRunsReportRendersWithinItsBudget(@TempDir Path root) throws Exception {
        Path script = script();
        long t0 = System.nanoTime();
        double cpu0 = cpuSeconds();
        Path run = Gpt2ShapeRun.run(root, 3);
        double runSeconds = (System.nanoTime() - t0) / 1e9, runCpu = cpuSeconds() - cpu0;
        Files.createDirectories(OUT);
        JsonNode page = new ObjectMapper().readTree(node(script, run.resolve(RunReport.FILE))).get(0);
        assertThat(problems(page)).isEmpty();
        assertThat(page.path("status_line").asText()).doesNotContain("FAILED");
        assertThat(page.path("verdict_top").asDouble()).as("the verdict opens the page").isLessThan(200);
        assertThat(page.path("toc")).as("table of contents").isNotEmpty();
        List<String> fold = aboveTheFold(page);
        // random weights: nothing is confirmed, so no circuit figure; the evidence that says so is on the first screen
        assertThat(fold).as("whole figures above the fold at 1366x768").contains("v2-deciding", "v2-significance")
                .hasSizeGreaterThanOrEqualTo(4);
        Set<String> v2rows = new TreeSet<>(), refRows = new TreeSet<>();
        for (JsonNode r : page.path("verdict_rows"))
            (r.path("protocol").asText().equals("v2") ? v2rows : refRows).add(r.path("head").asText());
        assertThat(v2rows).hasSize(Gpt2ShapeRun.LAYERS * Gpt2ShapeRun.HEADS);
        assertThat(page.path("page_height").asInt()).as("page height (budget %d px)", budget(page)).isLessThanOrEqualTo(budget(page));
        System.out.println("ReportBrowserTest GPT-2-shape run (" + String.format("%.0f s wall, %.0f s CPU", runSeconds, runCpu) + " to export and run): "
                + page.path("page_height") + " px (budget " + budget(page) + "), " + page.path("state").path("rendered") + " figures, above the fold " + fold
                + ", reference rows " + refRows.size() + ", screenshots " + page.path("screenshot").asText() + ", "
                + page.path("screenshot_full").asText());
    }

    /**
     * The check catches a chart that throws: the same page with two figures added, one whose data transform
     * throws while the view runs (Vega logs it instead of rejecting) and the heatmap the page drew for
     * p = 2.3e-322 before p-values got their own scale (a colour domain of +-2.3e-322).
     */
    @Test
    void aChartThatThrowsFailsTheCheck(@TempDir Path root) throws Exception {
        Path script = script();
        Path run = ReportFixtures.referenceRun(root);
        ReportFixtures.writeV2(run, ReportFixtures.toyV2());
        org.milab.stage.RunFolder folder = new org.milab.stage.RunFolder(run);
        RunVerdict v = RunVerdict.read(root, folder);
        List<Head> grid = EffectFigures.grid(folder, v);
        com.fasterxml.jackson.databind.node.ObjectNode throwing = Vl.obj("$schema", Vl.SCHEMA, "data", Vl.obj("values", Vl.arr(Vl.obj("a", "x"))),
                "transform", Vl.arr(Vl.obj("calculate", "datum.missing.field", "as", "b")), "mark", Vl.obj("type", "point", "name", "pts"),
                "name", "pts", "encoding", Vl.obj("x", Vl.field("b", "quantitative")));
        List<Charts.Cell> tiny = List.of(new Charts.Cell(new Head(0, 0), 2.3e-322, java.util.Map.of()), new Charts.Cell(new Head(1, 1), -2.3e-322, java.util.Map.of()));
        List<Figure> figures = List.of(new Figure("throws", RunReport.ANSWER, "throws", "", throwing, List.of("pts"), 1),
                Charts.headHeatmap("old-p-heatmap", RunReport.ANSWER, "p on an effect scale", "", tiny, grid, "p"),
                Charts.headHeatmap("fine", RunReport.ANSWER, "a fine heatmap", "", List.of(new Charts.Cell(new Head(0, 0), 0.5, java.util.Map.of())), grid, "v"));
        Path bad = root.resolve("bad/report.html");
        Files.createDirectories(bad.getParent());
        Files.writeString(bad, ReportHtml.page(folder, v, figures, java.util.Map.of(), RunReport.SECTIONS));
        JsonNode page = new ObjectMapper().readTree(node(script, bad)).get(0);
        List<String> problems = problems(page);
        System.out.println("ReportBrowserTest injected failures: " + problems);
        assertThat(problems).anyMatch(p -> p.contains("throws"));
        assertThat(problems).noneMatch(p -> p.startsWith("fine"));
        assertThat(page.path("status_line").asText()).contains("FAILED").contains("throws");
    }

    /**
     * A full {@code make demo} run, in CI: {@code make demo} is {@code run-all --resume} at the CLI's defaults on the planted
     * model. The full-count reference progression the end-to-end table tests share (PlantedRuns, made once per test JVM)
     * is copied and resumed through the CLI exactly as {@code make demo} would: its steps verified up to date, then
     * protocol v2 at full counts and the comparison of both protocols. Its report (written with the model open), and
     * the reference-only report of the same run before v2, render with no problem within the full-count budget: the
     * demo page with the verdict and at least four whole figures above the fold (v2's circuit and deciding evidence
     * among them), the reference-only page with the reference's answer figures there.
     */
    @Test
    void aFullMakeDemoRunsReportRendersWithinItsBudget(@TempDir Path root) throws Exception {
        Path script = script();
        Path reference = org.milab.run.PlantedRuns.fullRun(), from = org.milab.run.PlantedRuns.root();
        String runId = reference.getFileName().toString();
        for (String dir : List.of("graphs", "manifests", "results/" + runId))
            org.milab.testing.TestFiles.copyTree(from.resolve(dir), root.resolve(dir));
        long t0 = System.nanoTime();
        double cpu0 = cpuSeconds();
        java.io.StringWriter err = new java.io.StringWriter();
        int code = org.milab.cli.Main.run(new java.io.PrintWriter(err, true), "run-all", "--root", root.toString(), "--model",
                PlantedInductionModel.MODEL_ID, "--run-id", runId, "--resume");
        double v2Seconds = (System.nanoTime() - t0) / 1e9, v2Cpu = cpuSeconds() - cpu0;
        assertThat(code).as(err.toString()).isZero();
        Path demo = root.resolve("results").resolve(runId);
        // the resumed run keeps the reference steps (verified, not recomputed) and adds v2 at make demo's full counts
        com.fasterxml.jackson.databind.JsonNode protocol = new ObjectMapper().readTree(demo.resolve("v2/protocol.json").toFile());
        org.milab.protocol.v2.V2Protocol.Counts full = org.milab.protocol.v2.V2Protocol.Counts.full();
        assertThat(protocol.path("prompts_per_family").asInt()).isEqualTo(full.promptsPerFamily());
        assertThat(protocol.path("seeds").size()).isEqualTo(full.seeds().size());
        assertThat(Files.readString(demo.resolve("summary.md"))).contains("v2 verdicts").contains("protocol comparison");
        Files.createDirectories(OUT);
        JsonNode pages = new ObjectMapper().readTree(node(script, demo.resolve(RunReport.FILE), reference.resolve(RunReport.FILE)));
        JsonNode page = pages.get(0), refPage = pages.get(1);
        for (JsonNode pg : List.of(page, refPage)) {
            assertThat(problems(pg)).as(pg.path("report").asText()).isEmpty();
            assertThat(pg.path("status_line").asText()).doesNotContain("FAILED");
            assertThat(pg.path("verdict_top").asDouble()).as("the verdict opens the page").isLessThan(200);
            assertThat(pg.path("page_height").asInt()).as("page height of %s (budget %d px)", pg.path("report").asText(), budget(pg))
                    .isLessThanOrEqualTo(budget(pg));
        }
        assertThat(aboveTheFold(page)).as("make demo page: whole figures above the fold at 1366x768").contains("v2-circuit", "v2-deciding")
                .hasSizeGreaterThanOrEqualTo(4);
        assertThat(aboveTheFold(refPage)).as("reference-only page: figures above the fold").contains("sweep-positives-vs-control", "sweep-heatmap-positive");
        Set<String> v2rows = new TreeSet<>();
        for (JsonNode r : page.path("verdict_rows")) if (r.path("protocol").asText().equals("v2")) v2rows.add(r.path("head").asText());
        assertThat(v2rows).hasSize(16);
        System.out.println("ReportBrowserTest full make demo (v2 at full counts + comparison resumed onto the full reference run in "
                + String.format("%.0f s wall, %.0f s CPU", v2Seconds, v2Cpu) + "): " + page.path("page_height") + " px (budget " + budget(page) + "), " + page.path("state").path("rendered")
                + " figures, above the fold " + aboveTheFold(page) + ", screenshots " + page.path("screenshot").asText() + ", "
                + page.path("screenshot_full").asText() + "; reference-only page " + refPage.path("page_height") + " px, above the fold "
                + aboveTheFold(refPage));
    }

    /**
     * An edge-level circuit run ({@code make circuit} on the planted model, reduced counts) opens with its verdict
     * line (smallest circuit, CPR, CMD) and, above the fold, the faithfulness curve (every size's point and CI, the
     * threshold line) and the graph of the reported circuit (its edges and nodes, from circuit/edges.arrow); a copy
     * with a protocol v2 result shows the curve beside v2's figures.
     */
    @Test
    void aCircuitRunsReportShowsItsFaithfulnessCurveAndCircuitGraph(@TempDir Path root) throws Exception {
        Path script = script();
        ModelExports.exportPlanted(new ModelLayout(root, PlantedInductionModel.MODEL_ID), PlantedSpec.defaults());
        Path run, withV2 = root.resolve("results/circuit-v2");
        try (LabModel m = LabModel.open(root, PlantedInductionModel.MODEL_ID, Device.CPU, 0)) {
            RunContext ctx = new RunContext(root, RunConfig.reference(PlantedInductionModel.MODEL_ID, "circuit"), m);
            Pipeline p = new Pipeline(ctx);
            p.circuit(org.milab.circuit.BuiltinTasks.get("induction", m, 4, 6, 0), new org.milab.circuit.CircuitConfig(2, 200, 0, 16, 8, 0.9));
            p.finish("test circuit");
            run = ctx.finalDir();
            org.milab.testing.TestFiles.copyTree(run, withV2);
            ReportFixtures.writeV2(withV2, ReportFixtures.toyV2());
            RunReport.write(root, withV2, m);
        }
        String summary = Files.readString(run.resolve("summary.md"));
        assertThat(summary).contains("- **circuit** (task `induction`").contains("CPR").contains("CMD");
        Table faith = ArrowTables.read(run.resolve("circuit/faithfulness.arrow"));
        long inCircuit = ArrowTables.read(run.resolve("circuit/edges.arrow")).bools("in_circuit").stream().filter(b -> b).count();
        Files.createDirectories(OUT);
        JsonNode all = new ObjectMapper().readTree(node(script, run.resolve(RunReport.FILE), withV2.resolve(RunReport.FILE)));
        JsonNode page = all.get(0), v2page = all.get(1);
        for (JsonNode pg : List.of(page, v2page)) assertThat(problems(pg)).as(pg.path("report").asText()).isEmpty();
        assertThat(aboveTheFold(page)).as("circuit page: figures above the fold").startsWith("circuit-faithfulness", "circuit-graph");
        for (JsonNode f : page.path("figures")) {
            // every measured size has its point; the CIs and the threshold line are drawn too
            if (f.path("id").asText().equals("circuit-faithfulness"))
                assertThat(f.path("drawn").asInt()).isGreaterThan(faith.rowCount());
            // every edge of the reported circuit is drawn, with at least its two end nodes
            if (f.path("id").asText().equals("circuit-graph")) assertThat(f.path("drawn").asInt()).isGreaterThanOrEqualTo((int) inCircuit + 2);
        }
        List<String> v2ids = new ArrayList<>();
        v2page.path("figures").forEach(f -> v2ids.add(f.path("id").asText()));
        assertThat(v2ids).contains("v2-circuit", "v2-deciding", "circuit-faithfulness", "circuit-graph");
        assertThat(page.path("page_height").asInt()).isLessThanOrEqualTo(PLANTED_BUDGET_PX);
        System.out.println("ReportBrowserTest circuit page: " + page.path("page_height") + " px, above the fold " + aboveTheFold(page)
                + ", screenshot " + page.path("screenshot").asText() + "; v2 + circuit page above the fold " + aboveTheFold(v2page));
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
