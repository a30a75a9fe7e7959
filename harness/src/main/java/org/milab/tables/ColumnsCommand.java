package org.milab.tables;

import org.milab.util.AtomicFiles;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code columns}: the column glossary (make columns), or one run's tables with their columns described. */
@Command(name = "columns", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Print the column glossary as Markdown (every column's one-line description), or list a run's "
                + "tables with each column's type and description.",
                "Exit codes: 0 ok; 1 with --run when a column has no description; 2 bad input."})
public final class ColumnsCommand implements Callable<Integer> {
    @Option(names = "--out", paramLabel = "FILE", description = "Also write the glossary to FILE (make columns writes COLUMNS.md).")
    Path out;

    @Option(names = "--run", paramLabel = "DIR", description = "List this run folder's tables instead (results/<run> or a part of it).")
    Path run;

    PrintStream stdout = System.out;

    @Override
    public Integer call() {
        if (run != null) return listRun(DiffCommand.resolveRun(run.toString()));
        String md = ColumnGlossary.markdown();
        stdout.print(md);
        if (out != null) {
            AtomicFiles.writeString(out, md);
            stdout.println("\nWrote " + out);
        }
        return 0;
    }

    private int listRun(Path dir) {
        RunIntegrity.verify(dir);
        List<Path> files = RunColumns.tables(dir);
        List<String> undescribed = new ArrayList<>();
        for (Path f : files) {
            Table t = ArrowTables.read(f);
            stdout.printf("%n%s (%d rows; keys %s)%n", dir.relativize(f), t.rowCount(), t.keys());
            for (Column c : t.columns()) {
                String d = t.descriptions().get(c.name());
                if (d == null) undescribed.add(dir.relativize(f) + ": " + c.name());
                stdout.printf("  %-40s %-12s %s%n", c.name(), c.type().name().toLowerCase(java.util.Locale.ROOT),
                        d == null ? "(no description)" : d);
            }
        }
        stdout.printf("%n%d tables; %d columns without a description%n", files.size(), undescribed.size());
        undescribed.forEach(u -> stdout.println("  " + u));
        return undescribed.isEmpty() ? 0 : 1;
    }
}
