package org.milab.bench;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.milab.util.CommandFailures;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The benchmarks' own entry points (make bench-v2, bench-rows, bench-circuit) end bad input as the milab command
 * line does: one {@code error:} line naming the problem and its fix, exit 2, no stack trace and no files left.
 */
class BenchEntryPointsTest {
    @Test
    void aMissingModelIsOneLineAndExitTwo(@TempDir Path root) throws Exception {
        for (Object command : List.of(new V2ScaleBench(), new PatchRowsBench(), new CircuitBench())) {
            StringWriter err = new StringWriter();
            int code = CommandFailures.execute(command, new PrintWriter(err, true), "--root", root.toString(),
                    "--model", "no-such-model");
            String name = command.getClass().getSimpleName();
            assertThat(code).as(name + " exit code").isEqualTo(CommandFailures.USER_ERROR);
            List<String> lines = err.toString().lines().filter(l -> !l.isBlank()).toList();
            assertThat(lines).as(name + " output").hasSize(1);
            assertThat(lines.get(0)).as(name).startsWith("error: ").contains("no-such-model").doesNotContain("Exception");
            try (Stream<Path> left = Files.list(root)) {
                assertThat(left.toList()).as(name + " left files").isEmpty();
            }
        }
    }
}
