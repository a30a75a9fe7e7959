package org.milab.protocol.v2;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.milab.lab.LabModel;
import org.milab.planted.PlantedInductionModel;
import org.milab.planted.PlantedSpec;
import org.milab.stage.RunConfig;
import org.milab.run.RunContext;
import org.milab.runtime.Device;
import org.milab.tables.ArrowTables;
import org.milab.tables.Table;
import org.milab.util.Hashing;
import org.milab.util.UserError;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * make run-v2 on the default planted model at reduced counts, through the pipeline the CLI runs: the
 * contract of every output, the pre-registration hash, the control property on the model, and the
 * verdicts against the planted ground truth (read here, in the test, never by the protocol).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class V2PipelineTest {
    Path root, run;
    Table verdicts;
    JsonNode truth;

    @BeforeAll
    void runV2(@TempDir Path dir) throws Exception {
        root = dir;
        run = V2PlantedRuns.run(root, PlantedSpec.defaults(), V2PlantedRuns.CI, "v2ci");
        verdicts = V2PlantedRuns.table(run, VerdictStage.VERDICTS);
        truth = V2PlantedRuns.truth(root, PlantedSpec.defaults());
    }

    private Set<String> truthHeads(java.util.function.Predicate<JsonNode> p) {
        return V2PlantedRuns.truthHeads(truth, p);
    }

    @Test
    void confirmsExactlyTheCircuitAndRejectsEveryOtherHead() throws Exception {
        assertThat(truthHeads(h -> h.path("inCircuit").asBoolean())).hasSize(2);
        V2PlantedRuns.assertRecoversTheCircuit(run, truth);
        assertThat(V2PlantedRuns.byHead(verdicts, "truth_role").values()).doesNotContain("null");
    }

    /** Every table v2 writes describes every column (Arrow field metadata), so `make columns` lists no gap. */
    @Test
    void everyV2TableDescribesEveryColumn() throws Exception {
        assertThat(org.milab.tables.RunColumns.tables(run.resolve("v2"))).hasSizeGreaterThanOrEqualTo(13);
        // described, and by the glossary (columns.txt), so COLUMNS.md lists every v2 column
        assertThat(org.milab.tables.RunColumns.undescribed(run)).isEmpty();
        assertThat(org.milab.tables.RunColumns.notInGlossary(run)).isEmpty();
        // list values are Arrow lists: token ids, the heads ablated together, the per-seed verdicts
        Table prompts = V2PlantedRuns.table(run, ProtocolStage.PROMPTS);
        Table.Row p = prompts.row(0);
        assertThat(p.getLongs("clean_ids")).hasSize(p.getLong("length").intValue()).isNotEqualTo(p.getLongs("corrupt_ids"));
        assertThat(V2PlantedRuns.table(run, ProtocolStage.PROBES).row(0).getLongs("repeat_ids")).hasSizeGreaterThan(2);
        for (Table.Row r : verdicts.rows()) assertThat(r.getStrings("seed_verdicts")).hasSize(r.getLong("n_seeds").intValue());
        Table groups = V2PlantedRuns.table(run, GroupAblationStage.TABLE);
        for (Table.Row r : groups.rows()) assertThat((long) r.getStrings("heads").size()).isEqualTo(r.getLong("n_heads"));
        // the summaries read as text for people: no Java toString, null or 17-digit floats
        assertThat(org.milab.testing.HumanText.problems(java.nio.file.Files.readString(run.resolve("summary.md"))
                + "\n" + java.nio.file.Files.readString(run.resolve("v2/summary.md")))).isEmpty();
    }

    /**
     * Composition and circuit evidence mean-ablate with the causal stage's references, read from v2/mean_z, and the
     * circuit evidence takes model_without:<member> from the member's causal mean ablation. Checked against independent
     * computations on a fresh engine: each group's references are the mean hook_z over its corrupt prompts' positions
     * >= 1 (captured here), and model_without:<member> run here, through the whole-model patch graph, gives the
     * table's logit difference.
     */
    @Test
    void laterStagesMeanAblateWithTheCausalStagesReferences() throws Exception {
        Table means = V2PlantedRuns.table(run, Causal.MEAN_Z);
        List<PromptPair> pairs = org.milab.tables.RecordSchema.of(ProtocolStage.PromptRow.class)
                .read(V2PlantedRuns.table(run, ProtocolStage.PROMPTS)).stream().map(ProtocolStage.PromptRow::pair).toList();
        Map<List<Object>, List<PromptPair>> groups = Causal.bySeedAndFamily(pairs);
        assertThat((long) means.rowCount()).isEqualTo(groups.size() * (long) verdicts.rowCount()); // every head of every group
        Map<String, Double> evidence = new java.util.HashMap<>();
        for (Table.Row r : V2PlantedRuns.table(run, CircuitEvidence.TABLE).rows())
            evidence.put(r.getString("prompt_id") + " " + r.getString("intervention"), r.getDouble("ld_patched"));
        List<String> members = evidence.keySet().stream().filter(k -> k.contains(" " + CircuitEvidence.MODEL_WITHOUT))
                .map(k -> k.substring(k.indexOf(CircuitEvidence.MODEL_WITHOUT) + CircuitEvidence.MODEL_WITHOUT.length())).distinct().toList();
        assertThat(members).isNotEmpty();
        try (LabModel m = LabModel.open(root, PlantedSpec.defaults().modelId(), Device.CPU, 1)) {
            int nLayer = m.config().nLayer(), dh = m.config().dHead();
            List<org.milab.engine.PatchRow> rows = new java.util.ArrayList<>();
            List<String> keys = new java.util.ArrayList<>();
            for (List<PromptPair> g : groups.values()) {
                Map<org.milab.engine.TokenIds, org.milab.engine.Capture> caps = m.engine().capture(g.stream()
                        .map(p -> new org.milab.engine.TokenIds(p.corrupt())).toList(), Set.of(org.milab.graph.HookNames.hookZ(0)), "test");
                for (Table.Row r : means.rows()) {
                    if (r.getLong("seed") != g.get(0).seed() || !r.getString("family").equals(g.get(0).family()) || r.getLong("layer") != 0)
                        continue;
                    int head = r.getLong("head").intValue();
                    double[] sum = new double[dh];
                    long n = 0;
                    for (PromptPair p : g)
                        for (int t = 1; t < p.length(); t++, n++) {
                            float[] z = caps.get(new org.milab.engine.TokenIds(p.corrupt())).z(0, t, head);
                            for (int i = 0; i < dh; i++) sum[i] += z[i];
                        }
                    assertThat(r.getLong("n_positions")).isEqualTo(n);
                    for (int i = 0; i < dh; i++)
                        assertThat(r.getDoubles("mean_z").get(i)).as("group %s L0H%d dim %d", g.get(0).family(), head, i).isCloseTo(sum[i] / n, within(1e-6));
                }
                if (g.get(0).family().equals(NaturalText.NAME)) continue;
                PromptPair p = g.get(0);
                Map<org.milab.graph.Head, float[]> ref = Causal.causalMeansOf(means, p.seed(), p.family());
                for (String v : members) {
                    org.milab.graph.Head h = org.milab.graph.Head.parse(v);
                    rows.add(new org.milab.engine.PatchRow(new org.milab.engine.TokenIds(p.clean()),
                            Causal.fixed(h, Causal.positions(p, h.layer(), nLayer), ref.get(h)), Causal.main(p)));
                    keys.add(p.id() + " " + CircuitEvidence.MODEL_WITHOUT + v);
                }
            }
            float[][] out = m.engine().patch(org.milab.graph.PatchSite.HOOK_Z, rows, "test: model_without");
            for (int i = 0; i < rows.size(); i++)
                assertThat(evidence.get(keys.get(i))).as(keys.get(i)).isCloseTo((double) out[i][0] - out[i][1], within(1e-4));
        }
    }

    @Test
    void verdictTableHasTheContractColumnsWithIntervalsAndProvenance() {
        assertThat(verdicts.rowCount()).isEqualTo(16);
        assertThat(verdicts.columnNames()).contains("layer", "head", "head_id", "role", "verdict", "reason", "p_adjusted_min",
                "truth_role", "induction_excess_ci_low", "induction_excess_ci_high", "mean_ablation_norm_ci_low",
                "denoising_norm_ci_high", "copy_fraction_ci_low", "composition_norm_ci_low");
        for (Table.Row r : verdicts.rows()) {
            assertThat(r.getString("reason")).endsWith(".");
            double est = r.getDouble("mean_ablation_norm"), lo = r.getDouble("mean_ablation_norm_ci_low"),
                    hi = r.getDouble("mean_ablation_norm_ci_high");
            assertThat(lo).isLessThanOrEqualTo(est + 1e-12);
            assertThat(hi).isGreaterThanOrEqualTo(est - 1e-12);
            assertThat(r.getDouble("p_adjusted_min")).isBetween(0.0, 1.0);
        }
        for (String t : List.of(ProtocolStage.PROMPTS, ProtocolStage.PROBES, AttentionProbeStage.TABLE, CopyingStage.TABLE,
                CausalStage.BASELINES, CausalStage.ABLATIONS, CausalStage.PATCHES, GroupAblationStage.TABLE,
                CompositionStage.TABLE, CompositionStage.SCORES, CopyingStage.OV_TABLE, CircuitEvidence.TABLE,
                VerdictStage.VERDICTS, VerdictStage.STABILITY, Sequential.TABLE)) {
            Table x = V2PlantedRuns.table(run, t);
            assertThat(x.provenance()).as(t).containsKeys("checkpoint_sha256", "graph_sha256", "code_git_commit", "run_id");
            assertThat(x.metadata().get(ProtocolStage.SHA_METADATA)).as(t)
                    .isEqualTo(Hashing.sha256(run.resolve("v2/protocol.json")));
        }
        // one tidy row per pair x head x intervention, over the pairs each head ran on (v2/sequential: a head stopped
        // for futility has its stage-1 pairs, every other head all of them)
        int pairs = V2PlantedRuns.table(run, ProtocolStage.PROMPTS).rowCount();
        assertThat(pairs).isEqualTo(2 * 5 * 4);
        Table seq = V2PlantedRuns.table(run, Sequential.TABLE);
        assertThat(seq.rowCount()).isEqualTo(16);
        long headPairs = seq.rows().stream().mapToLong(r -> r.getLong("stopped_at_pairs")).sum();
        assertThat(seq.rows()).allMatch(r -> r.getLong("pairs_total") == pairs);
        assertThat(headPairs).isLessThan(16L * pairs);
        assertThat((long) V2PlantedRuns.table(run, CausalStage.ABLATIONS).rowCount()).isEqualTo(headPairs * 3);
        assertThat((long) V2PlantedRuns.table(run, CausalStage.PATCHES).rowCount()).isEqualTo(headPairs);
        // one row per pair x composition kind (k, q, v) for the one (previous-token, induction) pair of heads
        Table comp = V2PlantedRuns.table(run, CompositionStage.TABLE);
        assertThat(comp.rowCount()).isEqualTo(3 * pairs);
        for (String kind : CompositionStage.KINDS)
            assertThat(comp.filter(r -> kind.equals(r.getString("kind"))).rowCount()).as(kind).isEqualTo(pairs);
    }

    /** The planted induction head reads the previous-token head through its keys only: K dominates Q and V. */
    @Test
    void keyCompositionOfThePlantedPairDominatesQueryAndValue() throws Exception {
        String prev = truthHeads(h -> h.path("role").asText().equals("PREVIOUS_TOKEN")).iterator().next();
        String ind = truthHeads(h -> h.path("role").asText().equals("INDUCTION")).iterator().next();
        java.util.Map<String, Table.Row> byKind = new java.util.HashMap<>();
        for (Table.Row r : V2PlantedRuns.table(run, CompositionKinds.TABLE).rows())
            if (r.getString("sender_id").equals(prev) && r.getString("receiver_id").equals(ind)) byKind.put(r.getString("kind"), r);
        assertThat(byKind.keySet()).containsExactlyInAnyOrder("k", "q", "v");
        Table.Row k = byKind.get("k");
        assertThat(k.getDouble("normalized_ci_low")).isGreaterThan(0.2);
        for (String other : List.of("q", "v")) {
            Table.Row o = byKind.get(other);
            assertThat(o.getLong("n_prompts")).isEqualTo(k.getLong("n_prompts"));
            assertThat(o.getDouble("normalized_ci_high")).as(other).isLessThan(k.getDouble("normalized_ci_low"));
            assertThat(Math.abs(o.getDouble("normalized"))).as(other).isLessThan(k.getDouble("normalized") / 3);
        }
        String md = Files.readString(run.resolve("v2/summary.md"));
        md.lines().filter(l -> l.startsWith("- " + prev + " -> ")).forEach(l -> System.out.println("V2PipelineTest composition: " + l));
        assertThat(md).contains("- " + prev + " -> " + ind + ": keys ", "; queries ", "; values ");
    }

    /** The planted vocabulary cannot encode the natural-text corpus: the family is skipped, and every output says so. */
    @Test
    void naturalTextIsSkippedOnThePlantedVocabularyAndSaysWhy() throws Exception {
        JsonNode proto = new ObjectMapper().readTree(run.resolve("v2/protocol.json").toFile()).path("natural_text");
        assertThat(proto.path("status").asText()).isEqualTo(NaturalText.SKIPPED);
        assertThat(proto.path("reason").asText()).contains("cannot encode the natural-text corpus");
        assertThat(V2PlantedRuns.table(run, ProtocolStage.PROMPTS).strings("family")).doesNotContain(NaturalText.NAME);
        assertThat(V2PlantedRuns.table(run, NaturalTextAgreement.TABLE).rowCount()).isZero();
        JsonNode c = new ObjectMapper().readTree(run.resolve("v2/circuit.json").toFile()).path("natural_text");
        assertThat(c.path("status").asText()).isEqualTo(NaturalText.SKIPPED);
        assertThat(c.path("reason").asText()).isEqualTo(proto.path("reason").asText());
        assertThat(Files.readString(run.resolve("v2/summary.md"))).contains("Natural repeated text: SKIPPED on this model: ");
        assertThat(Files.readString(run.resolve("summary.md"))).contains("natural_text family SKIPPED: ");
    }

    @Test
    void circuitJsonAndSummaryStateTheCircuitWithItsComposition() throws Exception {
        JsonNode c = new ObjectMapper().readTree(run.resolve("v2/circuit.json").toFile());
        String prev = truthHeads(h -> h.path("role").asText().equals("PREVIOUS_TOKEN")).iterator().next();
        String ind = truthHeads(h -> h.path("role").asText().equals("INDUCTION")).iterator().next();
        assertThat(c.path("compositions")).anySatisfy(x -> {
            assertThat(x.path("sender").asText()).isEqualTo(prev);
            assertThat(x.path("receiver").asText()).isEqualTo(ind);
            assertThat(x.path("confirmed").asBoolean()).isTrue();
            assertThat(x.path("effect_fraction_of_gap").path("ci_low").asDouble()).isGreaterThan(0.2);
        });
        assertThat(c.path("ground_truth").path("precision").asDouble()).isEqualTo(1.0);
        assertThat(c.path("ground_truth").path("recall").asDouble()).isEqualTo(1.0);
        assertThat(c.path("stability").path("jaccard_mean_across_seeds").asDouble()).isEqualTo(1.0);
        String md = Files.readString(run.resolve("v2/summary.md"));
        assertThat(md.lines().filter(l -> l.startsWith("**confirmed: ")).findFirst()).get().asString()
                .contains(prev + " (previous_token)", ind + " (induction)", "rejected decoys: ");
        assertThat(md).contains("precision 1.000, recall 1.000");
        assertThat(md.lines().skip(2).findFirst().orElseThrow()).startsWith("Circuit-level evidence for the confirmed circuit");
        JsonNode level = c.path("circuit_level");
        for (String k : List.of("fraction_of_clean_ld", "fraction_of_gap"))
            assertThat(level.path("faithfulness").path(k).path("ci_low").isNumber()).as(k).isTrue();
        assertThat(level.path("completeness").path("by_removed_set")).hasSize(2 + 2);
        assertThat(level.path("minimality").path("by_member")).hasSize(2);
        assertThat(c.path("ground_truth").path("ranking").path("max_abs_effect_or_path").asDouble()).isEqualTo(1.0);
    }

    /** A control whose answer induction can produce is not a control: on the planted model none is predicted. */
    @Test
    void theModelPredictsNoControlAnswerButEveryCleanAnswer() {
        Table b = V2PlantedRuns.table(run, CausalStage.BASELINES);
        double cleanMean = b.doubles("ld_clean").stream().mapToDouble(Double::doubleValue).average().orElseThrow();
        double controlMean = b.doubles("ld_control").stream().mapToDouble(Double::doubleValue).average().orElseThrow();
        for (Table.Row r : b.rows()) {
            assertThat(r.getBool("clean_top1_is_answer")).as(r.getString("prompt_id")).isTrue();
            assertThat(r.getBool("corrupt_top1_is_wrong")).as(r.getString("prompt_id")).isTrue();
            assertThat(r.getBool("control_top1_is_answer")).as(r.getString("prompt_id")).isFalse();
            // the weight noise gives tokens logit offsets of a logit or two; a predicted answer would be ~10
            assertThat(Math.abs(r.getDouble("ld_control"))).isLessThan(0.3 * r.getDouble("ld_clean"));
            assertThat(r.getDouble("ld_clean")).isGreaterThan(0);
            assertThat(r.getDouble("ld_corrupt")).isLessThan(0);
        }
        assertThat(Math.abs(controlMean)).isLessThan(0.1 * cleanMean);
    }

    @Test
    void scoringRefusesAProtocolChangedAfterRegistration() throws Exception {
        Path copy = root.resolve("results").resolve("tampered" + RunContext.INCOMPLETE);
        try (var files = Files.walk(run)) {
            for (Path f : files.toList()) {
                Path to = copy.resolve(run.relativize(f).toString());
                if (Files.isDirectory(f)) Files.createDirectories(to);
                else Files.copy(f, to, StandardCopyOption.REPLACE_EXISTING);
            }
        }
        Path proto = copy.resolve("v2/protocol.json");
        Files.writeString(proto, Files.readString(proto).replace("\"min_effect_fraction\" : 0.05", "\"min_effect_fraction\" : 0.01"));
        try (LabModel m = LabModel.open(root, PlantedInductionModel.MODEL_ID, Device.CPU, 0)) {
            RunContext ctx = new RunContext(root, RunConfig.reference(PlantedInductionModel.MODEL_ID, "tampered"), m);
            assertThatThrownBy(() -> new VerdictStage().run(ctx)).isInstanceOf(UserError.class)
                    .hasMessageContaining("no longer matches its registered sha256");
            assertThat(Files.exists(copy.resolve("v2").resolve(VerdictStage.VERDICTS + ArrowTables.EXTENSION))).isTrue();
        }
    }
}
