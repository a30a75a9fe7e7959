package org.milab.prompts;

import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The reference's {@code prompt_sample.csv}: {@code pd.read_csv(prompts.csv).head(24).to_csv(index=False)}.
 * pandas infers each column's type from the whole file, so a nullable-int column with any empty cell
 * becomes float and its numbers are written {@code 2.0} even in the first rows. Every other cell keeps its
 * {@code prompts.csv} text (the prompt vocabularies hold no numeral or NA-like words that pandas would
 * re-type).
 */
public final class PromptSample {
    /** Rows kept by the reference ({@code head(24)}). */
    public static final int DEFAULT_ROWS = 24;

    private PromptSample() {}

    /** Nullable-int columns that have at least one None in {@code file} (pandas reads them as float64). */
    public static Set<String> floatIntColumns(List<PromptRecord> file) {
        Set<String> out = new LinkedHashSet<>();
        for (String column : PromptRecord.NULLABLE_INT_COLUMNS) {
            if (file.stream().anyMatch(r -> !r.hasInt(column))) {
                out.add(column);
            }
        }
        return out;
    }

    /** Cell texts of the first {@code n} rows after the pandas round trip (header not included). */
    public static List<List<String>> rows(List<PromptRecord> file, int n) {
        Set<String> floats = floatIntColumns(file);
        return file.stream().limit(n).map(r -> r.pandasCsvValues(floats)).toList();
    }
}
