package org.milab.model;

import java.util.Arrays;
import java.util.Optional;

/**
 * One tensor entry of a safetensors header, already checked for consistency.
 *
 * @param name  the name exactly as stored in the file (possibly with a {@code transformer.} prefix)
 * @param dtype the dtype string as stored ({@code F32}, {@code F16}, {@code BF16}, {@code BOOL}, ...)
 * @param shape the dimensions
 * @param begin absolute position in the file of the first byte (header's {@code data_offsets[0]} + 8 + header length)
 * @param end   absolute position in the file one past the last byte
 */
public record TensorInfo(String name, String dtype, long[] shape, long begin, long end) {
    public TensorInfo {
        shape = shape.clone();
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    public long numel() {
        return Arrays.stream(shape).reduce(1, Math::multiplyExact);
    }

    public long byteLength() {
        return end - begin;
    }

    /** The dtype when it is one the reader can convert to float32. */
    public Optional<Dtype> floatType() {
        return Dtype.parse(dtype);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorInfo t && name.equals(t.name) && dtype.equals(t.dtype)
                && Arrays.equals(shape, t.shape) && begin == t.begin && end == t.end;
    }

    @Override
    public int hashCode() {
        return 31 * (31 * name.hashCode() + Arrays.hashCode(shape)) + Long.hashCode(begin);
    }

    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape) + " @[" + begin + "," + end + ")";
    }
}
