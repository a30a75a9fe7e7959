package org.milab.tables;

import org.milab.util.ColumnName;

import org.junit.jupiter.api.Test;
import org.milab.util.Json;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Where a written name differs from the component's snake_case, it is declared once on the component
 * ({@link ColumnName}, {@link PrecededBy}) and both the table columns and the JSON keys follow it.
 */
class ColumnNameTest {
    record Knobs(@ColumnName("model") String modelId, List<Integer> seeds,
                 @PrecededBy(key = "sweep_seeds", component = "seeds") int sweepCount, Path file) {}

    record Broken(@PrecededBy(key = "x", component = "nope") int a) {}

    @Test
    void aColumnNameRenamesTheColumnAndTheKey() throws Exception {
        Knobs k = new Knobs("m", List.of(1, 2), 8, Path.of("a", "b.json"));
        assertThat(RecordSchema.of(Row.class).columns()).containsExactly("model", "n_rank_at_most_10");
        Table t = RecordSchema.of(Row.class).builder("t", List.of(new Row("gpt2", 3)), "model").build();
        assertThat(t.columnNames()).containsExactly("model", "n_rank_at_most_10");
        assertThat(RecordSchema.of(Row.class).read(t)).containsExactly(new Row("gpt2", 3));
        // a hand-written expected document: names, order, the repeated value and the path as its string
        String file = Path.of("a", "b.json").toString();
        assertThat(Json.COMPACT.writeValueAsString(RecordSchema.treeMap(k))).isEqualTo(
                "{\"model\":\"m\",\"seeds\":[1,2],\"sweep_seeds\":[1,2],\"sweep_count\":8,\"file\":\"" + file + "\"}");
    }

    record Row(@ColumnName("model") String modelId, long nRankAtMost_10) {}

    @Test
    void aPrecededByNamingNoComponentIsAnError() {
        assertThatThrownBy(() -> RecordSchema.treeMap(new Broken(1))).hasMessageContaining("no component 'nope'");
    }
}
