package org.milab.report;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.milab.cli.Main;
import org.milab.lab.LabFixtures;
import org.milab.testing.ChildJvm;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * report.html is byte-reproducible: written by the run, then again by {@code milab report} in two fresh JVMs
 * (each with its own hash seed, which reorders {@code Map.of} entries), the bytes are the same every time.
 */
class ReportReproducibleTest {
    @Test
    void theReportIsTheSameBytesInEveryJvm(@TempDir Path root) throws Exception {
        LabFixtures.exportRandomWordModel(root, "words", 3, List.of());
        assertThat(Main.run("run-sweep", "--root=" + root, "--model=words", "--run-id=r", "--control-seeds=0",
                "--controls-per-family=8", "--sweep-per-family=2", "--layer-patch-per-family=2")).isZero();
        Path report = root.resolve("results/r/report.html");
        byte[] first = Files.readAllBytes(report);
        for (int i = 0; i < 2; i++) {
            ChildJvm.Result r = ChildJvm.run(ChildJvm.command(Main.class.getName(), List.of("report", "--root=" + root, "results/r")),
                    root, 300);
            assertThat(r.exit()).as(r.err()).isZero();
            String again = Files.readString(report), before = new String(first, java.nio.charset.StandardCharsets.UTF_8);
            int at = 0;
            while (at < Math.min(again.length(), before.length()) && again.charAt(at) == before.charAt(at)) at++;
            assertThat(again.equals(before)).as("report.html rewritten by JVM %d differs from character %d: ...%s...", i + 1, at,
                    again.substring(Math.max(0, at - 80), Math.min(again.length(), at + 80))).isTrue();
        }
    }
}
