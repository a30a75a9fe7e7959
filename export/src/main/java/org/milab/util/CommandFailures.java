package org.milab.util;

import picocli.CommandLine;

import java.io.PrintWriter;

/**
 * How a command that threw ends, for the {@code milab} command line and every other entry point (benchmarks):
 * a {@link UserError} anywhere in the cause chain is one {@code error:} line and exit 2; anything else is a bug,
 * exit 3 with its trace.
 */
public final class CommandFailures {
    public static final int USER_ERROR = 2, INTERNAL_ERROR = 3;

    private CommandFailures() {}

    /** Prints what {@code ex} means to {@code err} and returns the exit code. */
    public static int report(Exception ex, PrintWriter err) {
        UserError user = userError(ex);
        if (user != null) {
            err.println("error: " + user.getMessage());
            return USER_ERROR;
        }
        err.println("internal error (a bug, please report it with this trace):");
        ex.printStackTrace(err);
        return INTERNAL_ERROR;
    }

    /** The first {@link UserError} in {@code t}'s cause chain, or null. */
    private static UserError userError(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) if (c instanceof UserError u) return u;
        return null;
    }

    /** Runs a picocli {@code command} as a process's entry point would; returns its exit code. */
    public static int execute(Object command, String... args) {
        return execute(command, new PrintWriter(System.err, true), args);
    }

    /** As {@link #execute(Object, String...)}, messages to {@code err} (tests capture them). */
    public static int execute(Object command, PrintWriter err, String... args) {
        CommandLine cli = new CommandLine(command);
        cli.setErr(err);
        cli.setExecutionExceptionHandler((ex, cmd, parsed) -> report(ex, cmd.getErr()));
        return cli.execute(args);
    }
}
