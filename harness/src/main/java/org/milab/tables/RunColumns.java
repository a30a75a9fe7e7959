package org.milab.tables;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * The columns of every table under a run folder, checked against the two rules every table follows: each column
 * has a one-line description in its Arrow field metadata, and that description is the glossary's
 * ({@code columns.txt}, hence listed in COLUMNS.md). What {@code make columns RUN=...} reports, and what each run
 * type's end-to-end test asserts.
 */
public final class RunColumns {
    private RunColumns() {}

    /** Every table file under {@code dir}, sorted. */
    public static List<Path> tables(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(ArrowTables::isTableFile).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** "table path: column" for every column without a description. */
    public static List<String> undescribed(Path dir) {
        List<String> out = new ArrayList<>();
        for (Path f : tables(dir)) {
            Table t = ArrowTables.read(f);
            for (String c : t.columnNames()) if (t.descriptions().get(c) == null) out.add(dir.relativize(f) + ": " + c);
        }
        return out;
    }

    /**
     * "table path: column" for every column whose description is not the glossary's for its table (so COLUMNS.md
     * would not list it, or would say something else).
     */
    public static List<String> notInGlossary(Path dir) {
        List<String> out = new ArrayList<>();
        for (Path f : tables(dir)) {
            Table t = ArrowTables.read(f);
            for (String c : t.columnNames()) {
                String d = t.descriptions().get(c);
                if (d == null || !d.equals(ColumnGlossary.describe(t.name(), c))) out.add(dir.relativize(f) + ": " + c);
            }
        }
        return out;
    }
}
