package org.milab.lab;

import org.milab.engine.Engine;
import org.milab.engine.InterventionEngine;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.milab.catalog.ExportVerifier;
import org.milab.catalog.ModelExports;
import org.milab.catalog.ModelLayout;
import org.milab.graph.GraphVariant;
import org.milab.model.ModelConfig;
import org.milab.runtime.Device;
import org.milab.runtime.ModelSessions;
import org.milab.tokenizer.Tokenizer;
import org.milab.util.UserError;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.milab.util.Json;

/**
 * An exported model opened for experiments: config, tokenizer, manifests, ORT sessions and the
 * intervention engine (the local one, or the one an {@link EngineFactory} chose). Everything comes from
 * graphs/<model>/ and manifests/<model>/; nothing from ../shared at run time.
 */
public final class LabModel implements AutoCloseable {
    private static final ObjectMapper JSON = Json.MAPPER;

    private final ModelLayout layout;
    private final ModelConfig config;
    private final Tokenizer tokenizer;
    private final ModelSessions sessions;
    private final Map<GraphVariant, JsonNode> manifests;
    private final int maxRows;
    private final int maxTokens;
    private final float[][][] bvEff;
    private InterventionEngine local;
    private Engine engine;

    private LabModel(ModelLayout layout, ModelConfig config, Tokenizer tokenizer, ModelSessions sessions,
                     Map<GraphVariant, JsonNode> manifests, int maxRows, int maxTokens) {
        this.layout = layout;
        this.config = config;
        this.tokenizer = tokenizer;
        this.sessions = sessions;
        this.manifests = manifests;
        this.maxRows = maxRows;
        this.maxTokens = maxTokens;
        this.bvEff = readBvEff(manifests.get(GraphVariant.PATCH_Z), config);
    }

    public static LabModel open(Path root, String modelId, Device device, int threads) {
        return open(root, modelId, device, threads, 64, 64 * 16);
    }

    public static LabModel open(Path root, String modelId, Device device, int threads, int maxRows, int maxTokens) {
        return open(root, modelId, device, threads, maxRows, maxTokens, EngineFactory.LOCAL);
    }

    /** As {@link #open(Path, String, Device, int, int, int)}, with the engine {@code engines} chooses. */
    public static LabModel open(Path root, String modelId, Device device, int threads, int maxRows, int maxTokens,
                                EngineFactory engines) {
        return open(root, modelId, device, threads, maxRows, maxTokens, engines, ModelSessions.Tuning.DEFAULT);
    }

    /** As {@link #open(Path, String, Device, int, int, int, EngineFactory)}, its sessions opened with {@code tuning}. */
    public static LabModel open(Path root, String modelId, Device device, int threads, int maxRows, int maxTokens,
                                EngineFactory engines, ModelSessions.Tuning tuning) {
        ModelLayout layout = new ModelLayout(root, modelId);
        ModelExports.recoverInterruptedExports(layout);
        Path graphs = layout.graphDir();
        boolean missing = !Files.isRegularFile(graphs.resolve("config.json")) || !Files.isRegularFile(layout.tokenizer());
        // a name export cannot make (a typo such as "planted") gets the list of real names, never "make export" of itself
        if (missing && !Files.isDirectory(graphs) && !org.milab.catalog.ModelNames.exportableByName(modelId))
            throw org.milab.catalog.ModelNames.unknown(root, modelId);
        if (missing)
            throw new UserError("Model '" + modelId + "' has not been exported (no " + graphs.resolve("config.json")
                    + " or tokenizer.json).", "Run 'make export MODEL=" + modelId + "' first"
                    + (modelId.equals("gpt2") ? " (it needs GPT-2's weights: from the hub, from the cache, or "
                    + "WEIGHTS=/path/model.safetensors with its config.json beside it). "
                    + org.milab.model.download.PinnedFile.WITHOUT_GPT2 : "."));
        Map<GraphVariant, JsonNode> manifests = new EnumMap<>(GraphVariant.class);
        for (GraphVariant v : GraphVariant.values()) {
            Path m = layout.manifestDir().resolve(v.id() + ".json");
            if (!Files.isRegularFile(m))
                throw new UserError("Manifest " + m + " is missing.", "Re-run 'make export MODEL=" + modelId + "'.");
            try {
                manifests.put(v, JSON.readTree(m.toFile()));
            } catch (IOException e) {
                throw new UserError("Manifest " + m + " is not valid JSON: " + e.getMessage(),
                        "Re-run 'make export MODEL=" + modelId + "'.", e);
            }
        }
        // graphs, weights, config and tokenizer must be the files the manifests describe (sha256, cached per stamp)
        ExportVerifier.Verified verified = ExportVerifier.verify(layout, manifests);
        ModelConfig cfg = ModelConfig.read(graphs.resolve("config.json"));
        Tokenizer tok = Tokenizer.load(layout.tokenizer());
        ModelSessions sessions = ModelSessions.open(graphs, device, threads, tuning);
        sessions.beforeLoad(verified::recheck);
        LabModel model = new LabModel(layout, cfg, tok, sessions, manifests, maxRows, maxTokens);
        try {
            model.local = new InterventionEngine(sessions, cfg, maxRows, maxTokens);
            model.engine = engines.open(model, model.local);
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
        return model;
    }

    public String id() {
        return layout.modelId();
    }

    public ModelLayout layout() {
        return layout;
    }

    public ModelConfig config() {
        return config;
    }

    public Tokenizer tokenizer() {
        return tokenizer;
    }

    public ModelSessions sessions() {
        return sessions;
    }

    /**
     * BOS + the tokens of {@code prompt}, refused with one clear message when the model cannot read it: longer
     * than its n_positions (ONNX Runtime would fail inside a Gather), or with words its tokenizer does not know
     * (they would silently become the unknown token).
     */
    public int[] promptTokens(String prompt) {
        int[] ids = tokenizer.encodeWithBos(prompt);
        if (ids.length > config.nPositions())
            throw new UserError("The prompt '" + abbreviate(prompt) + "' is " + ids.length + " tokens long with BOS, but model '"
                    + id() + "' reads at most " + config.nPositions() + " positions (n_positions).",
                    "Shorten the prompt, or use a model with more positions.");
        List<String> unknown = tokenizer.unknownWords(prompt);
        if (!unknown.isEmpty())
            throw new UserError("The prompt '" + abbreviate(prompt) + "' has words that model '" + id() + "''s tokenizer does "
                    + "not know: " + String.join(", ", unknown) + " (they would be read as its unknown token).",
                    "Use words of the model's vocabulary (graphs/" + id() + "/tokenizer.json), or export a model whose "
                            + "tokenizer has them.");
        return ids;
    }

    private static String abbreviate(String s) {
        return s.length() <= 80 ? s : s.substring(0, 77) + "...";
    }

    public Engine engine() {
        return engine;
    }

    /** The in-process engine (what benchmarks of its own recompute paths time), whichever engine runs the stages. */
    public InterventionEngine localEngine() {
        return local;
    }

    /** Rows per ORT call at most (the batch limit every engine of this model uses). */
    public int maxRows() {
        return maxRows;
    }

    /** Rows x padded width per ORT call at most. */
    public int maxTokens() {
        return maxTokens;
    }

    public JsonNode manifest(GraphVariant v) {
        return manifests.get(v);
    }

    /** TransformerLens-frame value bias of a head (raw z minus this is TL's z). */
    public float[] valueBiasEffective(int layer, int head) {
        return bvEff[layer][head].clone();
    }

    /** The model part of every table's provenance: which weights and graphs produced the numbers. */
    public ModelProvenance modelProvenance() {
        JsonNode any = manifests.get(GraphVariant.CAPTURE);
        Map<String, String> graphs = new LinkedHashMap<>();
        manifests.forEach((v, m) -> graphs.put(v.id(), m.path("graph").path("sha256").asText()));
        return new ModelProvenance(id(), any.path("model").path("checkpoint_sha256").asText(),
                any.path("model").path("pinned").asBoolean(), any.path("graph").path("weights_file_sha256").asText(),
                graphs, any.path("exporter").path("git_commit").asText(), sessions.execution().ortVersion(),
                sessions.execution().ortArtifact(), sessions.execution().provider(), sessions.execution().requested().id(),
                sessions.execution().fallbackReason());
    }

    /** {@link #modelProvenance()} as its JSON object (for code that embeds it in a JSON document). */
    public Map<String, Object> provenance() {
        return modelProvenance().toMap();
    }

    private static float[][][] readBvEff(JsonNode manifest, ModelConfig c) {
        JsonNode bv = manifest.path("z_frame").path("bV_eff");
        float[][][] out = new float[c.nLayer()][c.nHead()][c.dHead()];
        for (int l = 0; l < c.nLayer(); l++)
            for (int h = 0; h < c.nHead(); h++)
                for (int i = 0; i < c.dHead(); i++) out[l][h][i] = (float) bv.get(l).get(h).get(i).asDouble();
        return out;
    }

    @Override
    public void close() {
        try {
            if (engine instanceof AutoCloseable c) c.close();
        } catch (Exception e) {
            throw new IllegalStateException("Closing the " + engine.describe().get("engine") + " engine failed: "
                    + e.getMessage(), e);
        } finally {
            sessions.close();
            tokenizer.close();
        }
    }
}
