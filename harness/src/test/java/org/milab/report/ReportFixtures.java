package org.milab.report;

import org.milab.graph.Head;
import org.milab.tables.ArrowTables;
import org.milab.tables.Table;
import org.milab.tables.TableBuilder;
import org.milab.util.AtomicFiles;
import org.milab.util.Hashing;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Hand-made run folders for the report tests: reference tables with known verdicts, a protocol v2 result
 * written to the v2 contract (verdicts.arrow with CI columns plus columns the report must ignore, and
 * circuit.json), and a model manifest carrying a ground truth. Every number is made up here; none comes
 * from a model.
 */
final class ReportFixtures {
    static final String MODEL = "toy";

    private ReportFixtures() {}

    /** One v2 verdict row: the scores get CIs of +-half-width around the value. */
    record V2Row(Head head, String role, String verdict, double score, double halfWidth, String truthRole) {}

    /**
     * The toy model's truth: L0H0 previous-token and L1H0 induction (the circuit), L1H1 a frequency decoy,
     * L0H1 noise. Written as the export writes it (manifest key ground_truth).
     */
    static String truthJson() {
        return """
                {"ground_truth": {"model": "toy", "answerHead": "L1H0", "heads": [
                  {"layer": 0, "head": 0, "name": "L0H0", "role": "PREVIOUS_TOKEN", "inCircuit": true, "fools": ""},
                  {"layer": 0, "head": 1, "name": "L0H1", "role": "NOISE", "inCircuit": false, "fools": "no null distribution"},
                  {"layer": 1, "head": 0, "name": "L1H0", "role": "INDUCTION", "inCircuit": true, "fools": ""},
                  {"layer": 1, "head": 1, "name": "L1H1", "role": "FREQUENCY", "inCircuit": false, "fools": "frequency trap"}]}}
                """;
    }

    /** A finished toy run under root/results/toy-run with the reference tables; returns its folder. */
    static Path referenceRun(Path root) {
        Path manifest = root.resolve("manifests").resolve(MODEL).resolve(Truth.MANIFEST);
        AtomicFiles.writeString(manifest, truthJson());
        Path run = root.resolve("results").resolve("toy-run");
        // sweep: L1H0 (the truth's induction head) moves a control more than positives; L0H1 and L1H1 replicate
        Table sweep = Table.builder("head_specific_multiseed_by_head").keys("layer", "head").int64("layer", "head")
                .float64("mean_positive_effect", "mean_max_control_effect").string("replication_status")
                .bool("raw_attention_candidate_in_any_seed").string("some_new_column")
                .addRow(0, 0, 0.01, 0.2, "no_effect", false, "x")
                .addRow(0, 1, 0.05, 0.01, "replicated_head_specific_candidate", false, "x")
                .addRow(1, 0, 0.97, 1.02, "nonspecific", false, "x")
                .addRow(1, 1, 0.3, 0.02, "replicated_head_specific_candidate", true, "x").build();
        ArrowTables.writeInto(run.resolve("head_sweep_multiseed"), sweep);
        ArrowTables.writeInto(run.resolve("heldout_candidates"), Table.builder("heldout_candidate_set").keys("candidate_id")
                .string("candidate_id").int64("layer", "head").string("candidate_group")
                .addRow("c0", 0, 1, "replicated_candidate").addRow("c1", 1, 1, "replicated_candidate")
                .addRow("c2", 0, 0, "negative_control_no_effect").build());
        ArrowTables.writeInto(run.resolve("heldout_multiseed"), Table.builder("heldout_multiseed_by_candidate").keys("candidate_id")
                .string("candidate_id").int64("layer", "head", "n_seeds", "n_survived_seeds")
                .float64("mean_positive_minus_control_gap", "min_positive_minus_control_gap").string("heldout_replication_status")
                .addRow("c0", 0, 1, 3, 1, 0.02, -0.01, "heldout_downgraded")
                .addRow("c1", 1, 1, 3, 3, 0.25, 0.2, "heldout_replicated")
                .addRow("c2", 0, 0, 3, 0, -0.1, -0.3, "heldout_falsified").build());
        ArrowTables.writeInto(run.resolve("characterization_multiseed"), Table.builder("candidate_characterization_multiseed_by_candidate")
                .keys("candidate_id").string("candidate_id").int64("layer", "head", "n_support_seeds", "n_downgrade_seeds", "n_falsify_seeds")
                .float64("mean_positive_minus_control_gap", "mean_attention_effect_corr").string("final_characterization_status")
                .addRow("c0", 0, 1, 0, 1, 2, 0.01, 0.1, "falsified_candidate")
                .addRow("c1", 1, 1, 3, 0, 0, 0.24, 0.6, "strengthened_local_candidate")
                .addRow("c2", 0, 0, 0, 0, 3, -0.1, 0.0, "falsified_candidate").build());
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("run_id", "toy-run");
        m.put("command", "milab run-all --model toy");
        m.put("wall_seconds", 12.345678);
        m.put("code_git_commit", "0123abc");
        m.put("config", Map.of("model", MODEL, "control_seeds", List.of(0, 1, 2), "heldout_seeds", List.of(10, 11, 12)));
        m.put("model", Map.of("model_id", MODEL, "checkpoint_sha256", "f".repeat(64), "execution_provider", "CPUExecutionProvider"));
        m.put("model_manifest_sha256", Map.of(Truth.MANIFEST, Hashing.sha256(manifest)));
        m.put("hashes", Map.of("heldout_candidate_set", "e".repeat(64)));
        AtomicFiles.writeString(run.resolve("run_manifest.json"), org.milab.run.RunContext.json(m) + "\n");
        return run;
    }

    /** The toy v2 result: L0H0 previous-token and L1H0 induction confirmed, L1H1 rejected, L0H1 inconclusive. */
    static List<V2Row> toyV2() {
        return List.of(new V2Row(new Head(0, 0), "previous_token", "confirmed", 0.8, 0.1, "previous_token"),
                new V2Row(new Head(0, 1), "other", "inconclusive", 0.02, 0.05, "noise"),
                new V2Row(new Head(1, 0), "induction", "confirmed", 0.9, 0.05, "induction"),
                new V2Row(new Head(1, 1), "induction", "rejected", -0.01, 0.03, "frequency"));
    }

    /**
     * Writes v2/verdicts.arrow (layer, head, head_id, role, verdict, two scores with _ci_low/_ci_high, reason,
     * truth_role, and two columns the report does not know) and v2/circuit.json (the confirmed heads, one
     * composition sender -> receiver per confirmed previous-token -> induction pair).
     */
    static void writeV2(Path run, List<V2Row> rows) {
        TableBuilder b = Table.builder("verdicts").keys("layer", "head").int64("layer", "head").string("head_id", "role", "verdict")
                .float64("induction_score", "induction_score_ci_low", "induction_score_ci_high", "raw_delta", "raw_delta_ci_low", "raw_delta_ci_high",
                        "mean_ablation_norm", "mean_ablation_norm_ci_low", "mean_ablation_norm_ci_high", "p_adjusted_min")
                .string("reason", "truth_role", "future_column").int64("n_prompts");
        for (V2Row r : rows)
            b.addRow(r.head().layer(), r.head().head(), r.head().label(), r.role(), r.verdict(), r.score(), r.score() - r.halfWidth(),
                    r.score() + r.halfWidth(), 2 * r.score(), 2 * (r.score() - r.halfWidth()), 2 * (r.score() + r.halfWidth()),
                    r.score(), r.score() - r.halfWidth(), r.score() + r.halfWidth(), r.verdict().equals("confirmed") ? 1e-6 : 0.4,
                    "hand-made fixture row", r.truthRole(), "ignored", 40L);
        ArrowTables.writeInto(run.resolve("v2"), b.build());
        StringBuilder heads = new StringBuilder(), edges = new StringBuilder();
        for (V2Row r : rows) {
            if (!r.verdict().equals("confirmed")) continue;
            heads.append(heads.length() == 0 ? "" : ",").append("{\"head_id\": \"").append(r.head().label()).append("\", \"role\": \"")
                    .append(r.role()).append("\"}");
            if (!r.role().equals("induction")) continue;
            for (V2Row s : rows)
                if (s.verdict().equals("confirmed") && s.role().equals("previous_token"))
                    edges.append(edges.length() == 0 ? "" : ",").append("{\"sender\": \"").append(s.head().label()).append("\", \"receiver\": \"")
                            .append(r.head().label()).append("\", \"kind\": \"K-composition\", \"effect\": 0.7, \"ci_low\": 0.6, \"ci_high\": 0.8}");
        }
        AtomicFiles.writeString(run.resolve("v2/circuit.json"), "{\"heads\": [" + heads + "], \"compositions\": [" + edges + "]}\n");
    }

    /**
     * A GPT-2-small-shaped v2 result (12 x 12 heads) with the real verdict columns and the values that broke
     * the page before: p = 2.3e-322 and 1e-300 (and 0), +-0.0002 noise beside two 0.97 effects, constant
     * columns (gap, copy_chance: zero variance), and an all-NaN column (denoising_norm). L5H1 -> L6H9 is the
     * confirmed pair; everything is made up here.
     */
    static void writeGpt2ShapeV2(Path run) {
        TableBuilder b = Table.builder("verdicts").keys("layer", "head").int64("layer", "head")
                .string("head_id", "role", "verdict", "reason").float64("p_adjusted_min", "mean_ablation_norm", "mean_ablation_norm_ci_low",
                        "mean_ablation_norm_ci_high", "induction_excess", "induction_excess_ci_low", "induction_excess_ci_high", "gap", "gap_ci_low",
                        "gap_ci_high", "denoising_norm", "composition_norm", "copy_chance", "p_mean_ablation", "p_composition");
        java.util.Random rnd = new java.util.Random(7);
        for (int l = 0; l < 12; l++)
            for (int h = 0; h < 12; h++) {
                Head head = new Head(l, h);
                boolean ind = head.equals(new Head(6, 9)), prev = head.equals(new Head(5, 1));
                double eff = ind || prev ? 0.97 : (rnd.nextDouble() - 0.5) * 4e-4, half = ind || prev ? 0.02 : 3e-4;
                double p = ind ? 2.3e-322 : prev ? 1e-300 : head.equals(new Head(0, 0)) ? 0.0 : 0.2 + 0.8 * rnd.nextDouble();
                double exc = ind ? 0.6 : (rnd.nextDouble() - 0.5) * 0.02;
                b.addRow((long) l, (long) h, head.label(), ind ? "induction" : prev ? "previous_token" : "other",
                        ind || prev ? "confirmed" : l % 3 == 0 ? "inconclusive" : "rejected", "hand-made fixture row", p,
                        eff, eff - half, eff + half, exc, exc - 0.01, exc + 0.01, 3.25, 3.0, 3.5, Double.NaN,
                        prev ? 0.8 : Double.NaN, 0.01, p, prev ? 2.3e-322 : Double.NaN);
            }
        ArrowTables.writeInto(run.resolve("v2"), b.build());
        AtomicFiles.writeString(run.resolve("v2/circuit.json"), "{\"heads\": [{\"head_id\": \"L5H1\", \"role\": \"previous_token\"}, "
                + "{\"head_id\": \"L6H9\", \"role\": \"induction\"}], \"compositions\": [{\"sender\": \"L5H1\", \"receiver\": \"L6H9\", "
                + "\"kind\": \"K-composition\", \"effect\": 0.8, \"ci_low\": 0.7, \"ci_high\": 0.9}]}\n");
    }

    /** The Vega-Lite specs a written report.html embeds, by figure id. */
    static Map<String, com.fasterxml.jackson.databind.JsonNode> figures(String html) throws Exception {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile(
                "<script type=\"application/json\" id=\"milab-figures\">(.*?)</script>", java.util.regex.Pattern.DOTALL).matcher(html);
        org.assertj.core.api.Assertions.assertThat(m.find()).isTrue();
        Map<String, com.fasterxml.jackson.databind.JsonNode> out = new java.util.HashMap<>();
        for (com.fasterxml.jackson.databind.JsonNode f : new com.fasterxml.jackson.databind.ObjectMapper().readTree(m.group(1)))
            out.put(f.path("id").asText(), f.path("spec"));
        return out;
    }
}
