package org.milab.rowfixture;

import org.milab.tables.RecordSchema;
import org.milab.tables.Table;

import java.util.List;

/** The clean way {@code RowsFromRecordsTest} accepts: the record is the row. */
public class RecordRows {
    record Score(String id, double score) {}

    public static Table build() {
        return RecordSchema.of(Score.class).builder("clean", List.of(new Score("a", 1.0)), "id").build();
    }
}
