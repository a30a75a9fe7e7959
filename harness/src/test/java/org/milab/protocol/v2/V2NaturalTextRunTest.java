package org.milab.protocol.v2;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.milab.catalog.ModelExports;
import org.milab.catalog.ModelLayout;
import org.milab.graph.ModelIdentity;
import org.milab.lab.LabModel;
import org.milab.model.ModelConfig;
import org.milab.model.RandomCheckpoints;
import org.milab.run.Pipeline;
import org.milab.run.RunContext;
import org.milab.runtime.Device;
import org.milab.stage.RunConfig;
import org.milab.tables.Table;
import org.milab.tokenizer.TestTokenizers;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * make run-v2 on a tiny random-weight model that reads GPT-2's BPE (so the natural-text corpus encodes and the
 * family is registered), at reduced counts: the family's prompts are registered and hashed with the others, scored in
 * the per-prompt tables under their family name, reported beside the verdicts and never pooled into them.
 */
class V2NaturalTextRunTest {
    private static final String MODEL = "bpe-random";

    /** Exports the model into {@code root} and runs v2 on it with {@code pairs} pairs per family (1 seed). */
    private static Path run(Path root, String runId, int pairs) throws Exception {
        ModelConfig cfg = new ModelConfig(2, 4, 32, 50257, 64, 1e-5, ModelConfig.GELU_TANH, false);
        ModelExports.export(new ModelLayout(root, MODEL), RandomCheckpoints.generate(cfg, 9, 0.5f),
                new ModelIdentity(MODEL, null, null, "test", false, "V2NaturalTextRunTest seed 9"), Map.of(),
                stage -> ModelExports.writeGpt2Tokenizer(stage.tokenizer(), TestTokenizers.gpt2Dir()));
        try (LabModel m = LabModel.open(root, MODEL, Device.CPU, 0)) {
            RunContext ctx = new RunContext(root, RunConfig.reference(MODEL, runId), m);
            Pipeline p = new Pipeline(ctx);
            p.v2(new V2Protocol.Counts(List.of(1), pairs, 2, 1000));
            p.finish("test run-v2 natural text, " + pairs + " pairs per family");
            return ctx.finalDir();
        }
    }

    @Test
    void naturalTextIsRegisteredScoredAndReportedButNeverPooled(@TempDir Path root) throws Exception {
        Path run = run(root, "v2nat", 4);
        JsonNode proto = new ObjectMapper().readTree(run.resolve("v2/protocol.json").toFile()).path("natural_text");
        assertThat(proto.path("status").asText()).isEqualTo(NaturalText.REGISTERED);
        assertThat(proto.path("use").asText()).startsWith("reported_only");

        // registered with the other families, after them; scored per prompt under its own family name
        Table prompts = V2PlantedRuns.table(run, ProtocolStage.PROMPTS);
        int randomPairs = V2Protocol.FAMILIES.size() * 4;
        assertThat(prompts.rowCount()).isEqualTo(randomPairs + 4);
        assertThat(prompts.strings("family").subList(randomPairs, randomPairs + 4)).containsOnly(NaturalText.NAME);
        assertThat(prompts.strings("prompt_id").get(randomPairs)).isEqualTo("natural_text_s1_0000");
        Table ablations = V2PlantedRuns.table(run, CausalStage.ABLATIONS);
        assertThat(ablations.filter(r -> NaturalText.NAME.equals(r.getString("family"))).rowCount()).isEqualTo(4 * 8 * 3);

        // never pooled: the verdicts' subset counts the random families' pairs only; natural text is its own subset
        String md = Files.readString(run.resolve("v2/summary.md"));
        assertThat(md).contains("- " + randomPairs + " prompt pairs (" + V2Protocol.FAMILIES.size() + " families x 1 seeds)");
        Table stability = V2PlantedRuns.table(run, VerdictStage.STABILITY);
        assertThat(stability.filter(r -> NaturalText.NAME.equals(r.getString("subset"))).rowCount()).isEqualTo(8);
        assertThat(stability.filter(r -> NaturalText.NAME.equals(r.getString("subset"))).longs("n_prompts")).containsOnly(4L);

        // reported beside the verdicts, per head, with the same verdict; flags only on confirmed heads
        Table nat = V2PlantedRuns.table(run, NaturalTextAgreement.TABLE);
        assertThat(nat.rowCount()).isEqualTo(8);
        Map<String, String> verdicts = V2PlantedRuns.byHead(V2PlantedRuns.table(run, VerdictStage.VERDICTS), "verdict");
        for (Table.Row r : nat.rows()) {
            assertThat(r.getString("verdict")).isEqualTo(verdicts.get(r.getString("head_id")));
            assertThat(r.getString("natural_flag").isEmpty()).isEqualTo(!r.getString("verdict").equals(Verdicts.CONFIRMED));
            if (r.getString("evidence").equals(Verdicts.MEAN)) assertThat(r.getLong("n_prompts")).isEqualTo(4L);
        }
        JsonNode c = new ObjectMapper().readTree(run.resolve("v2/circuit.json").toFile()).path("natural_text");
        assertThat(c.path("status").asText()).isEqualTo(NaturalText.REGISTERED);
        assertThat(md).contains("Natural repeated text (reported only");
        assertThat(org.milab.tables.RunColumns.notInGlossary(run)).isEmpty();
        System.out.println("V2NaturalTextRunTest: " + md.lines().filter(l -> l.startsWith("**")).findFirst().orElseThrow());
        md.lines().dropWhile(l -> !l.startsWith("Natural repeated text")).limit(4).forEach(l -> System.out.println("  " + l));
    }

    /**
     * Two looks (8 pairs per family: 4, then 8): a head that may stop gets no natural-text pairs at the first look
     * (Sequential's deferNaturalText) and, still running at the second, every one of them there at once. This random
     * model has no clean - corrupt gap, so no head stops, and every head must end with all 8 natural-text pairs of
     * every test: a catch-up that missed the first look's pairs would leave heads with 4.
     */
    @Test
    void aStoppableHeadCatchesUpOnNaturalTextAtTheSecondLook(@TempDir Path root) throws Exception {
        Path run = run(root, "v2nat2", 8);
        JsonNode seq = new ObjectMapper().readTree(run.resolve("v2/protocol.json").toFile()).path("sequential");
        assertThat(seq.path("defer_natural_text").asBoolean()).isTrue();
        Table sequential = V2PlantedRuns.table(run, Sequential.TABLE);
        assertThat(sequential.longs("looks")).containsOnly(2L);
        assertThat(sequential.filter(r -> Boolean.TRUE.equals(r.getBool("eligible"))).rowCount()).as("heads that may stop").isPositive();
        assertThat(sequential.filter(r -> Boolean.TRUE.equals(r.getBool("stopped"))).rowCount()).isZero();
        Table ablations = V2PlantedRuns.table(run, CausalStage.ABLATIONS), patches = V2PlantedRuns.table(run, CausalStage.PATCHES);
        for (Table t : List.of(ablations, patches)) {
            Map<String, Long> perHeadAndTest = new java.util.TreeMap<>();
            for (Table.Row r : t.filter(r -> NaturalText.NAME.equals(r.getString("family"))).rows())
                perHeadAndTest.merge(Roles.head(r) + " " + r.getString("intervention"), 1L, Long::sum);
            assertThat(perHeadAndTest).hasSize(t == ablations ? 8 * 3 : 8);
            assertThat(perHeadAndTest.values()).as("natural-text pairs per head and test").containsOnly(8L);
        }
    }
}
