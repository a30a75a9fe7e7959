package org.milab.tables;

import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TableTest {
    private static TableBuilder builder() {
        return Table.builder("heldout_robustness_results").keys("seed", "candidate_id")
                .int64("seed").string("candidate_id").int64("layer").string("family").float64("effect_size").bool("ok");
    }

    @Test
    void threeWaysToAddRowsGiveTheSameTable() {
        Table positional = builder().addRow(10, "cand_000", 7, "word", 0.5, true).build();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("candidate_id", "cand_000");
        m.put("seed", 10L);
        m.put("family", "word");
        m.put("layer", 7);
        m.put("effect_size", 0.5f); // float widens exactly to the double 0.5
        m.put("ok", true);
        Table byMap = builder().addRow(m).build();
        Table typed = builder().row().set("seed", 10).set("candidate_id", "cand_000").set("layer", (short) 7)
                .set("family", "word").set("effect_size", 0.5).set("ok", true).add().build();

        assertThat(byMap).isEqualTo(positional);
        assertThat(typed).isEqualTo(positional);
        assertThat(positional.columnNames()).containsExactly("seed", "candidate_id", "layer", "family", "effect_size", "ok");
        assertThat(positional.longs("layer")).containsExactly(7L);
    }

    @Test
    void unsetCellsAreNullAndNanIsAValue() {
        Table t = builder().row().set("seed", 1).set("candidate_id", "a").set("effect_size", Double.NaN).add()
                .addRow(Map.of("seed", 2, "candidate_id", "b", "effect_size", 3)) // int widens to FLOAT64
                .build();

        assertThat(t.rowCount()).isEqualTo(2);
        assertThat(t.doubles("effect_size")).containsExactly(Double.NaN, 3.0);
        assertThat(t.strings("family")).containsExactly(null, null);
        assertThat(t.row(0).getBool("ok")).isNull();
        assertThat(t.row(1).key()).containsExactly(2L, "b");
        assertThat(t.row(1).toMap()).containsEntry("candidate_id", "b").containsEntry("layer", null);
    }

    @Test
    void mistakesFailWithTheTableRowAndColumn() {
        assertThatThrownBy(() -> builder().addRow(Map.of("seed", 1, "candidate_id", "a", "laye", 3)))
                .hasMessageContaining("Table 'heldout_robustness_results'").hasMessageContaining("no column 'laye'");
        assertThatThrownBy(() -> builder().row().set("seed", 1).set("candidate_id", "a").set("layer", 7.0).add())
                .hasMessageContaining("row 0 column 'layer' is INT64 but got Double 7.0");
        assertThatThrownBy(() -> builder().row().set("seed", 1).set("candidate_id", "a").set("family", 3).add())
                .hasMessageContaining("column 'family' is STRING but got Integer 3");
        assertThatThrownBy(() -> builder().addRow(1, "a", 2, "w", 0.1, true).row().set("seed", 1).add())
                .hasMessageContaining("row 1 has no value for key column 'candidate_id'");
        assertThatThrownBy(() -> builder().addRow(1, "a")).hasMessageContaining("has 2 values but the table has 6 columns");
        assertThatThrownBy(() -> builder().addRow(1, "a", 2, "w", 0.1, true).float64("late"))
                .hasMessageContaining("declared after rows");
        assertThatThrownBy(() -> Table.builder("t").keys("id").string("x").build())
                .hasMessageContaining("key column 'id' is not declared");
        assertThatThrownBy(() -> Table.builder("t").string("x").int64("x")).hasMessageContaining("declared twice");
        assertThatThrownBy(() -> builder().row().set("seed", 1).set("seed", 2))
                .hasMessageContaining("sets column 'seed' twice");
        assertThatThrownBy(() -> Table.builder("t").metadata("milab.keys", "[]"))
                .hasMessageContaining("reserved");
    }

    @Test
    void failedRowLeavesTheBuilderConsistent() {
        TableBuilder b = builder().addRow(1, "a", 2, "w", 0.1, true);
        assertThatThrownBy(() -> b.addRow(2, "b", 3, "w", "not a number", true)).isInstanceOf(IllegalArgumentException.class);
        Table t = b.addRow(3, "c", 4, "w", 0.2, false).build();

        assertThat(t.longs("seed")).containsExactly(1L, 3L);
        assertThat(t.strings("family")).containsExactly("w", "w");
    }

    @Test
    void accessorsCheckTheColumnType() {
        Table t = builder().addRow(1, "a", 2, "w", 0.1, true).build();
        assertThatThrownBy(() -> t.doubles("layer")).hasMessageContaining("column 'layer' is INT64, not FLOAT64");
        assertThatThrownBy(() -> t.strings("nope")).hasMessageContaining("has no column 'nope'");
        assertThatThrownBy(() -> t.longs("layer").set(0, 5L)).isInstanceOf(UnsupportedOperationException.class);
    }

    @Test
    void filterAndGroupByKeepSchemaAndOrder() {
        Table t = builder()
                .addRow(10, "a", 1, "word", 0.5, true)
                .addRow(10, "b", 2, "number", -0.5, false)
                .addRow(11, "a", 3, "word", 1.5, true)
                .addRow(11, "b", 4, "word", null, true)
                .provenance(Map.of("git_commit", "abc"))
                .build();

        Table words = t.filter(r -> "word".equals(r.getString("family")));
        assertThat(words.longs("layer")).containsExactly(1L, 3L, 4L);
        assertThat(words.columnNames()).isEqualTo(t.columnNames());
        assertThat(words.provenance()).isEqualTo(Map.of("git_commit", "abc"));

        Map<List<Object>, Table> groups = t.groupBy("family", "ok");
        assertThat(groups.keySet()).containsExactly(List.of("word", true), List.of("number", false));
        assertThat(groups.get(List.of("word", true)).strings("candidate_id")).containsExactly("a", "a", "b");
    }

    @Test
    void provenanceIsAJsonObject() {
        Table t = builder().build().withProvenance(Map.of("seeds", List.of(10, 11)));
        assertThat(t.provenanceJson()).isEqualTo("{\"seeds\":[10,11]}");
        assertThat(t.provenance()).isEqualTo(Map.of("seeds", List.of(10, 11)));
        assertThatThrownBy(() -> new Table("t", List.of(), List.of(), "[1,2]", Map.of()))
                .hasMessageContaining("provenance must be a JSON object");
    }
}
