package org.milab.catalog;

import org.milab.util.AtomicFiles;
import org.milab.util.FileTrees;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Function;

/**
 * Runs an export into a staging root beside the real one and installs its graphs/<model>/ and
 * manifests/<model>/ folders only when the whole export succeeded; the staging root is always removed.
 */
final class StagedDirs {
    private StagedDirs() {}

    static <T> T run(ModelLayout target, Function<ModelLayout, T> work) {
        Path stageRoot;
        try {
            Files.createDirectories(target.root());
            stageRoot = Files.createTempDirectory(target.root(), ".export-" + target.modelId() + "-");
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot create a staging folder under " + target.root(), e);
        }
        try {
            ModelLayout stage = new ModelLayout(stageRoot, target.modelId());
            T result = work.apply(stage);
            install(stage.graphDir(), target.graphDir());
            install(stage.manifestDir(), target.manifestDir());
            return result;
        } finally {
            deleteTree(stageRoot);
        }
    }

    /** Replaces {@code dst} by {@code src}: old one aside, new one in, old one deleted. */
    private static void install(Path src, Path dst) {
        try {
            Files.createDirectories(dst.getParent());
            Path old = null;
            if (Files.exists(dst)) {
                old = dst.resolveSibling("." + dst.getFileName() + ".old-" + System.nanoTime());
                AtomicFiles.moveAtomically(dst, old);
            }
            AtomicFiles.moveAtomically(src, dst);
            if (old != null) deleteTree(old);
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot install " + dst + ": " + e.getMessage(), e);
        }
    }

    /** Best effort: it runs in finally blocks, where the original error matters more than a leftover. */
    static void deleteTree(Path root) {
        try {
            FileTrees.delete(root);
        } catch (UncheckedIOException ignored) {
            // a leftover staging folder is harmless and visible
        }
    }
}
