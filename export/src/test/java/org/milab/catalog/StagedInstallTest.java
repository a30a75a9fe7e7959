package org.milab.catalog;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The export install after a kill at every point of it (issue 10, defect 3): the state a dead process left is
 * written as it would be on disk (staging folder with its marker, lock file not held), and the next recover()
 * must end with the whole new export or the whole old one, never a mix, and no staging folder.
 */
class StagedInstallTest {
    static final String M = "m";

    /** Old export in place; a staged new one with the install marker; {@code moves} of its four renames done. */
    static Path killedDuringInstall(Path root, int moves, boolean marker) throws IOException {
        write(root.resolve("graphs/m/weights.bin"), "old");
        write(root.resolve("manifests/m/capture.json"), "old");
        Path stage = root.resolve(StagedDirs.PREFIX + M + "-stage-123");
        write(stage.resolve("model"), M);
        write(stage.resolve(".lock"), "");
        write(stage.resolve("graphs/m/weights.bin"), "new");
        write(stage.resolve("manifests/m/capture.json"), "new");
        if (marker) write(stage.resolve("INSTALLING"), M);
        Path[][] steps = {
                {root.resolve("graphs/m"), stage.resolve("old/graphs")},
                {stage.resolve("graphs/m"), root.resolve("graphs/m")},
                {root.resolve("manifests/m"), stage.resolve("old/manifests")},
                {stage.resolve("manifests/m"), root.resolve("manifests/m")}};
        for (int i = 0; i < moves; i++) {
            Files.createDirectories(steps[i][1].getParent());
            Files.move(steps[i][0], steps[i][1]);
        }
        return stage;
    }

    static void write(Path f, String s) throws IOException {
        Files.createDirectories(f.getParent());
        Files.writeString(f, s);
    }

    @Test
    void aKillAfterTheMarkerAtAnyPointEndsWithTheWholeNewExport(@TempDir Path dir) throws IOException {
        for (int moves = 0; moves <= 4; moves++) {
            Path root = dir.resolve("k" + moves);
            killedDuringInstall(root, moves, true);
            StagedDirs.recover(root, M);
            assertThat(root.resolve("graphs/m/weights.bin")).as("after %d moves", moves).hasContent("new");
            assertThat(root.resolve("manifests/m/capture.json")).as("after %d moves", moves).hasContent("new");
            assertThat(stagingFolders(root)).as("after %d moves", moves).isZero();
        }
    }

    @Test
    void aKillBeforeTheMarkerLeavesTheOldExportAndRemovesTheStagingFolder(@TempDir Path root) throws IOException {
        killedDuringInstall(root, 0, false);
        StagedDirs.recover(root, M);
        assertThat(root.resolve("graphs/m/weights.bin")).hasContent("old");
        assertThat(root.resolve("manifests/m/capture.json")).hasContent("old");
        assertThat(stagingFolders(root)).isZero();
    }

    @Test
    void aRunningExportsStagingFolderIsLeftAlone(@TempDir Path root) throws IOException {
        try (StagedDirs.Staging live = StagedDirs.create(root, M, "stage")) {
            write(live.dir.resolve("graphs/m/weights.bin"), "in progress");
            StagedDirs.recover(root, null);
            assertThat(live.dir.resolve("graphs/m/weights.bin")).hasContent("in progress");
        }
        assertThat(stagingFolders(root)).as("closing the staging removes it").isZero();
    }

    @Test
    void anotherModelsStagingFolderIsNotTouchedWhenOpeningThisOne(@TempDir Path root) throws IOException {
        Path other = root.resolve(StagedDirs.PREFIX + "m-2-stage-1");
        write(other.resolve("model"), "m-2");
        write(other.resolve(".lock"), "");
        StagedDirs.recover(root, M);
        assertThat(other).isDirectory();
        StagedDirs.recover(root, null); // an export cleans every dead staging folder
        assertThat(other).doesNotExist();
    }

    static long stagingFolders(Path root) throws IOException {
        try (Stream<Path> s = Files.list(root)) {
            return s.filter(p -> p.getFileName().toString().startsWith(StagedDirs.PREFIX)
                    || p.getFileName().toString().startsWith(StagedDirs.GARBAGE)).count();
        }
    }

    /**
     * A kill while a staging folder is born (before or after its lock file) or while it is deleted (lock file
     * last) leaves a garbage folder; the next recover() removes it at once, not after the legacy age. The kill
     * test (ExportIntegrityTest) once found a half-deleted staging folder left behind.
     */
    @Test
    void foldersKilledWhileBornOrDeletedAreRemovedAtOnce(@TempDir Path root) throws IOException {
        Files.createDirectories(root.resolve(StagedDirs.GARBAGE + "born"));             // killed before its lock file
        write(root.resolve(StagedDirs.GARBAGE + "locked/.lock"), "");                  // killed before its model file
        write(root.resolve(StagedDirs.GARBAGE + "m-stage-1/.lock"), "");              // killed while deleted
        write(root.resolve(StagedDirs.GARBAGE + "m-stage-1/old/graphs/weights.bin"), "old");
        StagedDirs.recover(root, M);
        assertThat(stagingFolders(root)).isZero();
    }

    /** A staging folder made and closed by this process leaves nothing, under either prefix. */
    @Test
    void aClosedStagingFolderLeavesNothing(@TempDir Path root) throws IOException {
        try (StagedDirs.Staging s = StagedDirs.create(root, M, "stage")) {
            assertThat(s.dir.getFileName().toString()).startsWith(StagedDirs.PREFIX + M + "-stage-");
            assertThat(s.dir.resolve("model")).hasContent(M);
            StagedDirs.recover(root, M); // its own live folder is left alone
            assertThat(s.dir).isDirectory();
            write(s.dir.resolve("graphs/m/weights.bin"), "new");
        }
        assertThat(stagingFolders(root)).isZero();
    }
}
