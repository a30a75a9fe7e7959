package org.milab.protocol.reference;

import org.milab.engine.TokenIds;
import org.milab.stage.RunConfig;
import org.milab.run.RunContext;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.milab.graph.HookNames;
import org.milab.lab.LabFixtures;
import org.milab.lab.LabModel;
import org.milab.model.ModelConfig;
import org.milab.model.RandomCheckpoints;
import org.milab.model.ReferenceGpt2;
import org.milab.prompts.ControlPrompts;
import org.milab.prompts.PromptRecord;
import org.milab.tables.Table;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * S5, S6, S8 and S10 on the random word-vocabulary model, checked against the plain-Java reference forward
 * pass built independently from the same weights.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DescriptiveStagesTest {
    static final int PER_FAMILY = 3;
    LabModel model;
    RunContext ctx;
    ReferenceGpt2 ref;
    PromptSet set;
    Map<String, PromptRecord> byId = new HashMap<>();

    @BeforeAll
    void setUp(@TempDir Path root) {
        model = LabFixtures.randomWordModel(root, "words", 11);
        ctx = new RunContext(root, RunConfig.reference("words", "t"), model);
        ModelConfig cfg = model.config();
        ref = new ReferenceGpt2(RandomCheckpoints.generate(cfg, 11, 0.5f));
        List<PromptRecord> records = ControlPrompts.generate(0, PER_FAMILY);
        records.forEach(r -> byId.put(r.exampleId(), r));
        Set<String> hooks = new LinkedHashSet<>(LogitLensStage.hooksNeeded(cfg));
        hooks.addAll(AttentionStage.hooksNeeded(cfg));
        List<TokenIds> prompts = records.stream().map(r -> ctx.tokens(r.prompt())).toList();
        set = new PromptSet("controls", 0, ControlPrompts.TASK, records, model.engine().capture(prompts, hooks, "test"));
        new LogitLensStage().run(ctx, set);
        new AttentionStage().run(ctx, set);
    }

    @AfterAll
    void close() {
        model.close();
    }

    @Test
    void hooksNeededAreTheAutoEven6LayersHooks() {
        ModelConfig gpt2 = new ModelConfig(12, 12, 768, 50257, 1024, 1e-5, ModelConfig.GELU_TANH, true);
        assertThat(LogitLensStage.hooksNeeded(gpt2)).containsExactly("blocks.0.hook_resid_post", "blocks.2.hook_resid_post",
                "blocks.4.hook_resid_post", "blocks.7.hook_resid_post", "blocks.9.hook_resid_post", "blocks.11.hook_resid_post");
        assertThat(AttentionStage.hooksNeeded(gpt2)).hasSize(6).first().isEqualTo("blocks.0.attn.hook_pattern");
        assertThat(AttentionStage.hooksNeeded(model.config()))
                .containsExactly("blocks.0.attn.hook_pattern", "blocks.1.attn.hook_pattern");
    }

    @Test
    void unembedGraphIsLnFinalThenCentredUnembeddingOfAnyVector() {
        Random rnd = new Random(5);
        List<float[]> rows = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            float[] v = new float[model.config().dModel()];
            for (int j = 0; j < v.length; j++) v[j] = (float) (rnd.nextGaussian() * 3 + 0.5);
            rows.add(v);
        }
        float[][] logits = LogitLensStage.unembed(model.sessions(), rows);
        for (int i = 0; i < rows.size(); i++) {
            double[] expected = ref.unembed(toDouble(rows.get(i)));
            assertThat(logits[i]).hasSize(model.config().vocabSize());
            for (int v = 0; v < expected.length; v++) assertThat((double) logits[i][v]).isCloseTo(expected[v], within(1e-4));
        }
    }

    @Test
    void logitLensRowsMatchTheReferenceUnembeddingOfResidPost() {
        Table t = ctx.read("controls", 0, LogitLensStage.BY_LAYER);
        assertThat(t.columnNames()).containsExactly("example_id", "family", "control_family",
                "should_show_induction_behavior", "layer", "expected_token", "expected_token_id", "expected_logit",
                "expected_probability", "expected_rank", "top_token", "top_token_id");
        assertThat(t.rowCount()).isEqualTo(set.records().size() * 2);
        for (Table.Row row : t.rows()) {
            PromptRecord r = byId.get(row.getString("example_id"));
            int[] ids = ctx.tokens(r.prompt()).ids();
            int layer = row.getLong("layer").intValue();
            double[] lens = ref.unembed(ref.run(ids).residPost()[layer][ids.length - 1]);
            int target = model.tokenizer().singleTokenId(r.expectedNextToken());
            assertThat(row.getLong("expected_token_id")).isEqualTo(target);
            assertThat(row.getDouble("expected_logit")).isCloseTo(lens[target], within(1e-4));
            assertThat(row.getDouble("expected_probability")).isCloseTo(softmax(lens, target), within(1e-5));
            long above = 0, aboveOrNear = 0;
            for (double l : lens) {
                if (l > lens[target] + 1e-4) above++;
                if (l > lens[target] - 1e-4) aboveOrNear++;
            }
            assertThat(row.getLong("expected_rank")).isBetween(1 + above, aboveOrNear); // near ties may go either way
            double max = java.util.Arrays.stream(lens).max().orElseThrow();
            int top = row.getLong("top_token_id").intValue();
            assertThat(lens[top]).isGreaterThan(max - 1e-4);
            assertThat(row.getString("top_token")).isEqualTo(model.tokenizer().tokenText(top));
        }
    }

    @Test
    void logitLensFamilyTableAndSummaryAgreeWithTheRows() throws Exception {
        Table rows = ctx.read("controls", 0, LogitLensStage.BY_LAYER);
        Table fam = ctx.read("controls", 0, LogitLensStage.BY_FAMILY);
        assertThat(fam.rowCount()).isEqualTo(6 * 2);
        assertThat(fam.strings("family")).isSorted();
        for (Table.Row f : fam.rows()) {
            Table g = rows.filter(r -> r.getString("family").equals(f.getString("family"))
                    && r.getLong("layer").equals(f.getLong("layer")));
            assertThat(f.getLong("n_examples")).isEqualTo(PER_FAMILY);
            assertThat(f.getDouble("mean_expected_probability"))
                    .isCloseTo(g.doubles("expected_probability").stream().mapToDouble(d -> d).average().orElseThrow(), within(1e-15));
        }
        JsonNode s = RunContext.JSON.readTree(ctx.dir("controls", 0).resolve(LogitLensStage.SUMMARY).toFile());
        assertThat(s.path("layers").toString()).isEqualTo("[0,1]");
        assertThat(s.path("n_examples").asInt()).isEqualTo(set.records().size());
        double p0 = rows.filter(r -> r.getLong("layer") == 0).doubles("expected_probability").stream().mapToDouble(d -> d).average().orElseThrow();
        double p1 = rows.filter(r -> r.getLong("layer") == 1).doubles("expected_probability").stream().mapToDouble(d -> d).average().orElseThrow();
        assertThat(s.path("best_layer_by_mean_probability").asInt()).isEqualTo(p1 > p0 ? 1 : 0);
        assertThat(s.path("best_positive_layer").path("family").asText()).isEqualTo("positive_repeat_sequence");
        assertThat(s.path("positive_separates_from_controls_descriptively").isBoolean()).isTrue();
        assertThat(s.path("by_family")).hasSize(12);
    }

    @Test
    void attentionRowsMatchTheReferencePatterns() {
        Table t = ctx.read("controls", 0, AttentionStage.BY_HEAD);
        assertThat(t.rowCount()).isEqualTo(set.records().size() * 2 * 4);
        Map<String, ReferenceGpt2.Trace> traces = new HashMap<>();
        for (Table.Row row : t.rows()) {
            PromptRecord r = byId.get(row.getString("example_id"));
            int[] ids = ctx.tokens(r.prompt()).ids();
            double[][][][] pattern = traces.computeIfAbsent(r.exampleId(), k -> ref.run(ids)).pattern();
            int layer = row.getLong("layer").intValue(), head = row.getLong("head").intValue(), target = ids.length - 1;
            double[] p = pattern[layer][head][target];
            assertThat(row.getLong("seq_len")).isEqualTo(ids.length);
            assertThat(row.getLong("target_position")).isEqualTo(target);
            assertThat(row.getString("target_token")).isEqualTo(r.promptTokensText().get(r.promptTokensText().size() - 1));
            assertThat(row.getDouble("attention_to_bos")).isCloseTo(p[0], within(1e-5));
            double h = 0;
            for (double x : p) if (x > 0) h -= x * Math.log(x);
            assertThat(row.getDouble("attention_entropy")).isCloseTo(h, within(1e-4));
            int attended = row.getLong("attended_source_position").intValue();
            assertThat(p[attended]).isGreaterThan(java.util.Arrays.stream(p).max().orElseThrow() - 1e-5);
            Integer hint = r.expectedSourcePositionHint();
            if (hint == null) {
                assertThat(row.getLong("previous_occurrence_position")).isNull();
                assertThat(row.getDouble(AttentionStage.SCORE)).isNull();
                assertThat(row.getString("previous_occurrence_token")).isEmpty();
            } else { // one token per word, BOS first: word i is token i + 1
                assertThat(row.getLong("previous_occurrence_position")).isEqualTo(hint + 1);
                assertThat(row.getString("previous_occurrence_token")).isEqualTo(r.promptTokensText().get(hint));
                assertThat(row.getDouble(AttentionStage.SCORE)).isCloseTo(p[hint + 1], within(1e-5));
            }
        }
    }

    @Test
    void randomExpectedControlRepeatsThePositiveAttentionSoNoGapIsPositive() throws Exception {
        Table t = ctx.read("controls", 0, AttentionStage.BY_HEAD);
        Map<String, Double> positive = new HashMap<>();
        for (Table.Row r : t.filter(r -> r.getString("family").equals("positive_repeat_sequence")).rows())
            positive.put(r.getString("example_id").substring("positive_repeat_sequence".length()) + r.getLong("layer")
                    + "/" + r.getLong("head"), r.getDouble(AttentionStage.SCORE));
        Table rand = t.filter(r -> r.getString("family").equals("random_expected_token_control"));
        assertThat(rand.rowCount()).isEqualTo(PER_FAMILY * 8);
        for (Table.Row r : rand.rows())
            assertThat(r.getDouble(AttentionStage.SCORE)).isEqualTo(positive.get(r.getString("example_id")
                    .substring("random_expected_token_control".length()) + r.getLong("layer") + "/" + r.getLong("head")));
        JsonNode s = RunContext.JSON.readTree(ctx.dir("controls", 0).resolve(AttentionStage.SUMMARY).toFile());
        assertThat(s.path("top_heads_by_positive_minus_control_gap")).hasSize(8);
        for (JsonNode g : s.path("top_heads_by_positive_minus_control_gap"))
            assertThat(g.path("positive_minus_control_attention_gap").asDouble()).isLessThanOrEqualTo(0.0);
        assertThat(s.path("top_heads_on_positive_examples")).hasSize(8); // top_k 20 > 8 heads
        assertThat(s.path("top_heads_by_previous_occurrence_attention")).hasSize(8);
        assertThat(s.path("families_present")).hasSize(6);
        assertThat(s.path("hardest_control_family_by_attention").path("family").asText()).isNotEqualTo("no_repeat_control");
        Table fam = ctx.read("controls", 0, AttentionStage.BY_FAMILY);
        assertThat(fam.rowCount()).isEqualTo(6 * 8);
        assertThat(fam.filter(r -> r.getString("family").equals("no_repeat_control")).doubles(AttentionStage.MEAN))
                .containsOnlyNulls();
    }

    @Test
    void candidateSelectionRunsOnTheAttentionOutputs() {
        List<CandidateSelectionStage.Candidate> c = new CandidateSelectionStage().run(ctx, 0, 0);
        Table t = ctx.read(CandidateSelectionStage.STAGE, 0, CandidateSelectionStage.TABLE);
        assertThat(t.rowCount()).isEqualTo(c.size());
        assertThat(t.columnNames()).containsExactly("candidate_id", "source", "layer", "head", "head_id", "component",
                "position_label", "raw_positive_attention", "max_control_attention", "positive_minus_control_attention_gap",
                "max_control_family", "gap_positive", "selection_reason", "expected_specificity");
        Set<String> heads = new HashSet<>();
        for (int i = 0; i < c.size(); i++) {
            assertThat(t.strings("candidate_id").get(i)).isEqualTo(String.format("cand_%03d", i));
            assertThat(heads.add(c.get(i).layer() + "/" + c.get(i).head())).isTrue();
        }
        long nonRandom = c.stream().filter(x -> !x.source().equals("random_comparison")).count();
        assertThat(c.stream().filter(x -> x.source().equals("random_comparison")).count())
                .isEqualTo(Math.min(5, 8 - nonRandom));
        assertThat(c.get(0).source()).isEqualTo("top_raw_positive_attention");
        assertThat(c).noneMatch(x -> x.source().equals("top_positive_minus_control_gap")); // every gap <= 0 here
        Path dir = ctx.dir(CandidateSelectionStage.STAGE, 0);
        assertThat(dir.resolve("controlled_patching_candidates.json")).exists();
        assertThat(dir.resolve("controlled_patching_selection.md")).content()
                .contains("Raw attention candidates are not causal candidates");
    }

    @Test
    void hookInspectionFindsHookZAndNoHookResult() throws Exception {
        List<HookInspectionStage.PatchSiteResolution> res = new HookInspectionStage().run(ctx);
        assertThat(res).extracting(HookInspectionStage.PatchSiteResolution::actualPatchScope)
                .containsExactly("single_head_z", "single_head_z");
        assertThat(res.get(1).hookName()).isEqualTo(HookNames.hookZ(1));
        Path json = ctx.dir(HookInspectionStage.STAGE, null).resolve("head_hook_inspection.json");
        JsonNode report = RunContext.JSON.readTree(json.toFile());
        Map<String, JsonNode> rows = new HashMap<>();
        report.path("hook_inspections").forEach(r -> rows.put(r.path("hook_name").asText(), r));
        assertThat(rows).hasSize(8);
        // "A B C D A B C": BOS + 7 one-token words; 4 heads of width 8, d_model 32
        assertThat(rows.get("blocks.0.attn.hook_z").path("tensor_shape").toString()).isEqualTo("[1,8,4,8]");
        assertThat(rows.get("blocks.0.attn.hook_z").path("patchable_in").toString()).isEqualTo("[\"patch_z\",\"patch_z_suffix\",\"patch_z_resume\",\"patch_z_minimal\",\"hooked\"]");
        assertThat(rows.get("blocks.1.hook_attn_out").path("tensor_shape").toString()).isEqualTo("[1,8,32]");
        assertThat(rows.get("blocks.1.hook_attn_out").path("patchable_in").toString()).isEqualTo("[\"patch_attn_out\",\"hooked\"]");
        assertThat(rows.get("blocks.1.attn.hook_pattern").path("tensor_shape").toString()).isEqualTo("[1,4,8,8]");
        assertThat(rows.get("blocks.1.attn.hook_pattern").path("manifest_axes").toString())
                .isEqualTo("[\"batch\",4,\"query_pos\",\"key_pos\"]");
        JsonNode result = rows.get("blocks.0.attn.hook_result");
        assertThat(result.path("exists_or_capturable").asBoolean()).isFalse();
        assertThat(result.path("tensor_shape").isNull()).isTrue();
        assertThat(result.path("notes").asText()).contains("Not in the capture graph");
        assertThat(Files.readString(json.resolveSibling("head_hook_inspection.md"))).contains("scope=`single_head_z`");
    }

    private static double softmax(double[] l, int t) {
        double max = java.util.Arrays.stream(l).max().orElseThrow(), sum = 0;
        for (double x : l) sum += Math.exp(x - max);
        return Math.exp(l[t] - max) / sum;
    }

    private static double[] toDouble(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) d[i] = f[i];
        return d;
    }
}
