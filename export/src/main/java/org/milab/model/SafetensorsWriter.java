package org.milab.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.milab.util.AtomicFiles;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.milab.util.Json;

/**
 * Writes float tensors to a {@code .safetensors} file in one dtype (F32, or F16/BF16 rounded to nearest
 * even). Tensors are stored in the order added; the header is padded with spaces to a multiple of 8 bytes
 * so data starts aligned. The file appears atomically (see {@link AtomicFiles}).
 *
 * <pre>{@code
 * new SafetensorsWriter(Dtype.F16).add("w", new long[]{2, 3}, values).write(path);
 * }</pre>
 */
public final class SafetensorsWriter {
    private static final ObjectMapper JSON = Json.MAPPER;

    private record Entry(long[] shape, float[] data) {}

    private final Dtype dtype;
    private final Map<String, Entry> tensors = new LinkedHashMap<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();

    public SafetensorsWriter(Dtype dtype) {
        this.dtype = dtype;
    }

    /** Adds a tensor; {@code data} is row-major, kept by reference until {@link #write}. */
    public SafetensorsWriter add(String name, long[] shape, float[] data) {
        if (name.equals("__metadata__") || tensors.containsKey(name))
            throw new IllegalArgumentException("Duplicate or reserved tensor name '" + name + "'");
        long n = Arrays.stream(shape).reduce(1, Math::multiplyExact);
        if (n != data.length)
            throw new IllegalArgumentException("Tensor '" + name + "' has " + data.length + " values; shape "
                    + Arrays.toString(shape) + " needs " + n);
        tensors.put(name, new Entry(shape.clone(), data));
        return this;
    }

    /** Adds string pairs to the header's {@code __metadata__} (written only when non-empty). */
    public SafetensorsWriter metadata(Map<String, String> entries) {
        metadata.putAll(entries);
        return this;
    }

    public void write(Path file) {
        byte[] header = header();
        AtomicFiles.write(file, raw -> {
            OutputStream out = new BufferedOutputStream(raw, 1 << 16);
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length);
            out.write(len.array());
            out.write(header);
            for (Entry e : tensors.values()) writeData(out, e.data());
            out.flush();
        });
    }

    /**
     * Writes {@code model.safetensors} and {@code config.json} into {@code dir} as a Hugging Face GPT-2
     * repository holds them. With {@code includeMaskBuffers} each block also gets the {@code h.N.attn.bias}
     * causal mask ({@code [1,1,n_pos,n_pos]}, lower triangle of ones), as the real GPT-2 file does.
     */
    public static void writeCheckpoint(Path dir, InMemoryCheckpoint ckpt, Dtype dtype, boolean includeMaskBuffers) {
        ModelConfig c = ckpt.config();
        SafetensorsWriter w = new SafetensorsWriter(dtype).metadata(Map.of("format", "pt"));
        for (String name : ckpt.names()) w.add(name, ckpt.shape(name), ckpt.raw(name));
        if (includeMaskBuffers) {
            int p = c.nPositions();
            float[] mask = new float[p * p];
            for (int i = 0; i < p; i++) Arrays.fill(mask, i * p, i * p + i + 1, 1f);
            for (int l = 0; l < c.nLayer(); l++)
                w.add(Gpt2Tensors.attnMaskBuffer(l), new long[]{1, 1, p, p}, mask);
        }
        w.write(dir.resolve("model.safetensors"));
        try {
            AtomicFiles.writeString(dir.resolve("config.json"),
                    JSON.writeValueAsString(c.toJson()) + "\n");
        } catch (IOException e) {
            throw new IllegalStateException("Cannot serialise config", e);
        }
    }

    private byte[] header() {
        ObjectNode root = JSON.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode m = root.putObject("__metadata__");
            metadata.forEach(m::put);
        }
        long offset = 0;
        for (Map.Entry<String, Entry> e : tensors.entrySet()) {
            ObjectNode t = root.putObject(e.getKey());
            t.put("dtype", dtype.name());
            Arrays.stream(e.getValue().shape()).forEach(t.putArray("shape")::add);
            long bytes = (long) e.getValue().data().length * dtype.bytes();
            t.putArray("data_offsets").add(offset).add(offset + bytes);
            offset += bytes;
        }
        byte[] json = root.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) & ~7; // the format pads the header with spaces to keep data 8-aligned
        byte[] out = Arrays.copyOf(json, padded);
        Arrays.fill(out, json.length, padded, (byte) ' ');
        return out;
    }

    private void writeData(OutputStream out, float[] data) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : data) {
            if (buf.remaining() < 4) {
                out.write(buf.array(), 0, buf.position());
                buf.clear();
            }
            switch (dtype) {
                case F32 -> buf.putFloat(v);
                case F16 -> buf.putShort(Dtype.floatToHalf(v));
                case BF16 -> buf.putShort(Dtype.floatToBf16(v));
            }
        }
        out.write(buf.array(), 0, buf.position());
    }
}
