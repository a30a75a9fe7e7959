package org.milab.lab;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import org.milab.graph.GraphVariant;
import org.milab.model.Checkpoint;
import org.milab.model.ModelConfig;
import org.milab.util.UserError;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * The checkpoint tensors an exported model actually runs with, read back from {@code graphs/<model>/weights.bin}.
 * Where each tensor sits is taken from the external-data entries of the capture graph's initializers (the
 * exporter writes every checkpoint parameter there verbatim, under its canonical name), so nothing in the
 * export has to change and the same reader works for GPT-2 and the planted model alike.
 */
public final class ExportedWeights implements Checkpoint {
    private record Slot(long[] dims, long offset, long length) {}

    private final ModelConfig config;
    private final Map<String, Slot> slots;
    private final FileChannel channel;
    private final Map<String, FloatBuffer> mapped = new LinkedHashMap<>();

    private ExportedWeights(ModelConfig config, Map<String, Slot> slots, FileChannel channel) {
        this.config = config;
        this.slots = slots;
        this.channel = channel;
    }

    /** Opens the weights behind {@code graphDir}'s capture graph. */
    public static ExportedWeights open(Path graphDir, ModelConfig config) {
        Path graph = graphDir.resolve(GraphVariant.CAPTURE.fileName());
        ModelProto model;
        try (InputStream in = Files.newInputStream(graph)) {
            model = ModelProto.parseFrom(in);
        } catch (IOException e) {
            throw new UserError("Cannot read the exported graph " + graph + ": " + e.getMessage(),
                    "Re-export the model ('make export MODEL=...').", e);
        }
        Map<String, Slot> slots = new LinkedHashMap<>();
        String location = null;
        for (TensorProto t : model.getGraph().getInitializerList()) {
            if (t.getDataLocation() != TensorProto.DataLocation.EXTERNAL) continue;
            Map<String, String> kv = new LinkedHashMap<>();
            for (StringStringEntryProto e : t.getExternalDataList()) kv.put(e.getKey(), e.getValue());
            location = kv.get("location");
            long[] dims = t.getDimsList().stream().mapToLong(Long::longValue).toArray();
            slots.put(t.getName(), new Slot(dims, Long.parseLong(kv.get("offset")), Long.parseLong(kv.get("length"))));
        }
        if (location == null)
            throw new UserError("The graph " + graph + " has no external weights.", "Re-export the model.");
        try {
            return new ExportedWeights(config, Collections.unmodifiableMap(slots),
                    FileChannel.open(graphDir.resolve(location), StandardOpenOption.READ));
        } catch (IOException e) {
            throw new UserError("Cannot open the weights file " + graphDir.resolve(location) + ": " + e.getMessage(),
                    "Re-export the model.", e);
        }
    }

    @Override
    public ModelConfig config() {
        return config;
    }

    @Override
    public Set<String> names() {
        return slots.keySet();
    }

    @Override
    public long[] shape(String name) {
        return slot(name).dims().clone();
    }

    @Override
    public synchronized FloatBuffer floats(String name) {
        return mapped.computeIfAbsent(name, n -> {
            Slot s = slot(n);
            try {
                MappedByteBuffer b = channel.map(FileChannel.MapMode.READ_ONLY, s.offset(), s.length());
                return b.order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }).duplicate();
    }

    private Slot slot(String name) {
        Slot s = slots.get(name);
        if (s == null) throw new IllegalArgumentException("exported weights have no tensor '" + name + "'");
        return s;
    }

    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
