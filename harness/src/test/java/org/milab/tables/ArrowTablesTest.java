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
        // lists come back as lists: empty stays empty, a null cell stays null, elements keep their bits
        assertThat(back.stringLists("tokens")).containsExactly(List.of("A", "B"), List.of("naïve", "𝔘", ""), null, List.of(),
                List.of("a,b", "[\"c\"]"), List.of("👩‍🔬"), List.of("tab\t", "line\n"), List.of("Ω"), List.of("word"),
                List.of("x", "y", "z"));
        assertThat(back.longLists("seeds").get(3)).containsExactly(Long.MAX_VALUE, Long.MIN_VALUE);
        assertThat(back.longLists("seeds").get(1)).isEmpty();
        assertThat(back.doubleLists("effects").get(1).get(0)).isNaN();
        assertThat(Double.doubleToRawLongBits(back.doubleLists("effects").get(3).get(0))).isEqualTo(Double.doubleToRawLongBits(-0.0));
        assertThat(back.row(0).getStrings("tokens")).containsExactly("A", "B");
    }

    @Test
    void perHeadTablesGetHeadIdAndEveryColumnItsDescription() throws IOException {
        Table t = TestTables.everyType();
        assertThat(t.columnNames()).containsSubsequence("layer", "head", "head_id", "tokens");
        assertThat(t.columnNames().indexOf("head_id")).isEqualTo(t.columnNames().indexOf("head") + 1);
        assertThat(t.strings("head_id")).containsExactly("L0H1", "L7H11", null, "L11H0", "L1H2", "L1H2", "L2H3", "L3H4",
                "L4H5", "L5H6");
        assertThat(t.description("effect_size")).isEqualTo("Normalized effect of the patch (test description).");
        assertThat(t.description("head_id")).startsWith("The head as L{layer}H{head}");

        Path file = dir.resolve("t.arrow");
        ArrowTables.write(file, t);
        try (RootAllocator allocator = new RootAllocator();
             FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
             ArrowFileReader reader = new ArrowFileReader(ch, allocator)) {
            org.apache.arrow.vector.types.pojo.Schema schema = reader.getVectorSchemaRoot().getSchema();
            assertThat(schema.findField("effect_size").getMetadata())
                    .containsExactly(Map.entry("description", "Normalized effect of the patch (test description)."));
            assertThat(schema.findField("head_id").getMetadata()).containsKey("description");
            org.apache.arrow.vector.types.pojo.Field tokens = schema.findField("tokens");
            assertThat(tokens.getType()).isInstanceOf(org.apache.arrow.vector.types.pojo.ArrowType.List.class);
            assertThat(tokens.getChildren()).singleElement().satisfies(item -> {
                assertThat(item.getName()).isEqualTo("item");
                assertThat(item.getType()).isEqualTo(org.apache.arrow.vector.types.pojo.ArrowType.Utf8.INSTANCE);
            });
        }
        // a table that already names its heads keeps its own head_id; a STRING head gets none
        Table own = Table.builder("own").keys("id").int64("id", "layer", "head").string("head_id").addRow(1, 2, 3, "mine").build();
        assertThat(own.strings("head_id")).containsExactly("mine");
        Table labels = Table.builder("labels").keys("id").int64("id", "layer").string("head").addRow(1, 2, "x").build();
        assertThat(labels.hasColumn("head_id")).isFalse();
    }

    @Test
    void listCellsRejectNullAndIllTypedElements() {
        assertThatThrownBy(() -> Table.builder("t").keys("id").int64("id").stringList("l").addRow(1, java.util.Arrays.asList("a", null)))
                .hasMessageContaining("column 'l' is STRING_LIST");
        assertThatThrownBy(() -> Table.builder("t").keys("id").int64("id").int64List("l").addRow(1, List.of(1.5)))
                .hasMessageContaining("column 'l' is INT64_LIST");
        assertThatThrownBy(() -> Table.builder("t").keys("id").int64("id").stringList("l").addRow(1, "a,b"))
                .hasMessageContaining("column 'l' is STRING_LIST");
        Table widened = Table.builder("t").keys("id").int64("id").float64List("l").int64List("m")
                .addRow(1, new int[]{1, 2}, new long[]{3}).build();
        assertThat(widened.doubleLists("l").get(0)).containsExactly(1.0, 2.0);
        assertThat(widened.longLists("m").get(0)).containsExactly(3L);
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
                    .containsEntry("milab.schema_version", "2")
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
