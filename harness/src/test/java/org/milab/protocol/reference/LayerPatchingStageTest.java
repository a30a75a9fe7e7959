package org.milab.protocol.reference;

import org.milab.stage.RunConfig;
import org.milab.run.RunContext;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.milab.lab.LabFixtures;
import org.milab.lab.LabModel;
import org.milab.model.RandomCheckpoints;
import org.milab.model.ReferenceGpt2;
import org.milab.prompts.ControlPrompts;
import org.milab.prompts.ExampleSelection;
import org.milab.prompts.PromptRecord;
import org.milab.tables.Table;
import org.milab.tables.TableBuilder;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** S9: scores against the plain-Java reference on the fixture model; aggregation and the status cascade by hand. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LayerPatchingStageTest {
    static final int SEED = 1;
    LabModel model;
    RunContext ctx;
    ReferenceGpt2 ref;
    List<PromptRecord> records;

    @BeforeAll
    void setUp(@TempDir Path root) {
        model = LabFixtures.randomWordModel(root, "words", 11);
        RunConfig cfg = new RunConfig("words", "s9", List.of(0), 8, List.of(SEED), 3, 2, 8, List.of(10), 24, 12, 20, null,
                RunConfig.FRAME_TL);
        ctx = new RunContext(root, cfg, model);
        ref = new ReferenceGpt2(RandomCheckpoints.generate(model.config(), 11, 0.5f));
        records = ControlPrompts.generate(SEED, 8);
        TableBuilder cands = Table.builder(LayerPatchingStage.CANDIDATES).keys("candidate_id")
                .string("candidate_id", "source").int64("layer", "head").string("component", "position_label");
        cands.addRow("cand_000", "top_raw_positive_attention", 1, 2, "attn_out", "final");
        cands.addRow("cand_001", "random_comparison", 0, 3, "attn_out", "final");
        cands.addRow("cand_002", "random_comparison", 1, 0, "attn_out", "final"); // beyond maxCandidates = 2
        ctx.write(LayerPatchingStage.DIR, SEED, cands);
        new LayerPatchingStage().run(ctx, SEED, records);
    }

    @AfterAll
    void close() {
        model.close();
    }

    @Test
    void scoresMatchTheReferenceForwardPassWithAnAttnOutPatch() {
        Table results = ctx.read(LayerPatchingStage.DIR, SEED, LayerPatchingStage.RESULTS);
        List<PromptRecord> selected = ExampleSelection.select(records, ExampleSelection.CONTROLLED_PATCHING_FAMILIES, 3, SEED);
        assertThat(selected).hasSize(12);
        List<String> expectedIds = new ArrayList<>();
        for (String c : List.of("cand_000", "cand_001")) selected.forEach(r -> expectedIds.add(c + "/" + r.exampleId()));
        List<String> ids = results.rows().stream().map(r -> r.getString("candidate_id") + "/" + r.getString("example_id")).toList();
        assertThat(ids).isEqualTo(expectedIds);

        int zeros = 0;
        for (Table.Row row : results.rows()) {
            int layer = row.getLong("layer").intValue();
            int[] clean = ctx.tokens(row.getString("clean_prompt")).ids(), corrupt = ctx.tokens(row.getString("corrupt_prompt")).ids();
            int t = ctx.singleToken(row.getString("target_token"), "t");
            ReferenceGpt2.Trace cleanTrace = ref.run(clean);
            double[] donor = cleanTrace.attnOut()[layer][clean.length - 1];
            float[] donorF = new float[donor.length];
            for (int i = 0; i < donor.length; i++) donorF[i] = (float) donor[i];
            double patched = ref.run(corrupt, ReferenceGpt2.Patches.ofAttnOut(
                    new ReferenceGpt2.AttnOutPatch(layer, corrupt.length - 1, donorF))).finalLogits()[t];
            String where = row.getString("candidate_id") + " " + row.getString("example_id");
            // centred logits, as TransformerLens reports them
            assertThat(row.getDouble("clean_score")).as(where).isCloseTo(cleanTrace.finalLogits()[t], within(1e-4));
            assertThat(row.getDouble("corrupt_score")).as(where).isCloseTo(ref.run(corrupt).finalLogits()[t], within(1e-4));
            assertThat(row.getDouble("patched_score")).as(where).isCloseTo(patched, within(1e-4));
            assertThat(row.getLong("patch_position")).isEqualTo(corrupt.length - 1);
            assertThat(row.getBool("head_specific_patch")).isFalse();
            assertThat(row.getString("actual_patch_scope")).isEqualTo("full_attn_out_layer");
            assertThat(row.getString("metric")).isEqualTo("target_logit");
            if (Arrays.equals(clean, corrupt)) {
                zeros++;
                assertThat(row.getString("effect_size_status")).as(where).isEqualTo("denominator_zero");
                assertThat(row.getDouble("effect_size")).isNull();
            } else {
                assertThat(row.getString("effect_size_status")).as(where).isEqualTo("ok");
                assertThat(row.getDouble("effect_size")).isCloseTo((row.getDouble("patched_score") - row.getDouble("corrupt_score"))
                        / (row.getDouble("clean_score") - row.getDouble("corrupt_score")), within(1e-12));
            }
        }
        // random_expected_token_control has the positive's prompt: every one of its rows is denominator_zero
        assertThat(results.filter(r -> r.getString("family").equals("random_expected_token_control")).strings("effect_size_status"))
                .hasSize(6).containsOnly("denominator_zero");
        assertThat(zeros).isGreaterThanOrEqualTo(6);
    }

    @Test
    void pairingFollowsTheLayerLevelRule() {
        Table results = ctx.read(LayerPatchingStage.DIR, SEED, LayerPatchingStage.RESULTS);
        for (Table.Row row : results.rows()) {
            PromptRecord r = records.stream().filter(x -> x.exampleId().equals(row.getString("example_id"))).findFirst().orElseThrow();
            PromptRecord pos = records.stream().filter(x -> x.exampleId().equals(r.pairedPositiveExampleId())).findFirst().orElseThrow();
            assertThat(row.getString("clean_prompt")).isEqualTo(pos.prompt());
            assertThat(row.getString("corrupt_prompt")).isEqualTo(r.family().equals("positive_repeat_sequence") ? pos.controlPrompt() : r.prompt());
            assertThat(row.getString("target_token")).isEqualTo(r.expectedNextToken());
            assertThat(row.getString("positive_minus_control_context")).isEqualTo(switch (r.family()) {
                case "positive_repeat_sequence" -> "positive_vs_builtin_control_prompt";
                case "random_expected_token_control" -> "same_prompt_wrong_target_token";
                default -> "positive_vs_" + r.family();
            });
        }
    }

    @Test
    void aggregatesAreConsistentWithTheResultRows() throws Exception {
        Table results = ctx.read(LayerPatchingStage.DIR, SEED, LayerPatchingStage.RESULTS);
        Table byFamily = ctx.read(LayerPatchingStage.DIR, SEED, LayerPatchingStage.BY_FAMILY);
        Table byCandidate = ctx.read(LayerPatchingStage.DIR, SEED, LayerPatchingStage.BY_CANDIDATE);
        assertThat(byFamily.rowCount()).isEqualTo(8);
        assertThat(byFamily.strings("family").subList(0, 4)).containsExactly("distractor_repeat_control", "distractor_repeat_control",
                "positive_repeat_sequence", "positive_repeat_sequence"); // pandas' sorted group order
        for (Table.Row c : byCandidate.rows()) {
            String id = c.getString("candidate_id");
            Table rows = results.filter(r -> r.getString("candidate_id").equals(id));
            double pos = mean(rows.filter(r -> r.getString("family").equals("positive_repeat_sequence")).doubles("effect_size"));
            assertThat(c.getDouble("positive_mean_effect_size")).isCloseTo(pos, within(1e-12));
            int nZero = (int) rows.strings("effect_size_status").stream().filter("denominator_zero"::equals).count();
            assertThat(c.getString("specificity_status")).isEqualTo(LayerPatchingStage.specificityStatus(rows.rowCount(), nZero,
                    c.getDouble("positive_mean_effect_size"), c.getDouble("max_control_mean_effect_size"),
                    c.getDouble("positive_minus_control_effect_gap")));
            assertThat(c.getLong("n_positive_examples")).isEqualTo(3);
            assertThat(c.getLong("n_control_examples")).isEqualTo(9);
        }
        Map<?, ?> summary = RunContext.JSON.readValue(Files.readString(ctx.dir(LayerPatchingStage.DIR, SEED)
                .resolve("controlled_patching_summary.json")), Map.class);
        assertThat(summary.get("n_result_rows")).isEqualTo(24);
        assertThat(summary.get("n_candidates")).isEqualTo(2);
        assertThat(summary.get("head_specific_patch")).isEqualTo(false);
        assertThat(summary.get("actual_patch_scope")).isEqualTo("full_attn_out_layer");
    }

    private static double mean(List<Double> xs) {
        return xs.stream().filter(d -> d != null).mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
    }

    // ------------------------------------------------------------------ hand-made rows

    @Test
    void specificityCascadeEveryBranch() {
        assertThat(LayerPatchingStage.specificityStatus(0, 0, 0.6, 0.3, 0.3)).isEqualTo("insufficient_examples");
        assertThat(LayerPatchingStage.specificityStatus(4, 2, 0.6, 0.3, 0.3)).isEqualTo("denominator_problem");
        assertThat(LayerPatchingStage.specificityStatus(1, 1, 0.6, 0.3, 0.3)).isEqualTo("denominator_problem"); // max(1, 0)
        assertThat(LayerPatchingStage.specificityStatus(3, 1, 0.6, 0.3, 0.3)).isEqualTo("denominator_problem"); // 3 // 2 = 1
        assertThat(LayerPatchingStage.specificityStatus(5, 1, 0.6, 0.3, 0.3)).isEqualTo("positive_specific_candidate");
        assertThat(LayerPatchingStage.specificityStatus(4, 1, null, 0.3, null)).isEqualTo("insufficient_examples");
        assertThat(LayerPatchingStage.specificityStatus(4, 1, 0.6, null, null)).isEqualTo("insufficient_examples");
        assertThat(LayerPatchingStage.specificityStatus(4, 0, 0.0, -0.5, 0.5)).isEqualTo("no_positive_effect");
        assertThat(LayerPatchingStage.specificityStatus(4, 0, -0.2, -0.5, 0.3)).isEqualTo("no_positive_effect");
        assertThat(LayerPatchingStage.specificityStatus(4, 0, 0.6, 0.6, 0.0)).isEqualTo("nonspecific_moves_controls");
        assertThat(LayerPatchingStage.specificityStatus(4, 0, 0.6, 0.7, -0.1)).isEqualTo("nonspecific_moves_controls");
        assertThat(LayerPatchingStage.specificityStatus(4, 0, 0.6, 0.3, 0.3)).isEqualTo("positive_specific_candidate");
        assertThat(LayerPatchingStage.specificityStatus(4, 0, 0.6, 0.3, null)).isEqualTo("insufficient_examples");
    }

    @Test
    void handMadeRowsAggregateLikeTheReference() {
        TableBuilder b = LayerPatchingStage.resultsBuilder();
        // cand_001: the reference test's rows (positive 0.6 x2, distractor 0.3 x2) -> gap 0.3, positive-specific
        row(b, "cand_001", "p0", "positive_repeat_sequence", true, 0.6);
        row(b, "cand_001", "p1", "positive_repeat_sequence", true, 0.6);
        row(b, "cand_001", "c0", "distractor_repeat_control", false, 0.3);
        row(b, "cand_001", "c1", "distractor_repeat_control", false, 0.3);
        // cand_000: two control families tie at 0.5 (the first in family order is the hardest), one all-NaN
        row(b, "cand_000", "p0", "positive_repeat_sequence", true, 0.4);
        row(b, "cand_000", "p0", "positive_repeat_sequence", true, -0.2); // same example twice: counted once
        row(b, "cand_000", "c0", "same_token_frequency_control", false, 0.5);
        row(b, "cand_000", "c1", "distractor_repeat_control", false, 0.5);
        row(b, "cand_000", "c2", "random_expected_token_control", false, null);
        // cand_002: no positive family -> no gap -> sorted last
        row(b, "cand_002", "c0", "distractor_repeat_control", false, 0.1);
        Table results = b.build();
        Table fam = LayerPatchingStage.byFamily(results).build();
        Table.Row p0 = fam.filter(r -> r.getString("candidate_id").equals("cand_001") && r.getBool("should_show_induction_behavior")).row(0);
        assertThat(p0.getDouble("mean_effect_size")).isCloseTo(0.6, within(1e-15));
        assertThat(p0.getDouble("fraction_positive_effect")).isEqualTo(1.0);
        Table.Row p1 = fam.filter(r -> r.getString("candidate_id").equals("cand_000") && r.getBool("should_show_induction_behavior")).row(0);
        assertThat(p1.getLong("n_examples")).isEqualTo(1);
        assertThat(p1.getDouble("fraction_positive_effect")).isEqualTo(0.5);
        Table.Row nan = fam.filter(r -> r.getString("family").equals("random_expected_token_control")).row(0);
        assertThat(nan.getDouble("mean_effect_size")).isNull();
        assertThat(nan.getDouble("fraction_positive_effect")).isEqualTo(0.0);
        assertThat(nan.getLong("n_denominator_zero")).isEqualTo(1);

        List<LayerPatchingStage.Candidate> cands = List.of(new LayerPatchingStage.Candidate("cand_001", "top_raw_positive_attention", 0, 1, "attn_out"),
                new LayerPatchingStage.Candidate("cand_000", "random_comparison", 0, 1, "attn_out"));
        Table cand = LayerPatchingStage.byCandidate(results, fam, cands).build();
        // by gap, descending, the missing gap last
        assertThat(cand.strings("candidate_id")).containsExactly("cand_001", "cand_000", "cand_002");
        Table.Row c0 = cand.row(0);
        assertThat(c0.getDouble("positive_mean_effect_size")).isCloseTo(0.6, within(1e-15));
        assertThat(c0.getDouble("max_control_mean_effect_size")).isCloseTo(0.3, within(1e-15));
        assertThat(c0.getDouble("positive_minus_control_effect_gap")).isCloseTo(0.3, within(1e-15));
        assertThat(c0.getString("specificity_status")).isEqualTo("positive_specific_candidate");
        assertThat(c0.getString("source")).isEqualTo("top_raw_positive_attention");
        Table.Row c1 = cand.row(1);
        assertThat(c1.getString("hardest_control_family")).isEqualTo("distractor_repeat_control");
        assertThat(c1.getDouble("positive_minus_control_effect_gap")).isCloseTo(0.1 - 0.5, within(1e-15));
        assertThat(c1.getString("specificity_status")).isEqualTo("nonspecific_moves_controls");
        Table.Row c2 = cand.row(2);
        assertThat(c2.getDouble("positive_mean_effect_size")).isNull();
        assertThat(c2.getString("source")).isEmpty();
        assertThat(c2.getString("specificity_status")).isEqualTo("insufficient_examples");

        Map<String, Object> s = LayerPatchingStage.summary(results, fam, cand, ExampleSelection.CONTROLLED_PATCHING_FAMILIES);
        assertThat((Double) s.get("max_control_mean_effect_size")).isCloseTo(0.5, within(1e-15));
        assertThat((Double) s.get("best_positive_minus_control_effect_gap")).isCloseTo(0.3, within(1e-15));
        assertThat(s.get("specificity_status_counts")).isEqualTo(Map.of("positive_specific_candidate", 1L,
                "nonspecific_moves_controls", 1L, "insufficient_examples", 1L));
    }

    private static void row(TableBuilder b, String cand, String ex, String family, boolean positive, Double effect) {
        b.row().set("candidate_id", cand).set("example_id", ex).set("family", family)
                .set("should_show_induction_behavior", positive).set("layer", 0).set("head", 1).set("component", "attn_out")
                .set("actual_patch_scope", "full_attn_out_layer").set("effect_size", effect)
                .set("effect_size_status", effect == null ? "denominator_zero" : "ok").add();
    }
}
