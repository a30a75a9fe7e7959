package org.milab.tokenizer;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import org.milab.util.UserError;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

/**
 * A tokenizer loaded from a local Hugging Face {@code tokenizer.json} through DJL, configured to behave
 * like TransformerLens's use of the GPT-2 tokenizer: no special tokens added by the library, no
 * truncation, no padding. The BOS token is prepended explicitly by {@link #encodeWithBos}.
 * Holds a native handle: close it when done.
 */
public final class Tokenizer implements AutoCloseable {
    public static final String BOS_TOKEN = Gpt2TokenizerJson.END_OF_TEXT;

    static {
        // DJL reads both at call time, environment variable first, then system property. Offline mode
        // also stops telemetry, and makes DJL use the CPU native library bundled in its jar instead of
        // trying to download a CUDA build of it on GPU machines. An explicit user setting wins.
        setIfAbsent("OPT_OUT_TRACKING", "true");
        setIfAbsent("ai.djl.offline", "true");
    }

    private final HuggingFaceTokenizer hf;
    private final Path source;
    private final int bosId;
    private final int vocabSize;
    /** The id of the model's unknown token ({@code model.unk_token}), -1 when it has none (GPT-2's byte-level BPE). */
    private final int unkId;

    private Tokenizer(HuggingFaceTokenizer hf, Path source, int bosId, int vocabSize, int unkId) {
        this.hf = hf;
        this.source = source;
        this.bosId = bosId;
        this.vocabSize = vocabSize;
        this.unkId = unkId;
    }

    /** Loads {@code tokenizerJson}; it must define {@value #BOS_TOKEN} as an added token. */
    public static Tokenizer load(Path tokenizerJson) {
        if (!Files.isRegularFile(tokenizerJson)) {
            throw new UserError("Tokenizer file " + tokenizerJson + " not found.",
                    "Run `make export` to build the graphs folder (it writes tokenizer.json), or pass the right folder.");
        }
        JsonNode json;
        try {
            json = TokenizerJson.MAPPER.readTree(tokenizerJson.toFile());
        } catch (IOException e) {
            throw new UserError("Tokenizer file " + tokenizerJson + " is not valid JSON: " + e.getMessage(),
                    "Rebuild it with `make export`.", e);
        }
        int bos = -1;
        int size = json.path("model").path("vocab").size();
        for (JsonNode added : json.path("added_tokens")) {
            int id = added.path("id").asInt();
            size = Math.max(size, id + 1);
            if (BOS_TOKEN.equals(added.path("content").asText())) bos = id;
        }
        if (bos < 0) {
            throw new UserError("Tokenizer file " + tokenizerJson + " has no " + BOS_TOKEN + " added token.",
                    "Rebuild it with `make export`.");
        }
        HuggingFaceTokenizer hf;
        try {
            hf = HuggingFaceTokenizer.builder()
                    .optTokenizerPath(tokenizerJson)
                    .optAddSpecialTokens(false) // TransformerLens prepends BOS itself; the file's post-processor adds nothing
                    .optTruncation(false)       // DJL's default truncates to 512 tokens
                    .optPadding(false)
                    .build();
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot load tokenizer " + tokenizerJson + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            throw new UserError("Tokenizer file " + tokenizerJson + " could not be loaded: " + e.getMessage(),
                    "Rebuild it with `make export`.", e);
        }
        String unk = json.path("model").path("unk_token").asText(null);
        JsonNode unkVocab = unk == null ? null : json.path("model").path("vocab").get(unk);
        int unkId = unkVocab != null && unkVocab.isInt() ? unkVocab.asInt() : -1;
        return new Tokenizer(hf, tokenizerJson, bos, size, unkId);
    }

    /** Whether {@code id} is the unknown token (what a word outside the vocabulary becomes). */
    public boolean isUnknown(int id) {
        return unkId >= 0 && id == unkId;
    }

    /** The whitespace-separated words of {@code text} that encode to the unknown token, in order, once each. */
    public List<String> unknownWords(String text) {
        if (unkId < 0) return List.of();
        java.util.Set<String> out = new java.util.LinkedHashSet<>();
        for (String w : text.strip().split("\\s+"))
            if (!w.isEmpty() && Arrays.stream(encode(w)).anyMatch(this::isUnknown)) out.add(w);
        return List.copyOf(out);
    }

    /** Token ids of {@code text}, nothing added or cut. */
    public int[] encode(String text) {
        Encoding encoding = hf.encode(text, false, false);
        return Arrays.stream(encoding.getIds()).mapToInt(Math::toIntExact).toArray();
    }

    /** {@code [bos] + encode(prompt)}, as TransformerLens's {@code to_tokens(prompt)} with {@code prepend_bos=True}. */
    public int[] encodeWithBos(String prompt) {
        int[] ids = encode(prompt);
        int[] out = new int[ids.length + 1];
        out[0] = bosId;
        System.arraycopy(ids, 0, out, 1, ids.length);
        return out;
    }

    /**
     * Text of {@code ids}; special tokens are kept, as Hugging Face's {@code decode} does by default. (DJL's
     * one-argument {@code decode} would drop them when special tokens are not added on encode.)
     */
    public String decode(int[] ids) {
        for (int id : ids) {
            if (id < 0 || id >= vocabSize) throw new IllegalArgumentException("Token id " + id + " outside [0, " + vocabSize + ")");
        }
        return hf.decode(Arrays.stream(ids).asLongStream().toArray(), false);
    }

    /** The text of one token, e.g. {@code " D"} for GPT-2 id 360. */
    public String tokenText(int id) {
        return decode(new int[] {id});
    }

    public int bosId() {
        return bosId;
    }

    /** Number of ids (model vocabulary plus added tokens), 50257 for GPT-2. */
    public int vocabSize() {
        return vocabSize;
    }

    public Path source() {
        return source;
    }

    public boolean isSingleToken(String text) {
        return encode(text).length == 1;
    }

    /**
     * The id of {@code text} if it is exactly one token. Target and wrong tokens of the metrics must be,
     * otherwise the stage stops with a message that shows how the text splits.
     */
    public int singleTokenId(String text) {
        int[] ids = encode(text);
        if (ids.length == 1) return ids[0];
        String pieces = Arrays.stream(ids).mapToObj(id -> "'" + tokenText(id) + "'").collect(Collectors.joining(", "));
        throw new UserError("Target '" + text + "' is not a single token for this model's tokenizer (it encodes to "
                + ids.length + " tokens" + (ids.length == 0 ? "" : ": " + pieces) + ").",
                "Choose a target that is one token, usually a common word with a leading space such as ' D' or ' yellow'.");
    }

    @Override
    public void close() {
        hf.close();
    }

    private static void setIfAbsent(String key, String value) {
        if (System.getProperty(key) == null) System.setProperty(key, value);
    }
}
