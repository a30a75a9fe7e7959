package org.milab.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.milab.model.Dtype;
import org.milab.model.ModelConfig;
import org.milab.model.SafetensorsWriter;
import org.milab.model.TestCheckpoints;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** Bad input to {@code milab export}: one clear message with the fix, exit 2, and no partial files. */
class ExportCommandTest {


    @Test
    void missingWeightsFileNamesTheFileAndTheFix(@TempDir Path root) throws IOException {
        Path missing = root.resolve("nope/model.safetensors");
        Cli o = Cli.run("export", "--root", root.toString(), "--model", "gpt2", "--weights", missing.toString());
        assertThat(o.exit()).isEqualTo(2);
        assertThat(o.err()).startsWith("error: ").contains(missing.toString()).contains("Fix:")
                .doesNotContain("Exception").doesNotContain("\tat ");
        assertNothingWritten(root);
    }

    @Test
    void truncatedCheckpointIsRefusedWithoutPartialOutput(@TempDir Path root) throws IOException {
        Path dir = root.resolve("ckpt");
        // GPT-2's vocabulary so that the file itself is what gets refused
        ModelConfig cfg = new ModelConfig(1, 2, 16, 50257, 8, 1e-5, ModelConfig.GELU_TANH, true);
        SafetensorsWriter.writeCheckpoint(dir, TestCheckpoints.random(cfg, 3, 0.1f), Dtype.F32, false);
        Path file = dir.resolve("model.safetensors");
        byte[] bytes = Files.readAllBytes(file);
        Files.write(file, java.util.Arrays.copyOf(bytes, bytes.length - 1000));
        Cli o = Cli.run("export", "--root", root.toString(), "--model", "tiny", "--weights", file.toString(),
                "--allow-unpinned");
        assertThat(o.exit()).isEqualTo(2);
        assertThat(o.err()).startsWith("error: ").contains("model.safetensors").contains("Fix:");
        assertNothingWritten(root);
    }

    @Test
    void unpinnedWeightsNeedTheExplicitFlag(@TempDir Path root) {
        Path dir = root.resolve("ckpt");
        SafetensorsWriter.writeCheckpoint(dir, TestCheckpoints.random(TestCheckpoints.tiny(), 3, 0.1f), Dtype.F32, false);
        Cli o = Cli.run("export", "--root", root.toString(), "--model", "tiny",
                "--weights", dir.resolve("model.safetensors").toString());
        assertThat(o.exit()).isEqualTo(2);
        assertThat(o.err()).contains("--allow-unpinned");
        assertThat(root.resolve("graphs")).doesNotExist();
    }

    @Test
    void nonGpt2VocabularyIsRefusedOnTheGpt2Route(@TempDir Path root) throws IOException {
        Path dir = root.resolve("ckpt");
        SafetensorsWriter.writeCheckpoint(dir, TestCheckpoints.random(TestCheckpoints.tiny(), 3, 0.1f), Dtype.F32, false);
        Cli o = Cli.run("export", "--root", root.toString(), "--model", "tiny",
                "--weights", dir.resolve("model.safetensors").toString(), "--allow-unpinned");
        assertThat(o.exit()).isEqualTo(2);
        assertThat(o.err()).contains("vocabulary").contains("50257");
        assertNothingWritten(root);
    }

    private static void assertNothingWritten(Path root) throws IOException {
        for (String d : new String[]{"graphs", "manifests"}) {
            Path p = root.resolve(d);
            if (Files.exists(p))
                try (Stream<Path> s = Files.walk(p)) {
                    assertThat(s.filter(Files::isRegularFile).toList()).as(d).isEmpty();
                }
        }
        try (Stream<Path> s = Files.list(root)) {
            assertThat(s.map(x -> x.getFileName().toString()).filter(n -> n.startsWith(".export-")).toList())
                    .as("staging folders").isEmpty();
        }
    }
}
