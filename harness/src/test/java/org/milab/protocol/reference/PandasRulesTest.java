package org.milab.protocol.reference;

import org.junit.jupiter.api.Test;
import org.milab.tables.Table;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

class PandasRulesTest {

    /** Expected values printed by json.loads(pd.DataFrame({"v": vals}).to_json(orient="records")), pandas 1.5.3. */
    @Test
    void toJsonRoundingMatchesPandas() {
        double[][] cases = {
                {0.123456789012345, 0.123456789}, {1.23456789016, 1.2345678902}, {-0.25, -0.25}, {1e-16, 1e-16},
                {0.99999999999, 1.0}, {3.0, 3.0}, {5e-11, 1e-10}, {1.5e-10, 2e-10}, {2.5e-10, 2e-10},
                {0.30000000005, 0.3}, {1.0 / 3, 0.3333333333}, {-1.0 / 7, -0.1428571429},
                {12345.678901234567, 12345.6789012346}, {0.0, 0.0}, {7.49999999995e-6, 7.5e-6}};
        for (double[] c : cases)
            assertThat(PandasRules.toJsonRounded(c[0])).as("%s", c[0]).isEqualTo(c[1]);
        assertThat(PandasRules.toJsonRounded(null)).isNull();
        assertThat(PandasRules.toJsonRounded(Double.NaN)).isNull();
    }

    @Test
    void descendingSortKeepsTiesInInputOrderAndPutsMissingLast() {
        List<double[]> rows = new ArrayList<>();
        double[] keys = {0.5, Double.NaN, 0.9, 0.5, -1, 0.9};
        for (int i = 0; i < keys.length; i++) rows.add(new double[]{keys[i], i});
        List<double[]> sorted = PandasRules.sortDescending(rows, r -> r[0]);
        assertThat(sorted.stream().mapToInt(r -> (int) r[1]).toArray()).containsExactly(2, 5, 0, 3, 4, 1);
        List<Double> withNull = Arrays.asList(null, 1.0, 2.0);
        assertThat(PandasRules.sortDescending(withNull, d -> d)).containsExactly(2.0, 1.0, null);
    }

    @Test
    void groupByIsSortedByKeyColumnsAndNuniqueSkipsNulls() {
        Table t = Table.builder("t").string("family", "example_id").int64("layer")
                .addRow("b", "x", 2).addRow("a", "y", 10).addRow("b", "x", 1).addRow("a", null, 9).addRow("a", "z", 10)
                .build();
        Map<List<Object>, Table> g = PandasRules.groupBySorted(t, "family", "layer");
        assertThat(g.keySet()).containsExactly(List.of("a", 9L), List.of("a", 10L), List.of("b", 1L), List.of("b", 2L));
        assertThat(g.get(List.of("a", 10L)).rowCount()).isEqualTo(2);
        assertThat(PandasRules.nunique(t, "example_id")).isEqualTo(3);
    }
}
