package org.milab.tables;

import org.milab.util.AtomicFiles;
import org.milab.util.UserError;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * Diffs every {@code *.arrow} table of two run folders (searched recursively; a table is identified by its
 * path relative to the run folder, without the extension). Tables present in only one run are reported.
 * Run identity (run id, start time, code commit: {@link TableDiff#RUN_IDENTITY} and run_manifest.json) is
 * reported once per run and never counts as a difference, so two runs of one config compare as identical;
 * other provenance differences are listed once, with the number of tables they concern.
 */
public final class RunDiff {
    private RunDiff() {}

    /**
     * @param tables diff per table present in both runs, by relative path label, sorted
     */
    public record Result(Path runA, Path runB, double tolerance, Map<String, TableDiff.Result> tables,
                         List<String> onlyInA, List<String> onlyInB, Map<String, Object> identityA,
                         Map<String, Object> identityB) {
        public Result {
            tables = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(tables));
            onlyInA = List.copyOf(onlyInA);
            onlyInB = List.copyOf(onlyInB);
            identityA = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(identityA));
            identityB = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(identityB));
        }

        /** Each provenance difference (other than run identity) to the tables it appears in. */
        public Map<String, List<String>> provenanceChanges() {
            Map<String, List<String>> out = new LinkedHashMap<>();
            tables.forEach((label, r) -> r.provenanceChanges().forEach(p -> out.computeIfAbsent(p, k -> new ArrayList<>()).add(label)));
            return out;
        }

        public boolean identical() {
            return onlyInA.isEmpty() && onlyInB.isEmpty() && tables.values().stream().allMatch(TableDiff.Result::identical);
        }

        /** Every difference, one row each: the {@code diff} table. */
        public Table changes() {
            return DiffTables.changes(tables, onlyInA, onlyInB, provenance());
        }

        /** One row per table: the {@code diff_summary} table. */
        public Table summary() {
            return DiffTables.summary(tables, onlyInA, onlyInB, provenance());
        }

        /** One row per changed column: the {@code diff_columns} table (rows changed, max |delta|). */
        public Table columns() {
            return DiffTables.columns(tables, provenance());
        }

        private Map<String, Object> provenance() {
            Map<String, Object> p = new LinkedHashMap<>();
            p.put("run_a", runA.toString());
            p.put("run_b", runB.toString());
            p.put("run_a_identity", identityA);
            p.put("run_b_identity", identityB);
            p.put("tolerance", tolerance);
            return p;
        }

        /** The terminal report; at most {@code maxChangesPerTable} change lines per table. */
        public String render(int maxChangesPerTable) {
            StringBuilder sb = new StringBuilder();
            long different = tables.values().stream().filter(r -> !r.identical()).count();
            sb.append(String.format(Locale.ROOT, "diff A=%s B=%s (numeric tolerance %s)%n", runA, runB, tolerance));
            sb.append("run A: ").append(identityText(identityA)).append('\n');
            sb.append("run B: ").append(identityText(identityB)).append('\n');
            sb.append(String.format(Locale.ROOT, "%d table%s in both runs: %d identical, %d different; %d only in A, %d only in B%n",
                    tables.size(), tables.size() == 1 ? "" : "s", tables.size() - different, different,
                    onlyInA.size(), onlyInB.size()));
            for (String t : onlyInA) sb.append(t).append(": only in A\n");
            for (String t : onlyInB) sb.append(t).append(": only in B\n");
            tables.forEach((label, r) -> DiffTables.renderTable(sb, label, r, maxChangesPerTable, false));
            provenanceChanges().forEach((p, in) -> sb.append("provenance (not data) ").append(p).append(" in ")
                    .append(in.size() == tables.size() ? "every table" : in.size() == 1 ? in.get(0) : in.size() + " tables")
                    .append('\n'));
            sb.append(identical() ? "Runs are identical." : "Runs differ.");
            sb.append(identical() && !(identityA.isEmpty() && identityB.isEmpty())
                    ? " (run identity above is not compared)\n" : "\n");
            return sb.toString();
        }

        /** Writes diff.arrow, diff_summary.arrow, diff_columns.arrow and diff.txt (full text) into {@code dir}. */
        public void writeTo(Path dir) {
            ArrowTables.writeInto(dir, changes());
            ArrowTables.writeInto(dir, summary());
            ArrowTables.writeInto(dir, columns());
            AtomicFiles.writeString(dir.resolve("diff.txt"), render(Integer.MAX_VALUE));
        }
    }

    public static Result diff(Path runA, Path runB) {
        return diff(runA, runB, 0.0);
    }

    /** What identifies a run rather than its content, from run_manifest.json or else the first table's provenance. */
    static Map<String, Object> identity(Path run, Map<String, Path> tables) {
        Map<String, Object> out = new LinkedHashMap<>();
        Path manifest = run.resolve("run_manifest.json");
        Map<String, Object> source = Map.of();
        if (Files.isRegularFile(manifest)) {
            try {
                source = Json.readObject(Files.readString(manifest));
            } catch (IOException e) {
                source = Map.of(); // an unreadable manifest: fall back to table provenance
            }
        }
        if (source.isEmpty() && !tables.isEmpty()) source = ArrowTables.read(tables.values().iterator().next()).provenance();
        for (String k : IDENTITY_FIELDS) if (source.get(k) != null) out.put(k, source.get(k));
        return out;
    }

    /** Reported beside the diff, never compared: who/when wrote the run (the commit matters, so it is shown). */
    static final List<String> IDENTITY_FIELDS = List.of("run_id", "started_utc", "created_utc", "code_git_commit");

    private static String identityText(Map<String, Object> identity) {
        if (identity.isEmpty()) return "(no run manifest or provenance)";
        StringBuilder sb = new StringBuilder();
        identity.forEach((k, v) -> sb.append(sb.length() == 0 ? "" : ", ").append(k).append(' ').append(v));
        return sb.toString();
    }

    public static Result diff(Path runA, Path runB, double tolerance) {
        Map<String, Path> a = tableFiles(runA), b = tableFiles(runB);
        Map<String, TableDiff.Result> tables = new LinkedHashMap<>();
        List<String> onlyInA = new ArrayList<>(), onlyInB = new ArrayList<>();
        for (Map.Entry<String, Path> e : a.entrySet()) {
            Path other = b.get(e.getKey());
            if (other == null) {
                onlyInA.add(e.getKey());
            } else {
                tables.put(e.getKey(), TableDiff.diff(ArrowTables.read(e.getValue()), ArrowTables.read(other), tolerance));
            }
        }
        for (String label : b.keySet()) {
            if (!a.containsKey(label)) onlyInB.add(label);
        }
        return new Result(runA, runB, tolerance, tables, onlyInA, onlyInB, identity(runA, a), identity(runB, b));
    }

    /** Relative path without extension ('/'-separated) to file, sorted. */
    static Map<String, Path> tableFiles(Path run) {
        if (!Files.isDirectory(run)) {
            throw new UserError("Run folder " + run + " does not exist or is not a folder.",
                    "Pass two run folders, e.g. make diff A=results/<run-a> B=results/<run-b>.");
        }
        Map<String, Path> out = new TreeMap<>();
        try (Stream<Path> files = Files.walk(run)) {
            files.filter(ArrowTables::isTableFile).forEach(f -> {
                String rel = run.relativize(f).toString().replace(f.getFileSystem().getSeparator(), "/");
                out.put(rel.substring(0, rel.length() - ArrowTables.EXTENSION.length()), f);
            });
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot list " + run + ": " + e.getMessage(), e);
        }
        return out;
    }
}
