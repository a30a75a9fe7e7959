package org.milab.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.milab.util.Json;

/**
 * The GPT-2 architecture hyper-parameters, read from a Hugging Face {@code config.json}.
 * Only the fields that change the computation are kept; everything else in the file is ignored.
 *
 * @param nLayer           number of transformer blocks
 * @param nHead            attention heads per block
 * @param dModel           residual width ({@code n_embd})
 * @param vocabSize        rows of the token embedding
 * @param nPositions       rows of the position embedding (maximum prompt length)
 * @param layerNormEpsilon epsilon of every LayerNorm
 * @param activation       MLP activation; only {@code gelu_new} (tanh approximation) is supported
 * @param tiedEmbeddings   true when the unembedding is {@code wte.weight} transposed
 * @param nInner           MLP hidden width ({@code n_inner}; Hugging Face's null means 4 * n_embd)
 */
public record ModelConfig(int nLayer, int nHead, int dModel, int vocabSize, int nPositions,
                          double layerNormEpsilon, String activation, boolean tiedEmbeddings, int nInner) {

    /** A config with the default MLP width of 4 * d_model. */
    public ModelConfig(int nLayer, int nHead, int dModel, int vocabSize, int nPositions,
                       double layerNormEpsilon, String activation, boolean tiedEmbeddings) {
        this(nLayer, nHead, dModel, vocabSize, nPositions, layerNormEpsilon, activation, tiedEmbeddings, 4 * dModel);
    }

    public static final String GELU_TANH = "gelu_new";

    public ModelConfig {
        List<String> problems = new ArrayList<>();
        if (nLayer < 1) problems.add("n_layer must be >= 1 (got " + nLayer + ")");
        if (nHead < 1) problems.add("n_head must be >= 1 (got " + nHead + ")");
        if (dModel < 1) problems.add("n_embd must be >= 1 (got " + dModel + ")");
        if (nHead >= 1 && dModel % nHead != 0)
            problems.add("n_embd (" + dModel + ") must be divisible by n_head (" + nHead + ")");
        if (vocabSize < 2) problems.add("vocab_size must be >= 2 (got " + vocabSize + ")");
        if (nPositions < 1) problems.add("n_positions must be >= 1 (got " + nPositions + ")");
        if (nInner < 1) problems.add("n_inner must be >= 1 (got " + nInner + ")");
        if (!(layerNormEpsilon > 0)) problems.add("layer_norm_epsilon must be > 0 (got " + layerNormEpsilon + ")");
        if (!GELU_TANH.equals(activation) && !"gelu_pytorch_tanh".equals(activation))
            problems.add("activation_function must be gelu_new (tanh GELU), got " + activation);
        if (!problems.isEmpty())
            throw new IllegalArgumentException("Invalid GPT-2 config: " + String.join("; ", problems)
                    + ". Fix config.json so that it describes a GPT-2 architecture model.");
    }

    public int dHead() {
        return dModel / nHead;
    }

    public int dMlp() {
        return nInner;
    }

    /** The shape of GPT-2 small (124M): used for synthetic benchmark checkpoints. */
    public static ModelConfig gpt2Small() {
        return new ModelConfig(12, 12, 768, 50257, 1024, 1e-5, GELU_TANH, true);
    }

    public static ModelConfig read(Path configJson) {
        try {
            return fromJson(Json.MAPPER.readTree(Files.readString(configJson)));
        } catch (IOException e) {
            throw new IllegalArgumentException("Cannot read model config " + configJson + ": " + e.getMessage()
                    + ". Supply the config.json that belongs to the checkpoint.", e);
        }
    }

    public static ModelConfig fromJson(JsonNode n) {
        String act = n.path("activation_function").asText(GELU_TANH);
        boolean tied = n.path("tie_word_embeddings").asBoolean(true);
        int d = req(n, "n_embd");
        JsonNode inner = n.get("n_inner");
        int nInner = inner == null || inner.isNull() ? 4 * d : inner.asInt();
        return new ModelConfig(
                req(n, "n_layer"), req(n, "n_head"), d, req(n, "vocab_size"),
                req(n, "n_positions"), n.path("layer_norm_epsilon").asDouble(1e-5), act, tied, nInner);
    }

    private static int req(JsonNode n, String field) {
        JsonNode v = n.get(field);
        if (v == null || !v.canConvertToInt())
            throw new IllegalArgumentException("config.json lacks integer field '" + field
                    + "'. Supply the config.json that belongs to the checkpoint.");
        return v.asInt();
    }

    /** A config.json in the Hugging Face GPT-2 layout (enough for {@link #fromJson} and for transformers). */
    public ObjectNode toJson() {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.putArray("architectures").add("GPT2LMHeadModel");
        o.put("model_type", "gpt2");
        o.put("n_layer", nLayer);
        o.put("n_head", nHead);
        o.put("n_embd", dModel);
        o.put("vocab_size", vocabSize);
        o.put("n_positions", nPositions);
        o.put("n_ctx", nPositions);
        o.put("layer_norm_epsilon", layerNormEpsilon);
        o.put("activation_function", activation);
        o.put("tie_word_embeddings", tiedEmbeddings);
        if (nInner == 4 * dModel) o.putNull("n_inner");
        else o.put("n_inner", nInner);
        return o;
    }
}
