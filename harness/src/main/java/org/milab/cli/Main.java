package org.milab.cli;

import org.milab.tables.ColumnsCommand;
import org.milab.tables.DiffCommand;
import org.milab.util.UserError;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code milab} command line; the Makefile targets call its subcommands. */
@Command(name = "milab", mixinStandardHelpOptions = true, version = "milab 0.1.0",
        description = "Local MI Lab for the JVM: export GPT-2 to hooked ONNX graphs, patch heads, write Arrow tables.",
        subcommands = {ExportCommand.class, InspectCommand.class, RandomCheckpointCommand.class, DiffCommand.class, ColumnsCommand.class,
                BenchCommand.class, RunCommands.Heldout.class, RunCommands.Sweep.class,
                RunCommands.All.class, RunCommands.Characterization.class, RunCommands.Calibration.class})
public final class Main {

    public static void main(String[] args) {
        System.exit(run(args));
    }

    public static int run(String... args) {
        return run(new java.io.PrintWriter(System.err, true), args);
    }

    /** Runs with error messages going to {@code err} (tests capture them). */
    public static int run(java.io.PrintWriter err, String... args) {
        CommandLine cli = new CommandLine(new Main());
        cli.setErr(err);
        cli.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            UserError user = userError(ex);
            if (user != null) {
                cmd.getErr().println("error: " + user.getMessage());
                return 2;
            }
            throw ex;
        });
        return cli.execute(args);
    }

    private static UserError userError(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) if (c instanceof UserError u) return u;
        return null;
    }
}
