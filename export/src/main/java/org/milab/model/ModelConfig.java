package org.milab.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

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
 */
public record ModelConfig(int nLayer, int nHead, int dModel, int vocabSize, int nPositions,
                          double layerNormEpsilon, String activation, boolean tiedEmbeddings) {

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
        return 4 * dModel;
    }

    /** The shape of GPT-2 small (124M): used for synthetic benchmark checkpoints. */
    public static ModelConfig gpt2Small() {
        return new ModelConfig(12, 12, 768, 50257, 1024, 1e-5, GELU_TANH, true);
    }

    public static ModelConfig read(Path configJson) {
        try {
            return fromJson(new ObjectMapper().readTree(Files.readString(configJson)));
        } catch (IOException e) {
            throw new IllegalArgumentException("Cannot read model config " + configJson + ": " + e.getMessage()
                    + ". Supply the config.json that belongs to the checkpoint.", e);
        }
    }

    public static ModelConfig fromJson(JsonNode n) {
        String act = n.path("activation_function").asText(GELU_TANH);
        boolean tied = n.path("tie_word_embeddings").asBoolean(true);
        return new ModelConfig(
                req(n, "n_layer"), req(n, "n_head"), req(n, "n_embd"), req(n, "vocab_size"),
                req(n, "n_positions"), n.path("layer_norm_epsilon").asDouble(1e-5), act, tied);
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
        ObjectNode o = new ObjectMapper().createObjectNode();
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
        return o;
    }
}
