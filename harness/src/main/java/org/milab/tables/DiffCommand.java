package org.milab.tables;

import org.milab.util.UserError;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code diff A B}: the command behind {@code make diff A=<run> B=<run>}. */
@Command(name = "diff", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Align two runs' Arrow tables on their key columns and report the differences.",
                "Run identity (run id, start time, code commit) is shown for each run but never compared, so two runs "
                        + "of one config compare as identical."})
public final class DiffCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "A", description = "First run folder (or a run name under results/).")
    String runA;

    @Parameters(index = "1", paramLabel = "B", description = "Second run folder (or a run name under results/).")
    String runB;

    @Option(names = "--tolerance", defaultValue = "0",
            description = "Report numeric cells only when |b - a| > this. Default: ${DEFAULT-VALUE} (exact).")
    double tolerance;

    @Option(names = "--max-lines", defaultValue = "20", description = "Change lines shown per table. Default: ${DEFAULT-VALUE}.")
    int maxLines;

    @Option(names = "--out", paramLabel = "DIR",
            description = "Also write diff.arrow, diff_summary.arrow, diff_columns.arrow and diff.txt here. Default: none.")
    Path out;

    @Option(names = "--exit-code", description = "Exit with 1 when the runs differ (like git diff --exit-code); default: 0 either way.")
    boolean exitCode;

    PrintStream stdout = System.out;

    @Override
    public Integer call() {
        if (!(tolerance >= 0) || Double.isInfinite(tolerance))
            throw new UserError("--tolerance " + tolerance + " is not a finite number >= 0.", "Pass e.g. --tolerance 1e-6 (0 = exact).");
        if (maxLines < 0) throw new UserError("--max-lines " + maxLines + " is negative.", "Pass 0 or more.");
        Path a = resolveRun(runA), b = resolveRun(runB);
        // both are checked against their records first: a table edited after its run is named, never compared
        RunIntegrity.verify(a);
        RunIntegrity.verify(b);
        RunDiff.Result result = RunDiff.diff(a, b, tolerance);
        stdout.print(result.render(maxLines));
        if (out != null) {
            result.writeTo(out);
            stdout.println("Wrote " + out.resolve("diff.arrow") + " and its summaries.");
        }
        return exitCode && !result.identical() ? 1 : 0;
    }

    /** A folder as given, else {@code results/<name>}. */
    static Path resolveRun(String run) {
        Path p = Path.of(run);
        if (Files.isDirectory(p)) return p;
        Path underResults = Path.of("results").resolve(run);
        if (Files.isDirectory(underResults)) return underResults;
        throw new UserError("Run folder '" + run + "' not found" + (p.startsWith("results") ? "." : " (nor " + underResults + ")."),
                "Pass a run folder (results/<run> or a folder inside it); ls results/ lists the runs.");
    }

    /** Standalone entry point; the lab CLI can register {@link DiffCommand} as a subcommand instead. */
    public static void main(String[] args) {
        CommandLine cli = new CommandLine(new DiffCommand());
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            if (!(e instanceof UserError)) throw e;
            cmd.getErr().println(e.getMessage());
            return 2;
        });
        System.exit(cli.execute(args));
    }
}
