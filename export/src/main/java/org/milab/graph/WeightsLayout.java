package org.milab.graph;

import org.milab.model.Checkpoint;
import org.milab.util.AtomicFiles;
import org.milab.util.ProgressBar;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Where each float32 tensor sits in the ONE external data file that all graph variants share.
 * Offsets are page aligned so ONNX Runtime can map the file instead of copying it.
 */
public record WeightsLayout(String fileName, Map<String, Entry> entries) {
    public static final String FILE_NAME = "weights.bin";
    /** Derived tensor: the mean unembedding row, so metric logits can be centred like TransformerLens'. */
    public static final String UNEMBED_MEAN = "derived.unembed_mean";
    private static final int ALIGN = 4096;

    public record Entry(long[] dims, long offset, long length) {}

    public Entry entry(String name) {
        Entry e = entries.get(name);
        if (e == null) throw new IllegalArgumentException("weights file has no tensor '" + name + "'");
        return e;
    }

    /** Writes every parameter of {@code ckpt} plus derived tensors as little-endian float32. */
    public static WeightsLayout write(Checkpoint ckpt, Path file) {
        Map<String, Entry> entries = new LinkedHashMap<>();
        long total = 0;
        for (String name : ckpt.names()) total += 4 * count(ckpt.shape(name));
        float[] mean = unembedMean(ckpt);
        long totalBytes = total + 4L * mean.length;
        AtomicFiles.writeVia(file, tmp -> {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE);
                 ProgressBar bar = new ProgressBar("write " + FILE_NAME, totalBytes, "B")) {
                long pos = 0;
                for (String name : ckpt.names()) {
                    pos = align(pos);
                    long len = writeFloats(ch, pos, ckpt.floats(name));
                    entries.put(name, new Entry(ckpt.shape(name), pos, len));
                    pos += len;
                    bar.step(len);
                }
                pos = align(pos);
                long len = writeFloats(ch, pos, FloatBuffer.wrap(mean));
                entries.put(UNEMBED_MEAN, new Entry(new long[]{mean.length}, pos, len));
                bar.step(len);
            }
        });
        return new WeightsLayout(FILE_NAME, Collections.unmodifiableMap(entries));
    }

    /** Mean over the vocabulary of the unembedding rows, accumulated in double. */
    static float[] unembedMean(Checkpoint ckpt) {
        int d = ckpt.config().dModel(), v = ckpt.config().vocabSize();
        FloatBuffer w = ckpt.floats(ckpt.unembeddingName()).duplicate();
        double[] acc = new double[d];
        for (int r = 0; r < v; r++) for (int i = 0; i < d; i++) acc[i] += w.get(r * d + i);
        float[] out = new float[d];
        for (int i = 0; i < d; i++) out[i] = (float) (acc[i] / v);
        return out;
    }

    private static long writeFloats(FileChannel ch, long pos, FloatBuffer src) throws IOException {
        FloatBuffer f = src.duplicate();
        f.rewind();
        long len = 4L * f.remaining();
        ByteBuffer chunk = ByteBuffer.allocateDirect(1 << 22).order(ByteOrder.LITTLE_ENDIAN);
        long at = pos;
        while (f.hasRemaining()) {
            chunk.clear();
            FloatBuffer view = chunk.asFloatBuffer();
            int n = Math.min(view.remaining(), f.remaining());
            FloatBuffer slice = f.slice().limit(n);
            view.put(slice);
            f.position(f.position() + n);
            chunk.limit(4 * n);
            while (chunk.hasRemaining()) at += ch.write(chunk, at);
        }
        return len;
    }

    private static long align(long pos) {
        return (pos + ALIGN - 1) / ALIGN * ALIGN;
    }

    private static long count(long[] dims) {
        return Arrays.stream(dims).reduce(1, (a, b) -> a * b);
    }
}
