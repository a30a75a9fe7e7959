package org.milab.protocol.v2;

import org.milab.catalog.ModelExports;
import org.milab.lab.LabModel;
import org.milab.planted.PlantedSpec;
import org.milab.run.Pipeline;
import org.milab.stage.RunConfig;
import org.milab.run.RunContext;
import org.milab.runtime.Device;
import org.milab.tables.ArrowTables;
import org.milab.tables.Table;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;

/** Runs protocol v2 at reduced counts on a planted model exported into a temp dir (what the v2 tests share). */
final class V2PlantedRuns {
    private V2PlantedRuns() {}

    /** Reduced counts for CI: 2 seeds x 5 families x 4 pairs, 4 probes per length, 1000 resamples. */
    static final V2Protocol.Counts CI = new V2Protocol.Counts(List.of(1, 2), 4, 4, 1000);

    /** The finished run folder of {@code make run-v2} on the planted model of {@code spec}. */
    static Path run(Path root, PlantedSpec spec, V2Protocol.Counts counts, String runId) {
        ModelExports.exportPlanted(root, spec);
        try (LabModel m = LabModel.open(root, spec.modelId(), Device.CPU, 0)) {
            RunContext ctx = new RunContext(root, RunConfig.reference(spec.modelId(), runId), m);
            Pipeline p = new Pipeline(ctx);
            p.v2(counts);
            p.finish("test run-v2");
            return ctx.finalDir();
        }
    }

    /** The ground truth of the planted model a run used (from its manifests; tests only). */
    static com.fasterxml.jackson.databind.JsonNode truth(Path root, PlantedSpec spec) {
        try {
            return new com.fasterxml.jackson.databind.ObjectMapper().readTree(root.resolve("manifests").resolve(spec.modelId())
                    .resolve("capture.json").toFile()).path("ground_truth").path("heads");
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** Names of the truth heads {@code p} selects. */
    static Set<String> truthHeads(com.fasterxml.jackson.databind.JsonNode truth,
                                  java.util.function.Predicate<com.fasterxml.jackson.databind.JsonNode> p) {
        Set<String> out = new java.util.TreeSet<>();
        for (com.fasterxml.jackson.databind.JsonNode h : truth) if (p.test(h)) out.add(h.path("name").asText());
        return out;
    }

    static boolean role(com.fasterxml.jackson.databind.JsonNode h, String role) {
        return h.path("role").asText().equals(role);
    }

    /**
     * What every planted layout must show: exactly the in-circuit heads confirmed, every other head rejected,
     * attention roles as built, and every (previous-token -> induction) composition confirmed.
     */
    static void assertRecoversTheCircuit(Path run, com.fasterxml.jackson.databind.JsonNode truth) throws java.io.IOException {
        Table v = table(run, VerdictStage.VERDICTS);
        Set<String> inCircuit = truthHeads(truth, h -> h.path("inCircuit").asBoolean());
        org.assertj.core.api.Assertions.assertThat(headsWhere(v, "verdict", "confirmed")).as("confirmed").isEqualTo(inCircuit);
        org.assertj.core.api.Assertions.assertThat(headsWhere(v, "verdict", "rejected")).as("rejected")
                .isEqualTo(truthHeads(truth, h -> !h.path("inCircuit").asBoolean()));
        Set<String> inductions = truthHeads(truth, h -> h.path("role").asText().endsWith("INDUCTION"));
        Set<String> prevs = truthHeads(truth, h -> role(h, "PREVIOUS_TOKEN"));
        org.assertj.core.api.Assertions.assertThat(headsWhere(v, "role", "induction")).isEqualTo(inductions);
        org.assertj.core.api.Assertions.assertThat(headsWhere(v, "role", "previous_token")).isEqualTo(prevs);
        org.assertj.core.api.Assertions.assertThat(headsWhere(v, "role", "duplicate_token"))
                .isEqualTo(truthHeads(truth, h -> role(h, "DUPLICATE_TOKEN_NULL_OV")));
        Set<String> negatives = truthHeads(truth, h -> role(h, "NEGATIVE_COPY"));
        org.assertj.core.api.Assertions.assertThat(headsWhere(v, "role", "negative")).as("negative role").isEqualTo(negatives);
        org.assertj.core.api.Assertions.assertThat(headsWhere(v, "circuit_kind", "negative")).as("negative kind").isEqualTo(negatives);
        com.fasterxml.jackson.databind.JsonNode c = new com.fasterxml.jackson.databind.ObjectMapper()
                .readTree(run.resolve("v2/circuit.json").toFile());
        Set<String> confirmedPairs = new java.util.TreeSet<>();
        for (com.fasterxml.jackson.databind.JsonNode x : c.path("compositions"))
            if (x.path("confirmed").asBoolean()) confirmedPairs.add(x.path("sender").asText() + "->" + x.path("receiver").asText());
        Set<String> expected = new java.util.TreeSet<>();
        for (String s : prevs) for (String r : inductions) expected.add(s + "->" + r);
        org.assertj.core.api.Assertions.assertThat(confirmedPairs).as("confirmed compositions").isEqualTo(expected);
    }

    static Table table(Path run, String name) {
        return ArrowTables.read(run.resolve("v2").resolve(name + ArrowTables.EXTENSION));
    }

    /** head_id -> column value of the verdicts table. */
    static Map<String, String> byHead(Table verdicts, String column) {
        Map<String, String> out = new TreeMap<>();
        for (Table.Row r : verdicts.rows()) out.put(r.getString("head_id"), String.valueOf(r.get(column)));
        return out;
    }

    /** A list column by head id (e.g. {@code inconclusive_reason}). */
    static Map<String, List<String>> listsByHead(Table verdicts, String column) {
        Map<String, List<String>> out = new TreeMap<>();
        for (Table.Row r : verdicts.rows()) out.put(r.getString("head_id"), r.getStrings(column));
        return out;
    }

    static Set<String> headsWhere(Table verdicts, String column, String value) {
        return verdicts.rows().stream().filter(r -> value.equals(String.valueOf(r.get(column))))
                .map(r -> r.getString("head_id")).collect(Collectors.toCollection(java.util.TreeSet::new));
    }
}
