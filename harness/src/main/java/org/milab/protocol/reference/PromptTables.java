package org.milab.protocol.reference;

import org.milab.prompts.PromptRecord;
import org.milab.tables.ColumnType;
import org.milab.tables.TableBuilder;
import org.milab.tables.Table;

import java.util.List;

/** prompts.arrow: the reference's 27 prompt columns, typed; its two JSON-list columns are list&lt;utf8&gt; columns. */
public final class PromptTables {
    private PromptTables() {}

    public static TableBuilder build(List<PromptRecord> records) {
        TableBuilder b = Table.builder("prompts").keys("example_id");
        for (String c : PromptRecord.COLUMNS) b.column(c, type(c));
        for (PromptRecord r : records) b.addRow(r.values().toArray());
        return b;
    }

    private static ColumnType type(String column) {
        if (PromptRecord.NULLABLE_INT_COLUMNS.contains(column)) return ColumnType.INT64;
        if (column.equals("is_positive_induction_example") || column.equals("should_show_induction_behavior"))
            return ColumnType.BOOL;
        if (column.equals("prompt_tokens_text") || column.equals("sequence_tokens")) return ColumnType.STRING_LIST;
        return ColumnType.STRING;
    }
}
