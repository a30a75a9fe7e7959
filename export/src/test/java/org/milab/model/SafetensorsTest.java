package org.milab.model;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.milab.util.UserError;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SafetensorsTest {
    @TempDir Path dir;

    // ---------------------------------------------------------------- round trips

    @ParameterizedTest
    @EnumSource(Dtype.class)
    void roundTripMatchesIndependentConversion(Dtype dtype) {
        InMemoryCheckpoint ck = TestCheckpoints.random(TestCheckpoints.tinyUntied(), 11, 0.5f);
        SafetensorsWriter.writeCheckpoint(dir, ck, dtype, false);
        try (SafetensorsFile f = SafetensorsFile.open(dir.resolve("model.safetensors"), ck.config())) {
            assertThat(f.names()).containsExactlyElementsOf(Gpt2Tensors.parameterNames(ck.config()));
            for (String n : ck.names()) {
                assertThat(f.shape(n)).isEqualTo(ck.shape(n));
                assertThat(f.dtype(n)).isEqualTo(dtype);
                float[] want = ck.array(n).clone();
                for (int i = 0; i < want.length; i++) want[i] = expectedAfter(dtype, want[i]);
                assertThat(f.array(n)).as(n).containsExactly(want);
                FloatBuffer b = f.floats(n);
                assertThat(b.remaining()).isEqualTo(want.length);
                assertThat(b.get(want.length - 1)).isEqualTo(want[want.length - 1]);
            }
        }
    }

    /** Independent conversion: DtypeTest's brute-force nearest-even rounding and formula decoding. */
    private static float expectedAfter(Dtype dtype, float v) {
        return switch (dtype) {
            case F32 -> v;
            case F16 -> (float) DtypeTest.halfValue(DtypeTest.refHalf(v));
            case BF16 -> (float) DtypeTest.bf16Value(DtypeTest.refBf16(v));
        };
    }

    @Test
    void specialValuesSurviveEachDtype() {
        float[] vals = {1.0f, -2.5f, 65504f, 0x1p-24f, 0x1p-20f, Float.NaN, Float.NEGATIVE_INFINITY, -0.0f};
        short[] half = {0x3C00, (short) 0xC100, 0x7BFF, 0x0001, 0x0010, 0x7E00, (short) 0xFC00, (short) 0x8000};
        short[] bf16 = {0x3F80, (short) 0xC020, 0x4780, 0x3380, 0x3580, 0x7FC0, (short) 0xFF80, (short) 0x8000};
        Path p = dir.resolve("v.safetensors");
        for (Dtype d : Dtype.values()) {
            new SafetensorsWriter(d).add("v", new long[]{vals.length}, vals).write(p);
            TensorInfo t = SafetensorsFile.readHeader(p).get("v");
            ByteBuffer raw = ByteBuffer.wrap(bytes(p), (int) t.begin(), (int) t.byteLength()).slice()
                    .order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < vals.length; i++) {
                switch (d) {
                    case F32 -> assertThat(raw.getInt(4 * i)).isEqualTo(Float.floatToRawIntBits(vals[i]));
                    case F16 -> assertThat(raw.getShort(2 * i)).as("half %s", vals[i]).isEqualTo(half[i]);
                    case BF16 -> assertThat(raw.getShort(2 * i)).as("bf16 %s", vals[i]).isEqualTo(bf16[i]);
                }
            }
        }
    }

    @Test
    void f32IsAZeroCopyReadOnlyView() {
        InMemoryCheckpoint ck = TestCheckpoints.random(TestCheckpoints.tiny(), 3, 1f);
        SafetensorsWriter.writeCheckpoint(dir, ck, Dtype.F32, true);
        SafetensorsFile f = SafetensorsFile.open(dir.resolve("model.safetensors"), ck.config());
        FloatBuffer b = f.floats(Gpt2Tensors.WTE);
        assertThat(b.isDirect()).isTrue();
        assertThat(b.isReadOnly()).isTrue();
        assertThat(b.get(5)).isEqualTo(ck.raw(Gpt2Tensors.WTE)[5]);
        f.close();
        assertThatThrownBy(() -> f.floats(Gpt2Tensors.WTE)).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void writerPadsHeaderWithSpacesAndKeepsMetadata() throws IOException {
        Path p = dir.resolve("m.safetensors");
        new SafetensorsWriter(Dtype.F16).metadata(Map.of("format", "pt", "note", "x"))
                .add("a", new long[]{3}, new float[]{1, 2, 3}).add("b", new long[]{1, 1}, new float[]{4}).write(p);
        byte[] all = bytes(p);
        long n = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertThat((8 + n) % 8).isZero();
        String header = new String(all, 8, (int) n, StandardCharsets.UTF_8);
        assertThat(header).startsWith("{").contains("\"__metadata__\"");
        assertThat(header.substring(header.lastIndexOf('}') + 1)).matches(" *");
        assertThat(all.length).isEqualTo(8 + n + 3 * 2 + 2);
        Map<String, TensorInfo> h = SafetensorsFile.readHeader(p);
        assertThat(h).containsOnlyKeys("a", "b");
        assertThat(h.get("a")).isEqualTo(new TensorInfo("a", "F16", new long[]{3}, 8 + n, 8 + n + 6));
        assertThat(h.get("b").shape()).containsExactly(1, 1);
        try (var files = Files.list(dir)) { // the atomic writer left no temp file behind
            assertThat(files.map(x -> x.getFileName().toString())).containsExactly("m.safetensors");
        }
    }

    @Test
    void checkpointLayoutHasConfigAndCausalMask() {
        InMemoryCheckpoint ck = TestCheckpoints.random(TestCheckpoints.tiny(), 5, 1f);
        SafetensorsWriter.writeCheckpoint(dir, ck, Dtype.BF16, true);
        assertThat(ModelConfig.read(dir.resolve("config.json"))).isEqualTo(ck.config());
        TensorInfo mask = SafetensorsFile.readHeader(dir.resolve("model.safetensors")).get("h.1.attn.bias");
        assertThat(mask.shape()).containsExactly(1, 1, 16, 16);
        ByteBuffer raw = ByteBuffer.wrap(bytes(dir.resolve("model.safetensors")), (int) mask.begin(), 512)
                .slice().order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < 16; i++)
            for (int j = 0; j < 16; j++)
                assertThat(Dtype.bf16ToFloat(raw.getShort(2 * (16 * i + j)))).isEqualTo(j <= i ? 1f : 0f);
    }

    @Test
    void generatorIsDeterministicAndShaped() {
        InMemoryCheckpoint a = TestCheckpoints.random(TestCheckpoints.tiny(), 9, 0.02f);
        InMemoryCheckpoint b = TestCheckpoints.random(TestCheckpoints.tiny(), 9, 0.02f);
        InMemoryCheckpoint c = TestCheckpoints.random(TestCheckpoints.tiny(), 10, 0.02f);
        assertThat(a.raw(Gpt2Tensors.attnW(1))).containsExactly(b.raw(Gpt2Tensors.attnW(1)));
        assertThat(a.raw(Gpt2Tensors.attnW(1))).isNotEqualTo(c.raw(Gpt2Tensors.attnW(1)));
        assertThat(a.shape(Gpt2Tensors.fcW(0))).containsExactly(32, 128); // Conv1D [in, out]
        double lnMean = mean(a.raw(Gpt2Tensors.ln1W(0)));
        assertThat(lnMean).isCloseTo(1.0, org.assertj.core.data.Offset.offset(0.01));
        float[] w = a.raw(Gpt2Tensors.WTE);
        double m = mean(w), sd = Math.sqrt(Arrays.stream(toDoubles(w)).map(x -> (x - m) * (x - m)).sum() / w.length);
        assertThat(sd).isCloseTo(0.02, org.assertj.core.data.Offset.offset(0.002));
        assertThat(TestCheckpoints.tinyUntied().tiedEmbeddings()).isFalse();
        assertThat(a.names()).doesNotContain(Gpt2Tensors.LM_HEAD);
    }

    // ---------------------------------------------------------------- accepted variants

    @Test
    void prefixAndMaskBuffersAreAccepted() {
        InMemoryCheckpoint ck = TestCheckpoints.random(TestCheckpoints.tiny(), 1, 1f);
        Path p = dir.resolve("prefixed.safetensors");
        SafetensorsWriter w = new SafetensorsWriter(Dtype.F32);
        for (String n : ck.names()) w.add("transformer." + n, ck.shape(n), ck.raw(n));
        w.add("transformer.h.0.attn.bias", new long[]{1, 1, 16, 16}, new float[256]);
        w.add("transformer.h.1.attn.masked_bias", new long[]{}, new float[]{-1e4f});
        w.write(p);
        try (SafetensorsFile f = SafetensorsFile.open(p, ck.config())) {
            assertThat(f.names()).doesNotContain("h.0.attn.bias").contains(Gpt2Tensors.attnW(0));
            assertThat(f.array(Gpt2Tensors.attnW(1))).containsExactly(ck.raw(Gpt2Tensors.attnW(1)));
        }
    }

    @Test
    void tiedConfigAcceptsLmHeadIdenticalToWte() {
        InMemoryCheckpoint ck = TestCheckpoints.random(TestCheckpoints.tiny(), 1, 1f);
        Path p = writeWith(ck, w -> w.add("lm_head.weight", ck.shape(Gpt2Tensors.WTE), ck.raw(Gpt2Tensors.WTE)));
        try (SafetensorsFile f = SafetensorsFile.open(p, ck.config())) {
            assertThat(f.names()).doesNotContain(Gpt2Tensors.LM_HEAD);
            assertThat(f.unembeddingName()).isEqualTo(Gpt2Tensors.WTE);
        }
    }

    @Test
    void gpt2SmallShapedSparseFileOpens() throws IOException {
        ModelConfig c = ModelConfig.gpt2Small();
        Map<String, long[]> shapes = new LinkedHashMap<>(Gpt2Tensors.expectedShapes(c));
        for (int l = 0; l < c.nLayer(); l++) shapes.put(Gpt2Tensors.attnMaskBuffer(l), new long[]{1, 1, 1024, 1024});
        StringBuilder json = new StringBuilder("{\"__metadata__\":{\"format\":\"pt\"}");
        long off = 0;
        for (Map.Entry<String, long[]> e : shapes.entrySet()) {
            long bytes = 4 * Arrays.stream(e.getValue()).reduce(1, (x, y) -> x * y);
            json.append(",\"").append(e.getKey()).append("\":{\"dtype\":\"F32\",\"shape\":")
                    .append(Arrays.toString(e.getValue()).replace(" ", "")).append(",\"data_offsets\":[")
                    .append(off).append(',').append(off + bytes).append("]}");
            off += bytes;
        }
        Path p = rawFile("gpt2.safetensors", json.append('}').toString(), 0);
        try (RandomAccessFile raf = new RandomAccessFile(p.toFile(), "rw")) {
            raf.setLength(raf.length() + off); // sparse: costs no disk
        }
        try (SafetensorsFile f = SafetensorsFile.open(p, c)) {
            long params = f.names().stream().mapToLong(n -> Arrays.stream(f.shape(n)).reduce(1, (x, y) -> x * y)).sum();
            assertThat(params).isEqualTo(124_439_808L); // the published GPT-2 small parameter count
            assertThat(f.floats(Gpt2Tensors.WTE).remaining()).isEqualTo(50257 * 768);
            assertThat(f.floats(Gpt2Tensors.WTE).get(50257 * 768 - 1)).isZero();
        }
        // data size of the real file: 548,105,171 bytes minus its 8 + 14,283-byte header
        assertThat(off).isEqualTo(548_090_880L);
    }

    // ---------------------------------------------------------------- corruption, each a UserError

    @Test
    void headerLengthBeyondFile() throws IOException {
        Path p = validTiny();
        byte[] b = bytes(p);
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(0, b.length);
        Files.write(p, b);
        assertHeaderError(p, null, "header of", "download it again");
    }

    @Test
    void lfsPointerIsNotMistakenForAFile() throws IOException {
        Path p = dir.resolve("lfs.safetensors");
        Files.writeString(p, "version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 548105171\n");
        assertHeaderError(p, null, "Git LFS pointer", "download it again");
    }

    @Test
    void headerNotJson() throws IOException {
        assertHeaderError(rawFile("j.safetensors", "{\"a\": {\"dtype\": \"F32\",", 0), null, "not valid JSON",
                "download it again");
        assertHeaderError(rawFile("k.safetensors", "[1,2]   ", 0), null, "not a JSON object", "download");
        assertHeaderError(rawFile("d.safetensors",
                        "{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
                                + "\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}", 4),
                null, "not valid JSON", "download");
    }

    @Test
    void offsetsOutOfRange() throws IOException {
        Path p = rawFile("o.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}", 16);
        assertHeaderError(p, "'w'", "past the end", "download it again");
    }

    @Test
    void offsetsOverlap() throws IOException {
        Path p = rawFile("ov.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12);
        assertHeaderError(p, "'b'", "overlaps tensor 'a'", "download");
    }

    @Test
    void holeAndTrailingBytes() throws IOException {
        Path hole = rawFile("h.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8);
        assertHeaderError(hole, "'a'", "hole", "download");
        Path tail = rawFile("t.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8);
        assertHeaderError(tail, null, "4 bytes after the last tensor", "download");
    }

    @Test
    void sizeNotMatchingDtypeTimesShape() throws IOException {
        Path p = rawFile("s.safetensors", "{\"w\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8);
        assertHeaderError(p, "'w'", "needs 6", "download");
    }

    @Test
    void unknownDtype() throws IOException {
        Path p = rawFile("u.safetensors", "{\"w\":{\"dtype\":\"F7\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8);
        assertHeaderError(p, "'w'", "unknown dtype 'F7'", "download");
    }

    @Test
    void truncatedFile() throws IOException {
        Path p = validTiny();
        byte[] b = bytes(p);
        Files.write(p, Arrays.copyOf(b, b.length - 10));
        // the last tensor written is ln_f.bias
        assertHeaderError(p, "'ln_f.bias'", "truncated", "download it again");
    }

    @Test
    void missingTensor() {
        InMemoryCheckpoint ck = TestCheckpoints.random(TestCheckpoints.tiny(), 1, 1f);
        Path p = writeWithout(ck, Gpt2Tensors.fcB(1));
        assertUserError(p, "'h.1.mlp.c_fc.bias'", "lacks tensor", "GPT-2 checkpoint");
    }

    @Test
    void missingLmHeadForUntiedConfig() {
        InMemoryCheckpoint ck = TestCheckpoints.random(TestCheckpoints.tinyUntied(), 1, 1f);
        Path p = writeWithout(ck, Gpt2Tensors.LM_HEAD);
        assertUserError(p, ck.config(), "'lm_head.weight'", "lacks tensor", "tie_word_embeddings=true");
    }

    @Test
    void wrongShape() {
        InMemoryCheckpoint ck = TestCheckpoints.random(TestCheckpoints.tiny(), 1, 1f);
        Path p = dir.resolve("shape.safetensors");
        SafetensorsWriter w = new SafetensorsWriter(Dtype.F32);
        for (String n : ck.names()) {
            if (n.equals(Gpt2Tensors.WPE)) w.add(n, new long[]{32, 16}, ck.raw(n)); // transposed
            else w.add(n, ck.shape(n), ck.raw(n));
        }
        w.write(p);
        assertUserError(p, "'wpe.weight'", "[32, 16] but the config expects [16, 32]", "config.json");
    }

    @Test
    void checkpointWithMoreLayersThanConfig() {
        InMemoryCheckpoint ck = TestCheckpoints.random(TestCheckpoints.tiny(), 1, 1f);
        Path p = writeWith(ck, w -> w.add("h.2.ln_1.weight", new long[]{32}, new float[32]));
        assertUserError(p, "'h.2.ln_1.weight'", "does not have", "n_layer=2");
    }

    @Test
    void tiedConfigRejectsDifferentLmHead() {
        InMemoryCheckpoint ck = TestCheckpoints.random(TestCheckpoints.tiny(), 1, 1f);
        float[] other = ck.raw(Gpt2Tensors.WTE).clone();
        other[7] += 1;
        Path p = writeWith(ck, w -> w.add("lm_head.weight", ck.shape(Gpt2Tensors.WTE), other));
        assertUserError(p, "'lm_head.weight'", "differs from wte.weight", "\"tie_word_embeddings\": false");
    }

    @Test
    void missingFile() {
        assertUserError(dir.resolve("nope.safetensors"), null, "does not exist", "WEIGHTS=");
    }

    // ---------------------------------------------------------------- helpers

    /** A structural problem: both the GPT-2 reader and the plain header reader refuse the file. */
    private void assertHeaderError(Path file, String tensor, String problem, String fix) {
        assertUserError(file, tensor, problem, fix);
        assertThatThrownBy(() -> SafetensorsFile.readHeader(file)).isInstanceOf(UserError.class)
                .hasMessageContaining(problem);
    }

    private void assertUserError(Path file, String tensor, String problem, String fix) {
        assertUserError(file, TestCheckpoints.tiny(), tensor, problem, fix);
    }

    private void assertUserError(Path file, ModelConfig config, String tensor, String problem, String fix) {
        assertThatThrownBy(() -> SafetensorsFile.open(file, config)).isInstanceOf(UserError.class)
                .hasMessageContaining(file.toString())
                .hasMessageContaining(problem)
                .hasMessageContaining("Fix:")
                .hasMessageContaining(fix)
                .satisfies(e -> {
                    if (tensor != null) assertThat(e.getMessage()).contains(tensor);
                });
    }

    private Path validTiny() {
        SafetensorsWriter.writeCheckpoint(dir, TestCheckpoints.random(TestCheckpoints.tiny(), 2, 1f), Dtype.F32, false);
        return dir.resolve("model.safetensors");
    }

    private Path writeWith(InMemoryCheckpoint ck, Consumer<SafetensorsWriter> extra) {
        Path p = dir.resolve("with.safetensors");
        SafetensorsWriter w = new SafetensorsWriter(Dtype.F32);
        for (String n : ck.names()) w.add(n, ck.shape(n), ck.raw(n));
        extra.accept(w);
        w.write(p);
        return p;
    }

    private Path writeWithout(InMemoryCheckpoint ck, String skip) {
        Path p = dir.resolve("without.safetensors");
        SafetensorsWriter w = new SafetensorsWriter(Dtype.F32);
        for (String n : ck.names()) if (!n.equals(skip)) w.add(n, ck.shape(n), ck.raw(n));
        w.write(p);
        return p;
    }

    /** A file with the given header text (unpadded) followed by {@code dataLen} zero bytes. */
    private Path rawFile(String name, String header, int dataLen) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataLen).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        Path p = dir.resolve(name);
        Files.write(p, b.array());
        return p;
    }

    private static byte[] bytes(Path p) {
        try {
            return Files.readAllBytes(p);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    private static double mean(float[] a) {
        return Arrays.stream(toDoubles(a)).average().orElseThrow();
    }

    private static double[] toDoubles(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) d[i] = a[i];
        return d;
    }
}
