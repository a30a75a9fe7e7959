package org.milab.tables;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Records are table schemas: names, types, order and descriptions come from the record, rows go both ways. */
class RecordSchemaTest {
    enum Verdict { CONFIRMED, REJECTED }

    record Effect(String promptId, int layer, int head, @Describe("the patched minus the corrupt score") double rawDelta,
                  Double meanEffect, boolean kept, Verdict verdict, List<String> tokens, List<Integer> positions,
                  List<Double> scores) {}

    /** Effect with one component renamed (meanEffect -> meanGap), nothing else changed. */
    record Renamed(String promptId, int layer, int head, @Describe("the patched minus the corrupt score") double rawDelta,
                   Double meanGap, boolean kept, Verdict verdict, List<String> tokens, List<Integer> positions,
                   List<Double> scores) {}

    private static final Effect A = new Effect("p0", 1, 2, -0.25, 0.75, true, Verdict.CONFIRMED, List.of("A", " B"),
            List.of(3, 5), List.of(0.5, Double.NaN));
    private static final Effect B = new Effect("p1", 0, 3, 1e-9, null, false, Verdict.REJECTED, List.of(), List.of(), List.of(1.0));

    @Test
    void columnsAreTheComponentsInSnakeCaseAndOrder() {
        RecordSchema<Effect> s = RecordSchema.of(Effect.class);
        assertThat(s.columns()).containsExactly("prompt_id", "layer", "head", "raw_delta", "mean_effect", "kept", "verdict",
                "tokens", "positions", "scores");
        assertThat(s.types()).containsExactly(ColumnType.STRING, ColumnType.INT64, ColumnType.INT64, ColumnType.FLOAT64,
                ColumnType.FLOAT64, ColumnType.BOOL, ColumnType.STRING, ColumnType.STRING_LIST, ColumnType.INT64_LIST,
                ColumnType.FLOAT64_LIST);
        assertThat(RecordSchema.snakeCase("dHeadOrHiddenAxis")).isEqualTo("d_head_or_hidden_axis");
        assertThat(RecordSchema.snakeCase("top5Hits")).isEqualTo("top5_hits");
    }

    @Test
    void aRenamedComponentRenamesTheColumn() {
        Table before = RecordSchema.of(Effect.class).builder("effects", List.of(A), "prompt_id").build();
        Table after = RecordSchema.of(Renamed.class).builder("effects", List.of(new Renamed("p0", 1, 2, -0.25, 0.75, true,
                Verdict.CONFIRMED, List.of("A", " B"), List.of(3, 5), List.of(0.5, Double.NaN))), "prompt_id").build();
        assertThat(before.columnNames()).contains("mean_effect").doesNotContain("mean_gap");
        assertThat(after.columnNames()).contains("mean_gap").doesNotContain("mean_effect");
        assertThat(after.doubles("mean_gap")).isEqualTo(before.doubles("mean_effect"));
        // everything else is the same table
        assertThat(after.columnNames().stream().map(c -> c.equals("mean_gap") ? "mean_effect" : c).toList())
                .isEqualTo(before.columnNames());
    }

    @Test
    void tableFromRecordsMatchesAHandBuiltOneAndReadsBack(@TempDir Path dir) {
        RecordSchema<Effect> s = RecordSchema.of(Effect.class);
        Table fromRecords = s.builder("effects", List.of(A, B), "prompt_id").build();
        Table byHand = Table.builder("effects").keys("prompt_id").string("prompt_id").int64("layer", "head")
                .float64("raw_delta", "mean_effect").bool("kept").string("verdict").stringList("tokens")
                .int64List("positions").float64List("scores")
                .describe("raw_delta", "the patched minus the corrupt score")
                .addRow("p0", 1, 2, -0.25, 0.75, true, "CONFIRMED", List.of("A", " B"), List.of(3, 5), List.of(0.5, Double.NaN))
                .addRow("p1", 0, 3, 1e-9, null, false, "REJECTED", List.of(), List.of(), List.of(1.0)).build();
        assertThat(fromRecords).isEqualTo(byHand);
        assertThat(fromRecords.columnNames()).containsExactly("prompt_id", "layer", "head", "head_id", "raw_delta", "mean_effect",
                "kept", "verdict", "tokens", "positions", "scores");
        assertThat(fromRecords.description("raw_delta")).isEqualTo("the patched minus the corrupt score");

        Path file = ArrowTables.writeInto(dir, fromRecords);
        Table read = ArrowTables.read(file);
        List<Effect> back = s.read(read);
        assertThat(back).hasSize(2);
        assertThat(back.get(1)).isEqualTo(B);
        assertThat(back.get(0).scores().get(1)).isNaN();
        assertThat(back.get(0).tokens()).isEqualTo(A.tokens());
        assertThat(back.get(0).positions()).isEqualTo(A.positions());
    }

    @Test
    void toMapKeepsComponentOrderForJsonRows() {
        Map<String, Object> m = RecordSchema.of(Effect.class).toMap(B);
        assertThat(m.keySet()).containsExactlyElementsOf(RecordSchema.of(Effect.class).columns());
        assertThat(m.get("verdict")).isEqualTo("REJECTED");
        assertThat(m.get("mean_effect")).isNull();
    }

    record Odd(Map<String, Integer> counts) {}

    record Primitive(String id, int layer) {}

    @Test
    void misfitsAreNamed() {
        assertThatThrownBy(() -> RecordSchema.of(Odd.class).builder("odd"))
                .hasMessageContaining("Odd.counts").hasMessageContaining("Map");
        Table withNull = Table.builder("p").string("id").int64("layer").addRow("x", null).build();
        assertThatThrownBy(() -> RecordSchema.of(Primitive.class).read(withNull))
                .hasMessageContaining("null in column 'layer'").hasMessageContaining("Primitive.layer");
        Table missing = Table.builder("p").string("id").addRow("x").build();
        assertThatThrownBy(() -> RecordSchema.of(Primitive.class).read(missing)).hasMessageContaining("no column 'layer'");
    }

    enum Kind { INDUCTION, PREVIOUS_TOKEN }

    record Model(String modelId, String graphSha256, @OmitIfNull String fallbackReason) {}

    record Provenance(String runId, Integer seed, @Inline Model model, Kind kind, List<Model> others,
                      Map<String, Model> byName, long nRankAtMost_10) {}

    /** A JSON tree from records: keys, order and nesting from the components alone; inline and omitted entries. */
    @Test
    void treeWritesNestedRecordsInComponentOrder() throws Exception {
        Model m = new Model("m1", "abc", null), fallback = new Model("m2", "def", "no GPU");
        Provenance p = new Provenance("run", null, m, Kind.PREVIOUS_TOKEN, List.of(fallback), Map.of("x", m), 3);
        String json = org.milab.util.Json.compact(RecordSchema.tree(p));
        assertThat(json).isEqualTo("{\"run_id\":\"run\",\"seed\":null,\"model_id\":\"m1\",\"graph_sha256\":\"abc\","
                + "\"kind\":\"PREVIOUS_TOKEN\",\"others\":[{\"model_id\":\"m2\",\"graph_sha256\":\"def\","
                + "\"fallback_reason\":\"no GPU\"}],\"by_name\":{\"x\":{\"model_id\":\"m1\",\"graph_sha256\":\"abc\"}},"
                + "\"n_rank_at_most_10\":3}");
    }

    // ------------------------------------------------------------ nested records, flattened

    @Flattened(Flattened.Order.OUTER_INNER)
    record Ci(@OuterName Double estimate, Double ciLow, Double ciHigh) {}

    @Flattened(Flattened.Order.INNER_OUTER)
    record PerTest(Double pRaw, Integer n) {}

    record Range(double low, double high) {}

    record Pair<T>(T first, T second) {}

    record Nested(String id, @Inline Pair<Ci> scores, PerTest meanAblation, Range window, long count) {}

    /** Nested with one inner component renamed (meanAblation -> resampleAblation), nothing else changed. */
    record NestedRenamed(String id, @Inline Pair<Ci> scores, PerTest resampleAblation, Range window, long count) {}

    @Test
    void nestedRecordsFlattenInPlaceNamedByTheirDeclaredRule(@TempDir Path dir) {
        RecordSchema<Nested> s = RecordSchema.of(Nested.class);
        assertThat(s.columns()).containsExactly("id", "first", "first_ci_low", "first_ci_high", "second", "second_ci_low",
                "second_ci_high", "p_raw_mean_ablation", "n_mean_ablation", "window_low", "window_high", "count");
        assertThat(s.types()).containsExactly(ColumnType.STRING, ColumnType.FLOAT64, ColumnType.FLOAT64, ColumnType.FLOAT64,
                ColumnType.FLOAT64, ColumnType.FLOAT64, ColumnType.FLOAT64, ColumnType.FLOAT64, ColumnType.INT64,
                ColumnType.FLOAT64, ColumnType.FLOAT64, ColumnType.INT64);
        Nested a = new Nested("a", new Pair<>(new Ci(0.5, 0.25, 0.75), new Ci(Double.NaN, null, null)), new PerTest(0.01, 7),
                new Range(-1, 1), 3);
        Nested b = new Nested("b", new Pair<>(null, new Ci(1.0, 0.5, 2.0)), null, new Range(0, 0), 4);
        Table t = s.builder("nested", List.of(a, b), "id").build();
        assertThat(t.doubles("first")).containsExactly(0.5, null);
        assertThat(t.doubles("second")).containsExactly(Double.NaN, 1.0);
        assertThat(t.column("p_raw_mean_ablation").values()).containsExactly(0.01, null);
        assertThat(t.column("n_mean_ablation").values()).containsExactly(7L, null);
        assertThat(t.column("window_low").values()).containsExactly(-1.0, 0.0);
        // read back (a null nested record comes back as one of null cells) and through Arrow
        Path f = dir.resolve("nested.arrow");
        ArrowTables.write(f, t);
        List<Nested> back = s.read(ArrowTables.read(f));
        assertThat(back.get(0)).isEqualTo(a);
        assertThat(back.get(1)).isEqualTo(new Nested("b", new Pair<>(new Ci(null, null, null), new Ci(1.0, 0.5, 2.0)),
                new PerTest(null, null), new Range(0, 0), 4));
        assertThat(s.toMap(a)).containsEntry("first_ci_high", 0.75).containsEntry("n_mean_ablation", 7).hasSize(12);
    }

    @Test
    void aRenamedNestedComponentRenamesItsColumns() {
        List<String> before = RecordSchema.of(Nested.class).columns(), after = RecordSchema.of(NestedRenamed.class).columns();
        assertThat(after).contains("p_raw_resample_ablation", "n_resample_ablation").doesNotContain("p_raw_mean_ablation");
        assertThat(after.stream().map(c -> c.replace("resample_ablation", "mean_ablation")).toList()).isEqualTo(before);
        assertThat(RecordSchema.componentNames(Nested.class)).containsExactly("id", "scores", "mean_ablation", "window", "count");
    }
}
