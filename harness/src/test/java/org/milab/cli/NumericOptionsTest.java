package org.milab.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Issue 10, defect 4: every numeric option of the run commands is bounded (--batch-rows 200000000 used to
 * overflow an int inside the engine); an out-of-range value is one clear message, exit 2, nothing written.
 */
class NumericOptionsTest {

    static String[] run(Path root, String... extra) {
        StringWriter err = new StringWriter();
        String[] args = new String[extra.length + 3];
        args[0] = "run-heldout";
        args[1] = "--root=" + root;
        args[2] = "--model=words";
        System.arraycopy(extra, 0, args, 3, extra.length);
        int exit = Main.run(new PrintWriter(err, true), args);
        return new String[]{String.valueOf(exit), err.toString()};
    }

    @Test
    void outOfRangeValuesAreRefusedBeforeAnythingIsWritten(@TempDir Path root) {
        String[][] cases = {
                {"--batch-rows=200000000", "--batch-rows 200000000 is out of range"},
                {"--batch-rows=0", "--batch-rows 0 is out of range"},
                {"--threads=-1", "--threads -1 is out of range"},
                {"--threads=100000", "--threads 100000 is out of range"},
                {"--controls-per-family=0", "--controls-per-family 0 is out of range"},
                {"--heldout-generated=2000000000", "--heldout-generated 2000000000 is out of range"},
                {"--seeds=10,-1", "--seeds seed -1 is out of range"},
                {"--seeds=10,10", "repeats a seed"},
                {"--control-seeds=", "must list between 1 and"},
        };
        for (String[] c : cases) {
            String[] r = run(root, c[0]);
            assertThat(r[0]).as(c[0]).isEqualTo("2");
            assertThat(r[1]).as(c[0]).contains(c[1]).doesNotContain("Exception").doesNotContain("\tat ");
        }
        assertThat(root.resolve("results")).doesNotExist();
    }
}
