package org.milab.cli;

import org.milab.lab.LabFixtures;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** Runs the lab's command line in-process and keeps what it printed as errors, for the CLI tests. */
record Cli(int exit, String err) {
    static Cli run(String... args) {
        StringWriter err = new StringWriter();
        int code = Main.run(new PrintWriter(err, true), args);
        return new Cli(code, err.toString());
    }

    /** The bad-input suites' project: the random word model "words" exported, and a finished run no case may touch. */
    static void wordsWithFinishedRun(Path root, String runId) throws IOException {
        LabFixtures.exportRandomWordModel(root, "words", 3, List.of());
        Cli first = run("run-calibration", "--root=" + root, "--model=words", "--run-id=" + runId);
        assertThat(first.exit()).as(first.err()).isZero();
    }
}
