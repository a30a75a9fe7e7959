package org.milab.graph;

import ai.onnx.proto.OnnxMl.ModelProto;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.milab.model.Checkpoint;
import org.milab.model.Gpt2Tensors;
import org.milab.model.ModelConfig;
import org.milab.util.AtomicFiles;
import org.milab.util.Hashing;
import org.milab.util.StepCounter;
import org.milab.util.Provenance;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.milab.util.Json;

/**
 * Exports a checkpoint ONCE into every graph variant: one shared weights file, one {@code .onnx} per
 * variant, and a manifest per variant saying how it was made and what each input and output means.
 */
public final class GraphExporter {
    public static final String MANIFEST_SCHEMA = "milab.graph_manifest/1";
    private static final ObjectMapper JSON = Json.MAPPER;

    /** What an export produced: where things are and the manifest of each variant. */
    public record Exported(Path graphDir, Path manifestDir, Map<GraphVariant, ObjectNode> manifests) {}

    private final Path codeRoot;
    private final String ortVersion;

    /**
     * @param codeRoot   the repository root, for the exporter's git commit
     * @param ortVersion the ONNX Runtime version the graphs are checked with, recorded in every manifest (the
     *                   caller reads it from the runtime: graphs sit below the runtime that loads them)
     */
    public GraphExporter(Path codeRoot, String ortVersion) {
        this.codeRoot = codeRoot;
        this.ortVersion = ortVersion;
    }

    /**
     * @param extra model-specific manifest content (e.g. the planted model's ground truth), may be empty
     */
    public Exported export(Checkpoint ckpt, ModelIdentity identity, Path graphDir, Path manifestDir,
                           List<GraphVariant> variants, Map<String, Object> extra) {
        return export(ckpt, identity, graphDir, manifestDir, variants, extra, null);
    }

    /** As above; {@code steps} (may be null) gets a start and an end for the weights file and each variant. */
    public Exported export(Checkpoint ckpt, ModelIdentity identity, Path graphDir, Path manifestDir,
                           List<GraphVariant> variants, Map<String, Object> extra, StepCounter steps) {
        ModelConfig cfg = ckpt.config();
        if (steps != null) steps.start(WeightsLayout.FILE_NAME);
        WeightsLayout layout = WeightsLayout.write(ckpt, graphDir.resolve(WeightsLayout.FILE_NAME));
        if (steps != null) steps.done(WeightsLayout.FILE_NAME);
        String weightsSha = Hashing.sha256(graphDir.resolve(WeightsLayout.FILE_NAME));
        AtomicFiles.writeString(graphDir.resolve("config.json"), cfg.toJson().toPrettyString());
        String commit = Provenance.gitCommit(codeRoot);
        Gpt2GraphBuilder builder = new Gpt2GraphBuilder(cfg, layout, commit);
        ArrayNode bvEff = valueBiasEffective(ckpt);
        Map<GraphVariant, ObjectNode> manifests = new LinkedHashMap<>();
        for (GraphVariant v : variants) {
            if (steps != null) steps.start(v.fileName());
            Map<String, String> meta = new LinkedHashMap<>();
            meta.put("milab.model", identity.id());
            meta.put("milab.weights_sha256", identity.weightsSha256());
            meta.put("milab.variant", v.id());
            if (v.perStartLayer()) {
                manifests.put(v, exportPerStartLayer(builder, v, meta, graphDir, manifestDir, identity, cfg, commit,
                        ortVersion, weightsSha, layout, bvEff, extra));
                continue;
            }
            Gpt2GraphBuilder.BuiltGraph built = builder.build(v, meta);
            Path file = graphDir.resolve(v.fileName());
            ModelProto model = built.model();
            AtomicFiles.write(file, model::writeTo);
            ObjectNode m = manifest(built, identity, cfg, commit, ortVersion, Hashing.sha256(file), weightsSha,
                    layout, bvEff, extra);
            AtomicFiles.writeString(manifestDir.resolve(v.id() + ".json"), toJson(m));
            manifests.put(v, m);
            if (steps != null) steps.done(v.fileName());
        }
        return new Exported(graphDir, manifestDir, manifests);
    }

    /**
     * One graph file per start layer and one manifest for them all: its inputs are those of start layer 0
     * (later start layers take only the caches of the blocks they start at or pass), its sha256 covers every file.
     */
    private ObjectNode exportPerStartLayer(Gpt2GraphBuilder builder, GraphVariant v, Map<String, String> meta,
                                           Path graphDir, Path manifestDir, ModelIdentity identity, ModelConfig cfg,
                                           String commit, String ortVersion, String weightsSha, WeightsLayout layout,
                                           ArrayNode bvEff, Map<String, Object> extra) {
        ArrayNode files = JSON.createArrayNode();
        StringBuilder shas = new StringBuilder();
        Gpt2GraphBuilder.BuiltGraph first = null;
        for (int start = 0; start < cfg.nLayer(); start++) {
            Gpt2GraphBuilder.BuiltGraph built = builder.buildPerStartLayer(v, start, meta);
            if (first == null) first = built;
            Path file = graphDir.resolve(v.fileName(start));
            AtomicFiles.write(file, built.model()::writeTo);
            String sha = Hashing.sha256(file);
            shas.append(sha).append('\n');
            ObjectNode f = files.addObject();
            f.put("start_layer", start);
            f.put("file", file.getFileName().toString());
            f.put("sha256", sha);
        }
        ObjectNode m = manifest(first, identity, cfg, commit, ortVersion, Hashing.sha256(shas.toString()), weightsSha,
                layout, bvEff, extra);
        ((ObjectNode) m.get("graph")).put("file", v.fileName(0).replace("_from_0", "_from_{start_layer}"));
        ((ObjectNode) m.get("graph")).put("sha256_covers", "the per-start-layer sha256 values below, one per line");
        m.set("start_layer_graphs", files);
        AtomicFiles.writeString(manifestDir.resolve(v.id() + ".json"), toJson(m));
        return m;
    }

    private ObjectNode manifest(Gpt2GraphBuilder.BuiltGraph built, ModelIdentity id, ModelConfig cfg, String commit,
                                String ortVersion, String graphSha, String weightsSha, WeightsLayout layout,
                                ArrayNode bvEff, Map<String, Object> extra) {
        ObjectNode m = JSON.createObjectNode();
        m.put("schema", MANIFEST_SCHEMA);
        m.put("variant", built.variant().id());
        ObjectNode model = m.putObject("model");
        model.put("id", id.id());
        model.put("repo", id.repo());
        model.put("revision", id.revision());
        model.put("checkpoint_sha256", id.weightsSha256());
        model.put("pinned", id.pinned());
        model.put("origin", id.origin());
        model.set("config", cfg.toJson());
        model.put("unembedding", cfg.tiedEmbeddings() ? "tied (wte.weight)" : "untied (lm_head.weight)");
        ObjectNode graph = m.putObject("graph");
        graph.put("file", built.variant().fileName());
        graph.put("sha256", graphSha);
        graph.put("weights_file", layout.fileName());
        graph.put("weights_file_sha256", weightsSha);
        graph.put("opset", Gpt2GraphBuilder.OPSET);
        graph.put("ir_version", built.model().getIrVersion());
        graph.put("dtype", "float32");
        m.put("onnxruntime_version", ortVersion);
        ObjectNode exporter = m.putObject("exporter");
        exporter.put("git_commit", commit);
        exporter.put("java", Provenance.javaVersion());
        exporter.put("created_utc", Instant.now().toString());
        built.variant().patchSite().ifPresentOrElse(site -> {
            m.put("head_specific_patch", site.headSpecific());
            m.put("actual_patch_scope", site.actualPatchScope());
            m.put("patch_rule", "h' = h * (1 - patch_mask) + patch_mask * patch_value, per row and position"
                    + (site.headSpecific() ? " and head" : "") + "; exact at mask 0 and 1");
        }, () -> m.putNull("actual_patch_scope"));
        m.put("batching", "right padding; final_index[b] is each row's last real token; never left padding");
        m.put("logit_frame", "centred over the vocabulary, as TransformerLens' center_unembed: "
                + "L_tl = L_hf - mean_v(L_hf); differences, probabilities and ranks equal Hugging Face's");
        ObjectNode z = m.putObject("z_frame");
        z.put("graph_frame", "raw (Hugging Face): hook_z includes the value bias");
        z.put("transformer_lens_frame", "z_TL = z_raw - bV_eff[layer][head], bV_eff = ln_1.bias . W_v[head] + b_v[head]");
        z.put("zero_ablation_tl", "set z_raw := bV_eff[layer][head] (the reference's meaning of zero ablation)");
        z.put("zero_ablation_raw", "set z_raw := 0");
        z.set("bV_eff", bvEff);
        m.put("residual_frame", "raw (Hugging Face); TransformerLens' centred writing weights remove the d_model mean, "
                + "which every downstream LayerNorm ignores, so full-vector patches are equivalent");
        m.set("inputs", ioArray(built.inputs()));
        m.set("outputs", ioArray(built.outputs()));
        extra.forEach((k, v) -> m.set(k, JSON.valueToTree(v)));
        return m;
    }

    private static ArrayNode ioArray(List<IoSpec> specs) {
        ArrayNode a = JSON.createArrayNode();
        for (IoSpec s : specs) a.add(JSON.valueToTree(s));
        return a;
    }

    /** bV_eff[l][h][i] = sum_r ln_1.bias[r] W_v[r, h*dh+i] + b_v[h*dh+i], in double. */
    static ArrayNode valueBiasEffective(Checkpoint ckpt) {
        ModelConfig c = ckpt.config();
        int d = c.dModel(), H = c.nHead(), dh = c.dHead();
        ArrayNode layers = JSON.createArrayNode();
        for (int l = 0; l < c.nLayer(); l++) {
            FloatBuffer lnB = ckpt.floats(Gpt2Tensors.ln1B(l)), w = ckpt.floats(Gpt2Tensors.attnW(l)),
                    b = ckpt.floats(Gpt2Tensors.attnB(l));
            double[] acc = new double[d];
            for (int i = 0; i < d; i++) acc[i] = b.get(2 * d + i);
            for (int r = 0; r < d; r++) {
                double lb = lnB.get(r);
                if (lb == 0) continue;
                for (int i = 0; i < d; i++) acc[i] += lb * w.get(r * 3 * d + 2 * d + i);
            }
            ArrayNode heads = layers.addArray();
            for (int h = 0; h < H; h++) {
                ArrayNode vec = heads.addArray();
                for (int i = 0; i < dh; i++) vec.add((float) acc[h * dh + i]);
            }
        }
        return layers;
    }

    private static String toJson(ObjectNode m) {
        try {
            return JSON.writeValueAsString(m) + "\n";
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static List<GraphVariant> allVariants() {
        return new ArrayList<>(List.of(GraphVariant.values()));
    }
}
