package org.milab.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.milab.graph.Head;
import org.milab.util.Hashing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.milab.stage.RunFolder;
import org.milab.util.Json;

/**
 * A model's ground truth as data (the planted model's manifests carry {@code ground_truth}; GPT-2 has
 * none). It is read from the model manifest whose sha256 the run recorded, so a report never grades a
 * run against the answer key of a different export.
 *
 * @param heads empty when the model has no ground truth
 * @param note  where the truth came from, or why there is none
 */
public record Truth(List<TruthHead> heads, String note) {
    private static final ObjectMapper JSON = Json.MAPPER;
    static final String MANIFEST = "capture.json";

    /** @param role the generator's role name, e.g. INDUCTION, PREVIOUS_TOKEN, DUPLICATE_TOKEN_NULL_OV, NOISE */
    public record TruthHead(Head head, String role, boolean inCircuit, String fools) {
        /** "induction", "previous_token", "duplicate_token_null_ov": the spelling protocol verdicts use. */
        public String roleKey() {
            return role.toLowerCase(Locale.ROOT);
        }

        /**
         * A claimed role matches the truth when the truth's role names that mechanism: "duplicate_token" matches
         * DUPLICATE_TOKEN_NULL_OV, "induction" matches INDUCTION and BACKUP_INDUCTION.
         */
        public boolean matches(String claimedRole) {
            return claimedRole != null && !claimedRole.isBlank()
                    && ("_" + roleKey() + "_").contains("_" + claimedRole.toLowerCase(Locale.ROOT) + "_");
        }

        public String describe() {
            return roleKey().replace('_', ' ') + (inCircuit ? " (in circuit)" : "");
        }
    }

    public static Truth none(String why) {
        return new Truth(List.of(), why);
    }

    public boolean known() {
        return !heads.isEmpty();
    }

    public Optional<TruthHead> of(Head h) {
        return heads.stream().filter(t -> t.head().equals(h)).findFirst();
    }

    public List<TruthHead> withRole(String roleKey) {
        return heads.stream().filter(t -> t.roleKey().equals(roleKey)).toList();
    }

    public List<TruthHead> inCircuit() {
        return heads.stream().filter(TruthHead::inCircuit).toList();
    }

    /**
     * The truth of the model a run used: {@code manifests/<model>/capture.json} under {@code root}, if its
     * sha256 equals the one in the run manifest.
     */
    public static Truth forRun(Path root, RunFolder run) {
        JsonNode m = run.manifest();
        String model = m.path("model").path("model_id").asText(m.path("config").path("model").asText(""));
        if (model.isEmpty()) return none("the run manifest names no model");
        Path manifest = root.resolve("manifests").resolve(model).resolve(MANIFEST);
        if (!Files.isRegularFile(manifest)) return none("no model manifest at " + root.relativize(manifest));
        String recorded = m.path("model_manifest_sha256").path(MANIFEST).asText("");
        if (!recorded.isEmpty() && !recorded.equals(Hashing.sha256(manifest)))
            return none("manifests/" + model + "/" + MANIFEST + " changed since this run (sha256 differs from run_manifest.json)");
        try {
            return parse(JSON.readTree(manifest.toFile()).path("ground_truth"), "manifests/" + model + "/" + MANIFEST + " (ground_truth)");
        } catch (IOException e) {
            return none("cannot read " + manifest + ": " + e.getMessage());
        }
    }

    static Truth parse(JsonNode gt, String source) {
        if (gt.isMissingNode() || gt.isNull() || !gt.path("heads").isArray()) return none("the model has no ground truth");
        List<TruthHead> heads = new ArrayList<>();
        for (JsonNode h : gt.path("heads"))
            heads.add(new TruthHead(new Head(h.path("layer").asInt(), h.path("head").asInt()), h.path("role").asText(""),
                    h.path("inCircuit").asBoolean(false), h.path("fools").asText("")));
        return new Truth(List.copyOf(heads), source);
    }
}
