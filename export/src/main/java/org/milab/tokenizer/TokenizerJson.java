package org.milab.tokenizer;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.Map;
import org.milab.util.Json;

/**
 * The parts of a Hugging Face {@code tokenizer.json} (format version 1.0) that every tokenizer we build
 * shares: the top-level layout and the special added token. The model-specific builders fill in the
 * pipeline stages and the model.
 */
final class TokenizerJson {
    static final ObjectMapper MAPPER = Json.MAPPER;
    static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    private TokenizerJson() {}

    /**
     * A tokenizer.json root with one special added token. Keys are in the order the {@code tokenizers}
     * library writes them, so the files diff cleanly against library-written ones. Truncation and
     * padding are null: the file itself never cuts or pads a prompt.
     */
    static ObjectNode root(int specialId, String specialContent, boolean specialNormalized) {
        ObjectNode root = NODES.objectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        ObjectNode token = added.addObject();
        token.put("id", specialId);
        token.put("content", specialContent);
        token.put("single_word", false);
        token.put("lstrip", false);
        token.put("rstrip", false);
        token.put("normalized", specialNormalized);
        token.put("special", true);
        root.putNull("normalizer");
        root.putNull("pre_tokenizer");
        root.putNull("post_processor");
        root.putNull("decoder");
        root.putNull("model");
        return root;
    }

    /** {@code {"token": id, ...}} in the iteration order of {@code vocab} (callers pass id order). */
    static ObjectNode vocabNode(Map<String, Integer> vocab) {
        ObjectNode node = NODES.objectNode();
        vocab.forEach(node::put);
        return node;
    }

    static String write(ObjectNode root) {
        try {
            return Json.COMPACT.writeValueAsString(root);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("Cannot serialize tokenizer.json", e);
        }
    }
}
