package org.milab.tables;

import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.ipc.ArrowFileReader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.milab.util.UserError;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ArrowTablesTest {
    @TempDir
    Path dir;

    @Test
    void roundTripKeepsEveryValueAndTheMetadata() {
        Table t = TestTables.everyType();
        Path file = dir.resolve("every_type.arrow");
        ArrowTables.write(file, t, 3);

        Table back = ArrowTables.read(file);

        assertThat(back).isEqualTo(t);
        assertThat(back.keys()).containsExactly("seed", "example_id");
        assertThat(back.metadata()).containsExactly(Map.entry("milab.stage", "S12"));
        assertThat(back.provenance()).containsEntry("model_sha256", "9f2c0d8e4b1a")
                .containsEntry("seeds", List.of(10, 11, 12));
        // NaN and -0.0 survive bit for bit; null stays distinct from NaN.
        List<Double> effects = back.doubles("effect_size");
        assertThat(effects.get(1)).isNaN();
        assertThat(effects.get(2)).isNull();
        assertThat(Double.doubleToRawLongBits(effects.get(3))).isEqualTo(Double.doubleToRawLongBits(-0.0));
        assertThat(back.longs("rank").get(3)).isEqualTo(Long.MAX_VALUE);
        assertThat(back.strings("family").get(1)).isEqualTo("naïve café ☕ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢");
    }

    @Test
    void writesTheFileFormatInBoundedBatchesWithSchemaMetadata() throws IOException {
        Path file = dir.resolve("t.arrow");
        ArrowTables.write(file, TestTables.everyType(), 3);

        byte[] bytes = Files.readAllBytes(file);
        // IPC file format: "ARROW1" magic at both ends (the stream format has none).
        assertThat(new String(Arrays.copyOfRange(bytes, 0, 6), StandardCharsets.US_ASCII)).isEqualTo("ARROW1");
        assertThat(new String(Arrays.copyOfRange(bytes, bytes.length - 6, bytes.length), StandardCharsets.US_ASCII))
                .isEqualTo("ARROW1");
        try (RootAllocator allocator = new RootAllocator();
             FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
             ArrowFileReader reader = new ArrowFileReader(ch, allocator)) {
            assertThat(reader.getRecordBlocks()).hasSize(4);
            Map<String, String> meta = reader.getVectorSchemaRoot().getSchema().getCustomMetadata();
            assertThat(meta).containsEntry("milab.table", "every_type")
                    .containsEntry("milab.keys", "[\"seed\",\"example_id\"]")
                    .containsEntry("milab.schema_version", "1")
                    .containsEntry("milab.stage", "S12");
            assertThat(Json.readObject(meta.get("milab.provenance"))).isEqualTo(TestTables.provenance());
        }
    }

    @Test
    void emptyTableRoundTrips() {
        Table empty = Table.builder("empty").keys("id").string("id").float64("x").build();
        Path file = ArrowTables.writeInto(dir, empty);

        assertThat(file.getFileName().toString()).isEqualTo("empty.arrow");
        Table back = ArrowTables.read(file);
        assertThat(back).isEqualTo(empty);
        assertThat(back.rowCount()).isZero();
        assertThat(back.provenanceJson()).isEqualTo("{}");
    }

    @Test
    void failedWriteLeavesTheOldFileAndNoTempFile() throws IOException {
        Path file = dir.resolve("t.arrow");
        Files.writeString(file, "previous contents");

        assertThatThrownBy(() -> ArrowTables.write(file, TestTables.everyType(), 3, batch -> {
            if (batch == 1) throw new UncheckedIOException(new IOException("disk full (simulated)"));
        })).hasMessageContaining("disk full (simulated)");

        assertThat(Files.readString(file)).isEqualTo("previous contents");
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files).containsExactly(file);
        }
    }

    @Test
    void failedFirstWriteLeavesNoFileAtAll() throws IOException {
        Path file = dir.resolve("sub").resolve("t.arrow");
        assertThatThrownBy(() -> ArrowTables.write(file, TestTables.everyType(), 3, batch -> {
            throw new IllegalStateException("stage bug");
        })).isInstanceOf(IllegalStateException.class);

        try (Stream<Path> files = Files.list(file.getParent())) {
            assertThat(files).isEmpty();
        }
    }

    @Test
    void unreadableFilesGiveUserErrors() throws IOException {
        Path notArrow = dir.resolve("junk.arrow");
        Files.writeString(notArrow, "this is not an arrow file at all, just some text");
        assertThatThrownBy(() -> ArrowTables.read(notArrow)).isInstanceOf(UserError.class)
                .hasMessageContaining("junk.arrow").hasMessageContaining("Fix:");
        assertThatThrownBy(() -> ArrowTables.read(dir.resolve("missing.arrow"))).isInstanceOf(UserError.class)
                .hasMessageContaining("No table file");
    }
}
