package org.milab.cli;

import org.milab.tables.ColumnsCommand;
import org.milab.tables.DiffCommand;
import org.milab.util.CommandFailures;
import org.milab.util.UserError;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.util.LinkedHashMap;
import java.util.Map;

/** The {@code milab} command line; the Makefile targets call its subcommands (through bin/milab). */
@Command(name = "milab", mixinStandardHelpOptions = true, version = "milab 0.1.0",
        description = "Local MI Lab for the JVM: export GPT-2 to hooked ONNX graphs, patch heads, write Arrow tables.",
        subcommands = {ExportCommand.class, InspectCommand.class, RandomCheckpointCommand.class, DiffCommand.class,
                ColumnsCommand.class, BenchCommand.class, AttributeCommand.class, CircuitCommand.class, RunCommands.Sweep.class,
                RunCommands.Heldout.class, RunCommands.All.class, RunCommands.V2.class, RunCommands.Characterization.class,
                RunCommands.Calibration.class, ReportCommand.class})
public final class Main {
    /** The documented exit codes (every command's --help lists the ones it uses). */
    public static final int OK = 0, DIFFERS = 1, USER_ERROR = CommandFailures.USER_ERROR, INTERNAL_ERROR = CommandFailures.INTERNAL_ERROR;

    public static void main(String[] args) {
        // runs only when the JVM stops before the command returned: SIGTERM, Ctrl-C (SIGINT), SIGHUP
        Thread onSignal = new Thread(() -> System.err.println("milab: stopped by a signal (SIGTERM or Ctrl-C) before the "
                + "command finished. Nothing finished was changed; a run keeps what it wrote in results/<run-id>.incomplete: "
                + "continue it with the same RUN_ID and --resume (make run-... RUN_ID=<run-id>)."));
        Runtime.getRuntime().addShutdownHook(onSignal);
        int code = run(args);
        Runtime.getRuntime().removeShutdownHook(onSignal);
        System.exit(code);
    }

    public static int run(String... args) {
        return run(new java.io.PrintWriter(System.err, true), args);
    }

    /** Runs with error messages going to {@code err} (tests capture them). */
    public static int run(java.io.PrintWriter err, String... args) {
        CommandLine cli = commandLine();
        cli.setErr(err);
        cli.setParameterExceptionHandler(Main::badParameter);
        cli.setExecutionExceptionHandler((ex, cmd, parsed) -> failure(ex, cmd.getErr()));
        return cli.execute(args);
    }

    /** A command's exception: a user error is one message and exit 2; anything else is a bug, exit 3 with its trace. */
    static int failure(Exception ex, java.io.PrintWriter err) {
        return CommandFailures.report(ex, err);
    }

    /**
     * The command tree: a repeated option takes its last value, so flags passed through make's ARGS (which
     * come last) override the Makefile's own (ARGS='--device auto' beats DEVICE=cpu).
     */
    static CommandLine commandLine() {
        CommandLine cli = new CommandLine(new Main());
        cli.setOverwrittenOptionsAllowed(true);
        exitCodes(cli, false);
        cli.getSubcommands().forEach((name, sub) -> exitCodes(sub, name.equals("diff") || name.equals("columns")));
        return cli;
    }

    private static void exitCodes(CommandLine cmd, boolean mayDiffer) {
        Map<String, String> codes = new LinkedHashMap<>();
        codes.put(" " + OK, "success");
        if (mayDiffer) codes.put(" " + DIFFERS, "diff --exit-code: the runs differ; columns --run: a column has no description");
        codes.put(" " + USER_ERROR, "bad input or environment (unknown option, missing model, no network...): "
                + "one message names the problem and the fix");
        codes.put(" " + INTERNAL_ERROR, "internal error: a bug (a stack trace is printed)");
        cmd.getCommandSpec().usageMessage().exitCodeListHeading("%nExit codes:%n").exitCodeList(codes);
    }

    /**
     * An option picocli cannot parse (unknown, stray word, not a number) gets one {@code error:} line like every
     * other bad input, naming what it could not use, instead of the whole usage text.
     */
    private static int badParameter(CommandLine.ParameterException ex, String[] args) {
        CommandLine cmd = ex.getCommandLine();
        String fix = "See `" + cmd.getCommandSpec().qualifiedName() + " --help` for its options.";
        if (ex instanceof CommandLine.UnmatchedArgumentException u && !u.getUnmatched().isEmpty()
                && !u.getUnmatched().get(0).startsWith("-"))
            fix = "A value with a space reaches milab as two words: '" + u.getUnmatched().get(0) + "' belongs to no "
                    + "option. Run ids and seed lists have no spaces (RUN_ID=my-run, SEEDS=1,2,3); quote other values. " + fix;
        cmd.getErr().println("error: " + new UserError(ex.getMessage(), fix).getMessage());
        return USER_ERROR;
    }
}
