package org.milab.lab;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.milab.catalog.ModelLayout;
import org.milab.runtime.Device;
import org.milab.testing.ChildJvm;
import org.milab.testing.TestFiles;
import org.milab.util.FileTrees;
import org.milab.util.UserError;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Issue 10, defect 3: an opened model's graphs and weights are checked against its manifests, so a half-done
 * install (new graphs, old manifests) or a damaged weights file never produces numbers under another graph's
 * sha256.
 */
class ExportIntegrityTest {

    @Test
    void newGraphsWithOldManifestsDoNotLoad(@TempDir Path root) throws IOException {
        LabFixtures.randomWordModel(root, "m", 1).close();
        ModelLayout layout = new ModelLayout(root, "m");
        Path oldManifests = root.resolve("old-manifests");
        TestFiles.copyTree(layout.manifestDir(), oldManifests);
        LabFixtures.randomWordModel(root, "m", 2).close(); // a second export with other weights
        // what a kill between the two renames of the old install left: new graphs, old manifests
        FileTrees.delete(layout.manifestDir());
        TestFiles.copyTree(oldManifests, layout.manifestDir());

        assertThatThrownBy(() -> LabModel.open(root, "m", Device.CPU, 1)).isInstanceOf(UserError.class)
                .hasMessageContaining("does not match").hasMessageContaining("make export MODEL=m");
    }

    @Test
    void weightsWithChangedBytesButTheSameSizeDoNotLoad(@TempDir Path root) throws IOException {
        LabFixtures.randomWordModel(root, "m", 1).close();
        LabModel.open(root, "m", Device.CPU, 1).close(); // a verified open (its check may be cached)
        Path weights = new ModelLayout(root, "m").graphDir().resolve("weights.bin");
        long size = Files.size(weights);
        try (RandomAccessFile f = new RandomAccessFile(weights.toFile(), "rw")) {
            f.seek(size / 2);
            int b = f.read();
            f.seek(size / 2);
            f.write(b ^ 0x40);
        }
        assertThat(Files.size(weights)).isEqualTo(size);
        assertThatThrownBy(() -> LabModel.open(root, "m", Device.CPU, 1)).isInstanceOf(UserError.class)
                .hasMessageContaining("weights.bin").hasMessageContaining("does not match");
    }

    /**
     * A real kill -9 of an export at several moments: afterwards the model opens verified (the old export or the
     * new one, never a mix) and no staging folder is left behind.
     */
    @Test
    void aKilledExportLeavesAVerifiedModelAndNoStagingFolders(@TempDir Path root) throws Exception {
        LabFixtures.exportRandomWordModel(root, "m", 100, java.util.List.of());
        java.util.Random random = new java.util.Random(10);
        for (int kill = 0; kill < 3; kill++) {
            Process p = ChildJvm.start(ChildJvm.command(LabFixtures.ExportForever.class.getName(),
                    java.util.List.of(root.toString(), "m")), root);
            Thread.sleep(1500 + random.nextInt(4000));
            p.destroyForcibly().waitFor();
            try (LabModel m = LabModel.open(root, "m", Device.CPU, 1)) {
                assertThat(m.provenance().get("checkpoint_sha256")).isEqualTo("test");
            }
            try (Stream<Path> s = Files.list(root)) {
                assertThat(s.map(f -> f.getFileName().toString()).filter(n -> n.startsWith(".export-") || n.startsWith(".export~")))
                        .as("after kill %d", kill).isEmpty();
            }
        }
    }
}
