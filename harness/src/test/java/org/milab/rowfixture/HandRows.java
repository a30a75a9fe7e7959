package org.milab.rowfixture;

import org.milab.tables.Table;
import org.milab.tables.TableBuilder;

import java.util.List;
import java.util.Map;

/** Planted violations of {@code RowsFromRecordsTest}: a row map (called and passed as a method reference), a positional row
 * and a named-cell row. */
public class HandRows {
    public static Table build() {
        TableBuilder b = Table.builder("planted").keys("id").string("id").float64("score");
        b.addRow(Map.of("id", "a", "score", 1.0));
        b.addRow("b", 2.0);
        b.row().set("id", "c").set("score", 3.0).add();
        List.of(Map.of("id", "d", "score", 4.0)).forEach(b::addRow);
        return b.build();
    }
}
