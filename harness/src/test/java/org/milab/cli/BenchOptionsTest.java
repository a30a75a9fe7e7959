package org.milab.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** The peer's options are checked before anything is opened: one message naming the fix, exit 2, no files. */
class BenchOptionsTest {
    @Test
    void thePeerNeedsItsCheckpointAndTheMinimalPath(@TempDir Path root) throws Exception {
        Cli noCkpt = Cli.run("bench", "--root=" + root, "--peer-python=python3");
        assertThat(noCkpt.exit()).as(noCkpt.err()).isEqualTo(2);
        assertThat(noCkpt.err()).contains("--peer-checkpoint").contains("graphs/.bench-checkpoint/model.safetensors");
        Path ckpt = Files.writeString(root.resolve("model.safetensors"), "x");
        Cli legacy = Cli.run("bench", "--root=" + root, "--peer-python=python3", "--peer-checkpoint=" + ckpt, "--engine-path=legacy");
        assertThat(legacy.exit()).as(legacy.err()).isEqualTo(2);
        assertThat(legacy.err()).contains("minimal path");
        try (var files = Files.list(root)) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactly("model.safetensors"); // no results/
        }
    }
}
