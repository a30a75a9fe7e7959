package org.milab.model;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.milab.util.UserError;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.milab.util.Json;

/**
 * A GPT-2 checkpoint read from a {@code .safetensors} file through memory mapping, so a 550 MB file never
 * lands on the heap. F32 tensors are handed out as little-endian views of the mapping (no copy); F16 and
 * BF16 tensors are converted to a fresh float32 heap buffer on every access.
 *
 * <p>Everything is validated at {@link #open}: the header structure (offsets contiguous, in range, sized
 * as dtype x shape), and the tensor set against {@link Gpt2Tensors#expectedShapes}. A {@code transformer.}
 * prefix is stripped and causal-mask buffers are ignored. Every problem is a {@link UserError} naming the
 * file, the tensor and the fix.
 */
public final class SafetensorsFile implements Checkpoint {
    /** The reference implementation refuses larger headers too; guards against reading garbage as a length. */
    static final long MAX_HEADER_BYTES = 100L << 20;

    private static final ObjectMapper JSON = Json.MAPPER.copy()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    /** Element sizes of every dtype in the safetensors format, so buffers of any type can be size-checked. */
    private static final Map<String, Integer> ELEMENT_BYTES = Map.ofEntries(
            Map.entry("BOOL", 1), Map.entry("U8", 1), Map.entry("I8", 1), Map.entry("F8_E5M2", 1),
            Map.entry("F8_E4M3", 1), Map.entry("F8_E8M0", 1), Map.entry("I16", 2), Map.entry("U16", 2),
            Map.entry("F16", 2), Map.entry("BF16", 2), Map.entry("I32", 4), Map.entry("U32", 4),
            Map.entry("F32", 4), Map.entry("F64", 8), Map.entry("I64", 8), Map.entry("U64", 8),
            Map.entry("C64", 8));

    private static final String REDOWNLOAD = "The file is corrupt or incomplete: delete it and download it again "
            + "(or copy it again from its source).";

    private record Header(Map<String, TensorInfo> tensors, Map<String, String> metadata) {}

    private record Slot(TensorInfo info, Dtype dtype, ByteBuffer bytes) {}

    private final Path file;
    private final ModelConfig config;
    private final Map<String, long[]> shapes;
    private final Map<String, String> metadata;
    private volatile Map<String, Slot> slots; // null once closed: drops the last references to the mappings

    private SafetensorsFile(Path file, ModelConfig config, Map<String, Slot> slots, Map<String, String> metadata) {
        this.file = file;
        this.config = config;
        this.shapes = Gpt2Tensors.expectedShapes(config);
        this.slots = slots;
        this.metadata = metadata;
    }

    /**
     * Opens and validates a GPT-2 checkpoint.
     *
     * @throws UserError if the file is missing, corrupt, or does not match {@code config}
     */
    public static SafetensorsFile open(Path file, ModelConfig config) {
        Header header = parseHeader(file);
        Map<String, TensorInfo> params = selectParameters(file, header.tensors(), config);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            Map<String, Slot> slots = new LinkedHashMap<>();
            for (Map.Entry<String, TensorInfo> e : params.entrySet()) {
                TensorInfo t = e.getValue();
                // one mapping per tensor: no 2 GiB limit on the file, only on a single tensor
                MappedByteBuffer mapped = ch.map(FileChannel.MapMode.READ_ONLY, t.begin(), t.byteLength());
                mapped.order(ByteOrder.LITTLE_ENDIAN);
                slots.put(e.getKey(), new Slot(t, t.floatType().orElseThrow(), mapped));
            }
            checkTiedHead(file, header.tensors(), config, slots, ch);
            return new SafetensorsFile(file, config, Collections.unmodifiableMap(slots), header.metadata());
        } catch (IOException e) {
            throw new UserError("Cannot map the checkpoint " + file + ": " + e.getMessage() + ".",
                    "Check that the file is readable and on a local disk with enough address space.", e);
        }
    }

    /**
     * Reads and checks the header of any safetensors file (no GPT-2 rules applied): tensors by stored name,
     * in header order, {@code __metadata__} excluded.
     *
     * @throws UserError if the file is not a well-formed safetensors file
     */
    public static Map<String, TensorInfo> readHeader(Path file) {
        return parseHeader(file).tensors();
    }

    public Path file() {
        return file;
    }

    /** The {@code __metadata__} string map of the header (empty when absent). */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** The stored dtype of a parameter. */
    public Dtype dtype(String name) {
        return slot(name).dtype();
    }

    @Override public ModelConfig config() { return config; }

    @Override public Set<String> names() { return shapes.keySet(); }

    @Override
    public long[] shape(String name) {
        return slot(name).info().shape();
    }

    @Override
    public FloatBuffer floats(String name) {
        Slot s = slot(name);
        if (s.dtype() == Dtype.F32)
            return s.bytes().duplicate().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
        return FloatBuffer.wrap(convert(s)).asReadOnlyBuffer();
    }

    @Override
    public float[] array(String name) {
        Slot s = slot(name);
        if (s.dtype() != Dtype.F32) return convert(s);
        FloatBuffer b = floats(name);
        float[] out = new float[b.remaining()];
        b.get(out);
        return out;
    }

    /** Drops the references to the mappings (the OS unmaps them once they are collected); later access throws. */
    @Override
    public void close() {
        slots = null;
    }

    private Slot slot(String name) {
        Map<String, Slot> s = slots;
        if (s == null) throw new IllegalStateException("Checkpoint " + file + " is closed");
        Slot slot = s.get(name);
        if (slot == null) throw new IllegalArgumentException("No tensor '" + name + "' in checkpoint " + file);
        return slot;
    }

    private static float[] convert(Slot s) {
        ByteBuffer b = s.bytes().duplicate().order(ByteOrder.LITTLE_ENDIAN);
        float[] out = new float[Math.toIntExact(s.info().numel())];
        for (int i = 0; i < out.length; i++) {
            short v = b.getShort(2 * i);
            out[i] = s.dtype() == Dtype.F16 ? Dtype.halfToFloat(v) : Dtype.bf16ToFloat(v);
        }
        return out;
    }

    // ---------------------------------------------------------------- header

    private static Header parseHeader(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8)
                throw corrupt(file, null, "is only " + size + " bytes long, too short for the 8-byte header length");
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, lenBuf, 0);
            long n = lenBuf.getLong(0);
            if (n < 2 || n > size - 8 || n > MAX_HEADER_BYTES)
                throw corrupt(file, null, "declares a JSON header of " + Long.toUnsignedString(n)
                        + " bytes but the file has " + size + " bytes (a truncated download, a Git LFS pointer"
                        + " or an HTML error page saved under this name look like this)");
            ByteBuffer hb = ByteBuffer.allocate((int) n);
            readFully(ch, hb, 8);
            return parseJson(file, hb.flip(), size - 8 - n, 8 + n);
        } catch (NoSuchFileException e) {
            throw new UserError("Checkpoint file " + file + " does not exist.",
                    "Pass the path of a GPT-2 model.safetensors (WEIGHTS=/path/model.safetensors) or let the"
                            + " tool download it.", e);
        } catch (IOException e) {
            throw new UserError("Cannot read checkpoint " + file + ": " + e.getMessage() + ".",
                    "Check the path and its permissions.", e);
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer dst, long pos) throws IOException {
        while (dst.hasRemaining()) {
            int r = ch.read(dst, pos);
            if (r < 0) throw new IOException("unexpected end of file");
            pos += r;
        }
    }

    private static Header parseJson(Path file, ByteBuffer headerBytes, long dataLen, long dataStart) {
        JsonNode root;
        try {
            String text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .decode(headerBytes).toString();
            root = JSON.readTree(text);
        } catch (CharacterCodingException e) {
            throw corrupt(file, null, "has a header that is not UTF-8 text");
        } catch (JsonProcessingException e) {
            throw corrupt(file, null, "has a header that is not valid JSON (" + e.getOriginalMessage() + ")");
        }
        if (root == null || !root.isObject())
            throw corrupt(file, null, "has a header that is not a JSON object");

        Map<String, String> metadata = new LinkedHashMap<>();
        Map<String, TensorInfo> tensors = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (e.getKey().equals("__metadata__")) {
                readMetadata(file, e.getValue(), metadata);
            } else {
                tensors.put(e.getKey(), readEntry(file, e.getKey(), e.getValue(), dataLen, dataStart));
            }
        }
        checkLayout(file, tensors.values(), dataLen, dataStart);
        return new Header(Collections.unmodifiableMap(tensors), Collections.unmodifiableMap(metadata));
    }

    private static void readMetadata(Path file, JsonNode node, Map<String, String> out) {
        if (!node.isObject()) throw corrupt(file, null, "has a __metadata__ entry that is not a JSON object");
        node.fields().forEachRemaining(m -> {
            if (!m.getValue().isTextual())
                throw corrupt(file, null, "has a non-string __metadata__ value for key '" + m.getKey() + "'");
            out.put(m.getKey(), m.getValue().asText());
        });
    }

    private static TensorInfo readEntry(Path file, String name, JsonNode n, long dataLen, long dataStart) {
        if (!n.isObject() || !n.path("dtype").isTextual() || !n.path("shape").isArray()
                || !n.path("data_offsets").isArray() || n.get("data_offsets").size() != 2)
            throw corrupt(file, name, "has a malformed header entry (needs dtype, shape and two data_offsets)");
        String dtype = n.get("dtype").asText();
        Integer elem = ELEMENT_BYTES.get(dtype);
        if (elem == null)
            throw corrupt(file, name, "has unknown dtype '" + dtype + "'");
        long[] shape = new long[n.get("shape").size()];
        for (int i = 0; i < shape.length; i++) shape[i] = nonNegativeLong(file, name, n.get("shape").get(i), "shape");
        long begin = nonNegativeLong(file, name, n.get("data_offsets").get(0), "data_offsets");
        long end = nonNegativeLong(file, name, n.get("data_offsets").get(1), "data_offsets");
        if (end < begin)
            throw corrupt(file, name, "has data_offsets [" + begin + ", " + end + "] that end before they begin");
        if (end > dataLen)
            throw corrupt(file, name, "has data_offsets [" + begin + ", " + end + "] past the end of the data ("
                    + dataLen + " bytes): the file is truncated or its header is wrong");
        long expected;
        try {
            expected = Math.multiplyExact(Arrays.stream(shape).reduce(1, Math::multiplyExact), (long) elem);
        } catch (ArithmeticException overflow) {
            throw corrupt(file, name, "has an impossibly large shape " + Arrays.toString(shape));
        }
        if (end - begin != expected)
            throw corrupt(file, name, "occupies " + (end - begin) + " bytes but " + dtype + Arrays.toString(shape)
                    + " needs " + expected);
        return new TensorInfo(name, dtype, shape, dataStart + begin, dataStart + end);
    }

    private static long nonNegativeLong(Path file, String name, JsonNode v, String field) {
        if (v == null || !v.isIntegralNumber() || !v.canConvertToLong() || v.asLong() < 0)
            throw corrupt(file, name, "has a " + field + " value that is not a non-negative integer: " + v);
        return v.asLong();
    }

    /** The data section must be covered exactly once, without holes, overlaps or trailing bytes. */
    private static void checkLayout(Path file, Iterable<TensorInfo> tensors, long dataLen, long dataStart) {
        List<TensorInfo> sorted = new ArrayList<>();
        tensors.forEach(sorted::add);
        sorted.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
        long pos = dataStart;
        TensorInfo prev = null;
        for (TensorInfo t : sorted) {
            if (t.begin() < pos)
                throw corrupt(file, t.name(), "overlaps tensor '" + prev.name() + "' in the data section");
            if (t.begin() > pos)
                throw corrupt(file, t.name(), "starts at data offset " + (t.begin() - dataStart)
                        + " leaving a hole after offset " + (pos - dataStart));
            pos = t.end();
            prev = t;
        }
        if (pos != dataStart + dataLen)
            throw corrupt(file, null, "has " + (dataStart + dataLen - pos) + " bytes after the last tensor");
    }

    // ---------------------------------------------------------------- GPT-2 rules

    private static Map<String, TensorInfo> selectParameters(Path file, Map<String, TensorInfo> stored, ModelConfig c) {
        Map<String, long[]> expected = Gpt2Tensors.expectedShapes(c);
        Map<String, TensorInfo> found = new LinkedHashMap<>();
        Map<String, String> storedNameOf = new LinkedHashMap<>();
        String mismatch = "Check that the file is a GPT-2 checkpoint and that config.json beside it (n_layer="
                + c.nLayer() + ", n_embd=" + c.dModel() + ", vocab_size=" + c.vocabSize() + ", n_positions="
                + c.nPositions() + ", tie_word_embeddings=" + c.tiedEmbeddings() + ") is the one that belongs to it.";
        for (TensorInfo t : stored.values()) {
            String canon = Gpt2Tensors.canonical(t.name());
            String before = storedNameOf.put(canon, t.name());
            if (before != null)
                throw new UserError("Checkpoint " + file + " stores tensor '" + canon + "' twice (as '" + before
                        + "' and '" + t.name() + "').", REDOWNLOAD);
            if (Gpt2Tensors.isBuffer(canon)) continue;
            if (canon.equals(Gpt2Tensors.LM_HEAD) && c.tiedEmbeddings()) continue; // checked after mapping
            long[] want = expected.get(canon);
            if (want == null)
                throw new UserError("Checkpoint " + file + " contains tensor '" + t.name()
                        + "', which a GPT-2 model with this config does not have.", mismatch);
            if (t.floatType().isEmpty())
                throw new UserError("Tensor '" + t.name() + "' in " + file + " has dtype " + t.dtype()
                        + "; only F32, F16 and BF16 parameters are supported.",
                        "Convert the checkpoint to float32, float16 or bfloat16 safetensors.");
            if (!Arrays.equals(want, t.shape()))
                throw new UserError("Tensor '" + t.name() + "' in " + file + " has shape "
                        + Arrays.toString(t.shape()) + " but the config expects " + Arrays.toString(want) + ".",
                        mismatch);
            found.put(canon, t);
        }
        List<String> missing = expected.keySet().stream().filter(k -> !found.containsKey(k)).toList();
        if (!missing.isEmpty()) {
            String hint = missing.equals(List.of(Gpt2Tensors.LM_HEAD))
                    ? "The file has no lm_head.weight: set tie_word_embeddings=true in config.json, or supply the"
                    + " untied checkpoint." : mismatch + " " + REDOWNLOAD;
            throw new UserError("Checkpoint " + file + " lacks tensor '" + missing.get(0) + "'"
                    + (missing.size() > 1 ? " and " + (missing.size() - 1) + " more" : "") + ".", hint);
        }
        Map<String, TensorInfo> ordered = new LinkedHashMap<>();
        expected.keySet().forEach(k -> ordered.put(k, found.get(k)));
        return ordered;
    }

    /** A tied config tolerates a stored lm_head only when it is byte-for-byte the token embedding. */
    private static void checkTiedHead(Path file, Map<String, TensorInfo> stored, ModelConfig c,
                                      Map<String, Slot> slots, FileChannel ch) throws IOException {
        if (!c.tiedEmbeddings()) return;
        TensorInfo head = stored.values().stream()
                .filter(t -> Gpt2Tensors.canonical(t.name()).equals(Gpt2Tensors.LM_HEAD)).findFirst().orElse(null);
        if (head == null) return;
        Slot wte = slots.get(Gpt2Tensors.WTE);
        boolean same = head.dtype().equals(wte.info().dtype()) && Arrays.equals(head.shape(), wte.info().shape())
                && ch.map(FileChannel.MapMode.READ_ONLY, head.begin(), head.byteLength()).equals(wte.bytes().duplicate());
        if (!same)
            throw new UserError("Checkpoint " + file + " has its own '" + head.name() + "' that differs from"
                    + " wte.weight, but config.json says the embeddings are tied.",
                    "Set \"tie_word_embeddings\": false in config.json so the separate unembedding is used.");
    }

    private static UserError corrupt(Path file, String tensor, String problem) {
        String who = tensor == null ? "Safetensors file " + file : "Tensor '" + tensor + "' in " + file;
        return new UserError(who + " " + problem + ".", REDOWNLOAD);
    }
}
