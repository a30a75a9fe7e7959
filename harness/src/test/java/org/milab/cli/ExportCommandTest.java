package org.milab.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
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

    @Test
    void badPlantedLayoutsAreRefusedBeforeAnythingIsBuilt(@TempDir Path root) throws IOException {
        Cli wrongLayer = Cli.run("export", "--root", root.toString(), "--model", "planted-mine", "--planted-layout",
                "layers=2,prev=L0H1,induction=L0H2,duplicate=L1H0,frequency=L1H1,sink=L0H3");
        assertThat(wrongLayer.exit()).isEqualTo(2);
        assertThat(wrongLayer.err()).startsWith("error: ").contains("L0H2", "last layer", "Fix:").doesNotContain("\tat ");
        Cli unknownName = Cli.run("export", "--root", root.toString(), "--model", "planted-mine");
        assertThat(unknownName.exit()).isEqualTo(2);
        assertThat(unknownName.err()).contains("planted-backup", "--planted-layout");
        Cli conflict = Cli.run("export", "--root", root.toString(), "--model", "planted-backup", "--planted-layout", "deep3");
        assertThat(conflict.exit()).isEqualTo(2);
        assertThat(conflict.err()).contains("names the 'backup' preset");
        Cli notPlanted = Cli.run("export", "--root", root.toString(), "--model", "gpt2", "--planted-layout", "backup");
        assertThat(notPlanted.exit()).isEqualTo(2);
        assertThat(notPlanted.err()).contains("--planted-layout applies to planted models");
        Cli weights = Cli.run("export", "--root", root.toString(), "--model", "planted-deep3", "--weights",
                root.resolve("model.safetensors").toString());
        assertThat(weights.exit()).isEqualTo(2);
        assertThat(weights.err()).contains("is generated", "WEIGHTS");
        assertNothingWritten(root);
    }

    /** A custom layout under its own model name lands in graphs/<name>/ with the layout in every manifest. */
    @Test
    void customPlantedLayoutExportsUnderItsModelName(@TempDir Path root) throws IOException {
        String spec = "layers=2,prev=L0H7,induction=L1H6,backup=L1H4:0.25,duplicate=L0H0,frequency=L1H5,sink=L1H0";
        Cli o = Cli.run("export", "--root", root.toString(), "--model", "planted-mine", "--planted-layout", spec,
                "--planted-seed", "5", "--planted-noise", "0");
        assertThat(o.exit()).as(o.err()).isZero();
        JsonNode manifest = new ObjectMapper().readTree(root.resolve("manifests/planted-mine/patch_z.json").toFile());
        JsonNode truth = manifest.get("ground_truth");
        assertThat(truth.get("model").asText()).isEqualTo("planted-mine");
        assertThat(truth.get("preset").asText()).isEqualTo("custom");
        assertThat(truth.get("layout").asText()).isEqualTo(spec);
        assertThat(truth.get("seed").asLong()).isEqualTo(5);
        assertThat(truth.get("answerHead").asText()).isEqualTo("L1H6");
        assertThat(manifest.get("planted_spec").get("noise_std").asDouble()).isZero();
        assertThat(root.resolve("graphs/planted-mine/checkpoint/ground_truth.json")).isRegularFile();
        assertThat(root.resolve("graphs/planted-induction")).doesNotExist();
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
            assertThat(s.map(x -> x.getFileName().toString()).filter(n -> n.startsWith(".export-") || n.startsWith(".export~")).toList())
                    .as("staging folders").isEmpty();
        }
    }
}
