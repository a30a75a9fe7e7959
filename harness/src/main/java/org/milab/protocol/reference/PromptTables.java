package org.milab.protocol.reference;

import org.milab.prompts.PromptRecord;
import org.milab.tables.RecordSchema;
import org.milab.tables.TableBuilder;

import java.util.List;

/**
 * prompts.arrow: the reference's 27 prompt columns, typed, written from {@link PromptRecord} itself (its components
 * are the columns, {@link PromptRecord#COLUMNS} in order); its two JSON-list columns are list&lt;utf8&gt; columns.
 */
public final class PromptTables {
    private PromptTables() {}

    public static TableBuilder build(List<PromptRecord> records) {
        return RecordSchema.of(PromptRecord.class).builder("prompts", records, "example_id");
    }
}
