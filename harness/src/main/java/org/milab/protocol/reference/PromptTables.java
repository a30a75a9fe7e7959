package org.milab.protocol.reference;

import org.milab.prompts.PromptRecord;
import org.milab.tables.ColumnType;
import org.milab.tables.TableBuilder;
import org.milab.tables.Table;

import java.util.List;

/** prompts.arrow: the reference's 27 prompt columns, typed (JSON-list columns stay JSON text). */
public final class PromptTables {
    private PromptTables() {}

    public static TableBuilder build(List<PromptRecord> records) {
        TableBuilder b = Table.builder("prompts").keys("example_id");
        for (String c : PromptRecord.COLUMNS) b.column(c, type(c));
        for (PromptRecord r : records) {
            List<Object> values = r.values();
            List<String> cells = r.csvValues(); // the reference's json.dumps text for list columns
            Object[] row = new Object[values.size()];
            for (int i = 0; i < row.length; i++) row[i] = values.get(i) instanceof List<?> ? cells.get(i) : values.get(i);
            b.addRow(row);
        }
        return b;
    }

    private static ColumnType type(String column) {
        if (PromptRecord.NULLABLE_INT_COLUMNS.contains(column)) return ColumnType.INT64;
        if (column.equals("is_positive_induction_example") || column.equals("should_show_induction_behavior"))
            return ColumnType.BOOL;
        return ColumnType.STRING;
    }
}
