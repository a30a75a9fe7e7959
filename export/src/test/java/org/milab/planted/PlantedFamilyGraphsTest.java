package org.milab.planted;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.milab.catalog.ModelExports;
import org.milab.graph.GraphExporter;
import org.milab.graph.GraphVariant;
import org.milab.planted.GroundTruth.Role;
import org.milab.planted.PlantedChecks.Check;
import org.milab.planted.PlantedChecks.Report;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The layout presets other than the default (which {@link PlantedGraphsTest} checks at full counts), and
 * another seed at twice the default noise, exported the way `make export` does and checked on the ONNX
 * graphs at reduced counts (every {@value #STRIDE}-th prompt and pair; ~15 s of CPU per model). The checks
 * find every head through the ground truth read back from the exported ground_truth.json.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PlantedFamilyGraphsTest {
    static final int STRIDE = 8;
    /**
     * At noise 0.02 the frequency decoy's uniform attention is no longer uniform: its zero Q/K weights get
     * noise that the LayerNorm gain (~23) amplifies to attention scores with std ~0.6, so on some seeds
     * (default layout seed 1, deep3 seed 3) one trap prompt in nine gives a single other token more
     * attention mass than the repeated one. That decoy is outside the circuit; its check is reported there,
     * not required. Every other check must pass.
     */
    static final String NOISE_SENSITIVE_AT_002 = "frequency_head_favours_repeated_token";

    Path root;
    private final Map<PlantedSpec, Checked> checked = new HashMap<>();
    private final List<PlantedGraphRunner> open = new ArrayList<>();

    /** One exported layout, its truth as read from the export, a memoising runner on its graphs and its report. */
    record Checked(Planted planted, GraphExporter.Exported exported, MemoRunner runner, Report report) {}

    static Stream<PlantedSpec> specs() {
        return Stream.of(PlantedSpec.preset("backup"), PlantedSpec.preset("deep3"),
                new PlantedSpec(PlantedLayout.preset("deep3"), 1, 0.02), PlantedSpec.preset("negative"),
                PlantedSpec.preset("negative-backup"));
    }

    private Checked check(PlantedSpec spec) {
        return checked.computeIfAbsent(spec, s -> {
            long t0 = System.nanoTime();
            GraphExporter.Exported ex = ModelExports.exportPlanted(root.resolve("seed" + s.seed()), s);
            GroundTruth truth;
            try {
                truth = GroundTruth.fromJson(Files.readString(ex.graphDir().resolve("checkpoint").resolve(PlantedModelFiles.GROUND_TRUTH)));
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
            Planted built = PlantedInductionModel.build(s);
            assertThat(truth).isEqualTo(built.groundTruth());
            Planted planted = new Planted(s, built.checkpoint(), built.vocabulary(), built.tokenizerJson(), truth);
            PlantedGraphRunner graphs = new PlantedGraphRunner(ex.graphDir(), built.checkpoint().config());
            open.add(graphs);
            MemoRunner runner = new MemoRunner(graphs);
            long t1 = System.nanoTime();
            Report report = PlantedChecks.run(planted, runner, STRIDE);
            System.out.printf("%s seed %d noise %s: export %.1f s, checks %.1f s%n%s", s.layout().name(), s.seed(),
                    s.noiseStd(), (t1 - t0) / 1e9, (System.nanoTime() - t1) / 1e9, report.render());
            return new Checked(planted, ex, runner, report);
        });
    }

    @BeforeAll
    void root(@TempDir Path dir) {
        root = dir;
    }

    @AfterAll
    void close() {
        open.forEach(PlantedGraphRunner::close);
    }

    @ParameterizedTest
    @MethodSource("specs")
    void everyCheckPassesOnTheExportedGraphs(PlantedSpec spec) {
        Report r = check(spec).report();
        List<String> failed = failed(r);
        if (spec.noiseStd() > PlantedSpec.DEFAULT_NOISE_STD && failed.equals(List.of(NOISE_SENSITIVE_AT_002))) {
            System.out.println("not required at noise " + spec.noiseStd() + ": " + NOISE_SENSITIVE_AT_002 + " = "
                    + r.check(NOISE_SENSITIVE_AT_002).value() + " (see NOISE_SENSITIVE_AT_002)");
            failed = List.of();
        }
        assertThat(failed).as(r.render()).isEmpty();
        if (spec.layout().backup() != null)
            assertThat(r.checks()).extracting(Check::name).contains("backup_head_min_patch_effect",
                    "backup_minus_induction_head_mean_patch_effect", "induction_heads_joint_min_patch_effect",
                    "joint_ablation_min_excess_drop", "backup_head_mean_attention_to_source");
        if (spec.layout().negative() != null)
            assertThat(r.checks()).extracting(Check::name).contains("negative_head_mean_patch_effect",
                    "negative_head_mean_attention_to_source");
    }

    /** The exported files and every manifest name the layout; graphs/<model>/ is the preset's own folder. */
    @Test
    void exportRecordsTheLayout() throws IOException {
        Checked c = check(PlantedSpec.preset("deep3"));
        assertThat(c.exported().graphDir().getFileName().toString()).isEqualTo("planted-deep3");
        JsonNode m = c.exported().manifests().get(GraphVariant.PATCH_Z);
        assertThat(m.get("planted_spec").get("layout").asText()).isEqualTo(PlantedLayout.PRESETS.get("deep3"));
        assertThat(m.get("planted_spec").get("layout_preset").asText()).isEqualTo("deep3");
        JsonNode gt = m.get("ground_truth");
        assertThat(gt.get("preset").asText()).isEqualTo("deep3");
        assertThat(gt.get("layers").asInt()).isEqualTo(3);
        assertThat(gt.get("answerHead").asText()).isEqualTo("L2H6");
        List<String> roles = new ArrayList<>();
        gt.get("heads").forEach(h -> roles.add(h.get("name").asText() + ":" + h.get("role").asText() + ":"
                + h.get("inCircuit").asBoolean() + ":" + h.get("ovGain").asDouble()));
        assertThat(roles).hasSize(24).contains("L1H5:PREVIOUS_TOKEN:true:1.0", "L2H6:INDUCTION:true:1.0",
                "L2H3:BACKUP_INDUCTION:true:0.5", "L1H2:DUPLICATE_TOKEN_NULL_OV:false:0.0", "L2H0:FREQUENCY:false:0.3",
                "L0H3:ATTENTION_SINK:false:0.0");
        assertThat(Files.readString(c.exported().manifestDir().resolve(PlantedModelFiles.MODEL_CARD)))
                .contains("# planted-deep3", "**L2H6**", "**L2H3**", "k = 2 entering layer 1, k = 3 entering layer 2");
    }

    /** The same weights graded against lies about the backup head: the checks that should notice do. */
    @Test
    void checksCatchLiesAboutTheBackupHead() {
        Checked c = check(PlantedSpec.preset("backup"));
        assertThat(failed(c.report())).isEmpty();
        // main and backup swapped (with their gains): the "main" head now does less than the "backup"
        Report swapped = PlantedChecks.run(Relabel.roles(c.planted(),
                Map.of(Role.INDUCTION, Role.BACKUP_INDUCTION, Role.BACKUP_INDUCTION, Role.INDUCTION)), c.runner(), STRIDE);
        assertThat(failed(swapped)).as(swapped.render()).containsExactlyInAnyOrder("induction_head_min_patch_effect",
                "backup_minus_induction_head_mean_patch_effect");
        // the backup hidden as a noise head: the main head alone no longer carries the whole answer, and a
        // "noise" head moves the metric
        Report hidden = PlantedChecks.run(Relabel.roles(c.planted(), Map.of(Role.BACKUP_INDUCTION, Role.NOISE)),
                c.runner(), STRIDE);
        assertThat(failed(hidden)).as(hidden.render()).containsExactlyInAnyOrder("induction_head_min_patch_effect",
                "null_heads_max_abs_patch_effect");
    }

    private static List<String> failed(Report r) {
        return r.checks().stream().filter(c -> !c.passed()).map(Check::name).toList();
    }
}
