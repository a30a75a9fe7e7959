package org.milab.spark;

import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.ListVector;
import org.apache.arrow.vector.complex.impl.UnionListWriter;
import org.apache.arrow.vector.ipc.ArrowStreamReader;
import org.apache.arrow.vector.ipc.ArrowStreamWriter;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A partition's result as one Arrow record batch (IPC stream bytes): {@code row} (the row's index in the
 * job) and {@code metric_logits} (its float32 logits, bit for bit); the executor's engine counters ride in
 * the schema metadata.
 */
final class ArrowRows {
    static final String ROW = "row", LOGITS = "metric_logits";

    private ArrowRows() {}

    static byte[] write(int[] index, float[][] logits, Map<String, Long> counters) {
        Map<String, String> meta = new LinkedHashMap<>();
        counters.forEach((k, v) -> meta.put(k, Long.toString(v)));
        Field element = new Field("item", FieldType.notNullable(new ArrowType.FloatingPoint(FloatingPointPrecision.SINGLE)), null);
        Schema schema = new Schema(List.of(
                new Field(ROW, FieldType.notNullable(new ArrowType.Int(32, true)), null),
                new Field(LOGITS, FieldType.notNullable(new ArrowType.List()), List.of(element))), meta);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (BufferAllocator alloc = new RootAllocator(); VectorSchemaRoot root = VectorSchemaRoot.create(schema, alloc)) {
            IntVector rows = (IntVector) root.getVector(ROW);
            ListVector lists = (ListVector) root.getVector(LOGITS);
            rows.allocateNew(index.length);
            UnionListWriter w = lists.getWriter();
            for (int i = 0; i < index.length; i++) {
                rows.set(i, index[i]);
                w.setPosition(i);
                w.startList();
                for (float f : logits[i]) w.writeFloat4(f);
                w.endList();
            }
            root.setRowCount(index.length);
            try (ArrowStreamWriter out = new ArrowStreamWriter(root, null, bytes)) {
                out.start();
                out.writeBatch();
                out.end();
            }
        } catch (IOException e) {
            throw new UncheckedIOException("Arrow encoding of a partition's rows failed", e);
        }
        return bytes.toByteArray();
    }

    /**
     * Puts each row of {@code ipc} at its index in {@code into} and adds the batch's counters to
     * {@code counters}; a row already present means a partition's rows arrived twice.
     */
    static void read(byte[] ipc, float[][] into, Map<String, Long> counters) {
        try (BufferAllocator alloc = new RootAllocator();
             ArrowStreamReader in = new ArrowStreamReader(new ByteArrayInputStream(ipc), alloc)) {
            VectorSchemaRoot root = in.getVectorSchemaRoot();
            in.getVectorSchemaRoot().getSchema().getCustomMetadata()
                    .forEach((k, v) -> counters.merge(k, Long.parseLong(v), Long::sum));
            while (in.loadNextBatch()) {
                IntVector rows = (IntVector) root.getVector(ROW);
                ListVector lists = (ListVector) root.getVector(LOGITS);
                Float4Vector values = (Float4Vector) lists.getDataVector();
                for (int i = 0; i < root.getRowCount(); i++) {
                    int r = rows.get(i);
                    if (into[r] != null) throw new IllegalStateException("row " + r + " of the job arrived twice");
                    int from = lists.getElementStartIndex(i), to = lists.getElementEndIndex(i);
                    float[] f = new float[to - from];
                    for (int j = from; j < to; j++) f[j - from] = values.get(j);
                    into[r] = f;
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("Arrow decoding of a partition's rows failed", e);
        }
    }
}
