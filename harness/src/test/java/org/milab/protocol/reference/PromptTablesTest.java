package org.milab.protocol.reference;

import org.junit.jupiter.api.Test;
import org.milab.prompts.PromptRecord;
import org.milab.tables.ColumnType;
import org.milab.tables.Table;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * prompts.arrow is written from {@link PromptRecord} itself: its columns are the reference's CSV header
 * ({@link PromptRecord#COLUMNS}, spelled out independently of the record) in order, typed as the reference's
 * prompt tables were (nullable ints INT64, the two flags BOOL, the two token lists list&lt;utf8&gt;, the rest STRING),
 * and a row's cells are the record's values.
 */
class PromptTablesTest {
    @Test
    void promptsTableHasTheReferenceColumnsTypesAndValues() {
        PromptRecord r = PromptRecord.builder().exampleId("x_0000").promptTokensText(List.of("A", "B"))
                .positiveInductionExample(true).familyIndex(7).build();
        Table t = PromptTables.build(List.of(r)).build();
        assertThat(t.columnNames()).isEqualTo(PromptRecord.COLUMNS);
        assertThat(t.keys()).containsExactly("example_id");
        for (String c : PromptRecord.COLUMNS) {
            ColumnType expected = PromptRecord.NULLABLE_INT_COLUMNS.contains(c) ? ColumnType.INT64
                    : c.equals("is_positive_induction_example") || c.equals("should_show_induction_behavior") ? ColumnType.BOOL
                    : c.equals("prompt_tokens_text") || c.equals("sequence_tokens") ? ColumnType.STRING_LIST : ColumnType.STRING;
            assertThat(t.type(c)).as(c).isEqualTo(expected);
        }
        Table.Row row = t.row(0);
        assertThat(row.getString("example_id")).isEqualTo("x_0000");
        assertThat(row.getBool("is_positive_induction_example")).isTrue();
        assertThat(row.getStrings("prompt_tokens_text")).containsExactly("A", "B");
        assertThat(row.getLong("family_index")).isEqualTo(7L);
        assertThat(row.get("repeated_prefix_length")).isNull();
        List<Object> values = r.values();
        for (int i = 0; i < values.size(); i++) {
            Object v = values.get(i);
            Object cell = row.get(PromptRecord.COLUMNS.get(i));
            assertThat(cell).as(PromptRecord.COLUMNS.get(i)).isEqualTo(v instanceof Integer n ? Long.valueOf(n) : v);
        }
    }
}
