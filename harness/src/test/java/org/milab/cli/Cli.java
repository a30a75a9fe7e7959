package org.milab.cli;

import java.io.PrintWriter;
import java.io.StringWriter;

/** Runs the lab's command line in-process and keeps what it printed as errors, for the CLI tests. */
record Cli(int exit, String err) {
    static Cli run(String... args) {
        StringWriter err = new StringWriter();
        int code = Main.run(new PrintWriter(err, true), args);
        return new Cli(code, err.toString());
    }
}
