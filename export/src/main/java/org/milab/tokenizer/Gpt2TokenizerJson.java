package org.milab.tokenizer;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.milab.util.AtomicFiles;
import org.milab.util.Hashing;
import org.milab.util.UserError;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Builds the Hugging Face {@code tokenizer.json} of GPT-2's byte-level BPE from OpenAI's original
 * {@code encoder.json} (token -> id) and {@code vocab.bpe} (merge rules), the same content the
 * {@code openai-community/gpt2} repository ships. Only the two known file versions are accepted
 * (checked by sha256), so the ids always match the reference run.
 */
public final class Gpt2TokenizerJson {
    public static final String ENCODER_FILE = "encoder.json";
    public static final String MERGES_FILE = "vocab.bpe";
    /** From shared/gpt2/README.md. */
    public static final String ENCODER_SHA256 = "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783";
    public static final String MERGES_SHA256 = "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5";
    public static final String END_OF_TEXT = "<|endoftext|>";
    public static final int VOCAB_SIZE = 50257;
    public static final int END_OF_TEXT_ID = 50256;

    private Gpt2TokenizerJson() {}

    /** Builds from {@code dir/encoder.json} and {@code dir/vocab.bpe}. */
    public static String build(Path gpt2Dir) {
        return build(gpt2Dir.resolve(ENCODER_FILE), gpt2Dir.resolve(MERGES_FILE));
    }

    public static String build(Path encoderJson, Path vocabBpe) {
        verify(encoderJson, ENCODER_SHA256);
        verify(vocabBpe, MERGES_SHA256);
        Map<String, Integer> vocab = readVocab(encoderJson);
        List<String> merges = readMerges(vocabBpe);

        // GPT-2's layout as the tokenizers library writes it: no normalizer, byte-level pre-tokenizer
        // with the GPT-2 regex and no prefix space (TransformerLens never adds one), byte-level decoder.
        ObjectNode root = TokenizerJson.root(END_OF_TEXT_ID, END_OF_TEXT, true);
        root.set("pre_tokenizer", byteLevel(false, true));
        root.set("post_processor", byteLevel(true, false));
        root.set("decoder", byteLevel(true, true));
        ObjectNode model = TokenizerJson.NODES.objectNode();
        model.put("type", "BPE");
        model.putNull("dropout");
        model.putNull("unk_token");
        model.put("continuing_subword_prefix", "");
        model.put("end_of_word_suffix", "");
        model.put("fuse_unk", false);
        model.put("byte_fallback", false);
        model.set("vocab", TokenizerJson.vocabNode(vocab));
        ArrayNode mergeArray = model.putArray("merges");
        merges.forEach(mergeArray::add);
        root.set("model", model);
        return TokenizerJson.write(root);
    }

    /** Builds from {@code gpt2Dir} and writes {@code target} atomically. */
    public static void write(Path gpt2Dir, Path target) {
        AtomicFiles.writeString(target, build(gpt2Dir));
    }

    private static ObjectNode byteLevel(boolean addPrefixSpace, boolean trimOffsets) {
        ObjectNode node = TokenizerJson.NODES.objectNode();
        node.put("type", "ByteLevel");
        node.put("add_prefix_space", addPrefixSpace);
        node.put("trim_offsets", trimOffsets);
        node.put("use_regex", true);
        return node;
    }

    private static void verify(Path file, String expectedSha256) {
        String name = file.getFileName().toString();
        String fix = "Use the original GPT-2 BPE files (shared/gpt2/README.md lists their sizes and sha256).";
        if (!Files.isRegularFile(file)) {
            throw new UserError("GPT-2 tokenizer file " + name + " not found at " + file + ".", fix);
        }
        String actual = Hashing.sha256(file);
        if (!actual.equals(expectedSha256)) {
            throw new UserError("GPT-2 tokenizer file " + name + " at " + file + " has sha256 " + actual
                    + " but the expected " + name + " has " + expectedSha256 + ".", fix);
        }
    }

    /** Token -> id, returned in id order; the ids must be exactly 0..VOCAB_SIZE-1. */
    private static Map<String, Integer> readVocab(Path encoderJson) {
        Map<String, Integer> raw;
        try {
            raw = TokenizerJson.MAPPER.readValue(encoderJson.toFile(), new TypeReference<LinkedHashMap<String, Integer>>() {});
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot read " + encoderJson + ": " + e.getMessage(), e);
        }
        TreeMap<Integer, String> byId = new TreeMap<>();
        raw.forEach((token, id) -> {
            if (byId.put(id, token) != null) throw new IllegalStateException("Duplicate id " + id + " in " + encoderJson);
        });
        if (byId.size() != VOCAB_SIZE || byId.firstKey() != 0 || byId.lastKey() != VOCAB_SIZE - 1
                || !END_OF_TEXT.equals(byId.get(END_OF_TEXT_ID))) {
            throw new IllegalStateException(encoderJson + " is not the GPT-2 vocabulary (ids 0.." + (VOCAB_SIZE - 1) + ")");
        }
        Map<String, Integer> vocab = new LinkedHashMap<>();
        byId.forEach((id, token) -> vocab.put(token, id));
        return vocab;
    }

    /** Merge rules "a b" in priority order, without the {@code #version} header. */
    private static List<String> readMerges(Path vocabBpe) {
        List<String> lines;
        try {
            lines = Files.readAllLines(vocabBpe, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot read " + vocabBpe + ": " + e.getMessage(), e);
        }
        List<String> merges = lines.stream()
                .filter(line -> !line.isBlank() && !line.startsWith("#version"))
                .toList();
        for (String merge : merges) {
            // Byte-level tokens never contain a space (it is mapped to 'Ġ'), so one space separates a pair.
            if (merge.split(" ", -1).length != 2) throw new IllegalStateException("Bad merge rule '" + merge + "' in " + vocabBpe);
        }
        return merges;
    }
}
