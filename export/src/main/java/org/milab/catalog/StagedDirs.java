package org.milab.catalog;

import org.milab.util.AtomicFiles;
import org.milab.util.FileTrees;
import org.milab.util.IoErrors;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.stream.Stream;

/**
 * Runs an export into a staging folder {@code .export-<model>-*} beside graphs/ and manifests/, and installs
 * its graphs/<model>/ and manifests/<model>/ only when the whole export succeeded.
 *
 * <p>The install is recoverable: a marker file says the staged export is complete, then the old folders are
 * moved into the staging folder and the new ones out of it. A process killed at any point leaves either the
 * marker (the next export or model open finishes the install: {@link #recover}) or no marker (the next one
 * deletes the staging folder; the old export was never touched). Each staging folder holds a lock for as long
 * as its process lives, so recovery never touches the folder of an export that is still running. Opening a
 * model additionally checks its files against the manifests ({@link ExportVerifier}).
 */
final class StagedDirs {
    static final String PREFIX = ".export-";
    private static final String LOCK = ".lock";
    private static final String MODEL = "model";
    private static final String INSTALLING = "INSTALLING";
    /** Staging folders of earlier code versions (no lock inside) are removed once they are this old. */
    private static final Duration LEGACY_AGE = Duration.ofMinutes(10);
    private static final Duration WAIT_FOR_INSTALL = Duration.ofSeconds(60);
    /** Staging folders of this JVM: their lock files are never opened again here (closing any descriptor of a
     * file drops the process's POSIX locks on it). */
    private static final Set<Path> OWN = ConcurrentHashMap.newKeySet();

    private StagedDirs() {}

    /** A staging folder owned by this process: its lock is held until {@link #close()}, which deletes it. */
    static final class Staging implements AutoCloseable {
        final Path dir;
        private final FileChannel channel;

        private Staging(Path dir, FileChannel channel) {
            this.dir = dir;
            this.channel = channel;
        }

        @Override
        public void close() {
            deleteTree(dir);
            try {
                channel.close();
            } catch (IOException ignored) {
                // the lock dies with the process anyway
            }
            OWN.remove(dir);
        }
    }

    /** A new staging folder {@code .export-<model>-<purpose>-*} under {@code root}, locked by this process. */
    static Staging create(Path root, String modelId, String purpose) {
        try {
            Files.createDirectories(root);
            Path dir = Files.createTempDirectory(root, PREFIX + modelId + "-" + purpose + "-").toAbsolutePath().normalize();
            OWN.add(dir);
            FileChannel ch = FileChannel.open(dir.resolve(LOCK), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            if (ch.tryLock() == null) throw new IOException("cannot lock a folder this process just created");
            AtomicFiles.writeString(dir.resolve(MODEL), modelId);
            return new Staging(dir, ch);
        } catch (IOException e) {
            throw IoErrors.onWrite(root.resolve(PREFIX + modelId), e);
        }
    }

    static <T> T run(ModelLayout target, Function<ModelLayout, T> work) {
        recover(target.root(), null);
        try (Staging s = create(target.root(), target.modelId(), "stage")) {
            ModelLayout stage = new ModelLayout(s.dir, target.modelId());
            T result = work.apply(stage);
            AtomicFiles.writeString(s.dir.resolve(INSTALLING), target.modelId());
            install(s.dir, target);
            return result;
        }
    }

    /** Moves the staged folders into place; safe to repeat after a kill at any point. */
    private static void install(Path stageDir, ModelLayout target) {
        ModelLayout stage = new ModelLayout(stageDir, target.modelId());
        swap(stage.graphDir(), stageDir.resolve("old").resolve("graphs"), target.graphDir());
        swap(stage.manifestDir(), stageDir.resolve("old").resolve("manifests"), target.manifestDir());
    }

    /** {@code dst} aside into {@code old} (unless that happened already), then {@code fresh} to {@code dst}. */
    private static void swap(Path fresh, Path old, Path dst) {
        if (!Files.exists(fresh)) return; // this half of the install is done
        try {
            if (Files.exists(dst)) {
                if (Files.exists(old))
                    throw new IOException(dst + " and the folder it replaced (" + old + ") both exist; remove one of them");
                Files.createDirectories(old.getParent());
                AtomicFiles.moveAtomically(dst, old);
            }
            Files.createDirectories(dst.getParent());
            AtomicFiles.moveAtomically(fresh, dst);
        } catch (IOException e) {
            throw IoErrors.onWrite(dst, e);
        }
    }

    /**
     * Finishes or removes what killed exports left under {@code root}, for {@code modelId} (or every model when
     * null): a complete staged export is installed, an incomplete one deleted. Staging folders of running exports
     * are left alone; when one of them is installing the model at hand, this waits for it.
     */
    static void recover(Path root, String modelId) {
        if (!Files.isDirectory(root)) return;
        List<Path> dirs;
        try (Stream<Path> s = Files.list(root)) {
            dirs = s.filter(p -> p.getFileName().toString().startsWith(PREFIX) && Files.isDirectory(p)).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot list " + root + ": " + e.getMessage(), e);
        }
        for (Path dir : dirs) recoverOne(root, dir, modelId);
        removeLegacyLeftovers(root, modelId);
    }

    private static void recoverOne(Path root, Path dir, String modelId) {
        if (OWN.contains(dir.toAbsolutePath().normalize())) return; // this JVM's own running export
        Path modelFile = dir.resolve(MODEL);
        if (!Files.isRegularFile(modelFile)) {
            if (olderThan(dir, LEGACY_AGE)) deleteTree(dir); // an earlier version's staging folder, or a kill at creation
            return;
        }
        String owner;
        try {
            owner = Files.readString(modelFile).strip();
        } catch (IOException e) {
            return;
        }
        if (modelId != null && !owner.equals(modelId)) return;
        long deadline = System.nanoTime() + WAIT_FOR_INSTALL.toNanos();
        while (true) {
            try (FileChannel ch = FileChannel.open(dir.resolve(LOCK), StandardOpenOption.WRITE)) {
                FileLock lock;
                try {
                    lock = ch.tryLock();
                } catch (OverlappingFileLockException e) {
                    lock = null; // this JVM's own export
                }
                if (lock != null) {
                    if (Files.isRegularFile(dir.resolve(INSTALLING))) {
                        System.err.println("export: finishing the install of " + owner + " that a killed export left in "
                                + root.relativize(dir));
                        install(dir, new ModelLayout(root, owner));
                    } else {
                        System.err.println("export: removing " + root.relativize(dir) + ", left by an export of " + owner
                                + " that did not finish");
                    }
                    deleteTree(dir);
                    return;
                }
            } catch (IOException e) {
                return; // gone meanwhile (its owner finished)
            }
            // a live export: wait only when it is installing the model we are about to use
            if (modelId == null || !Files.isRegularFile(dir.resolve(INSTALLING)) || System.nanoTime() > deadline) return;
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** Folders the install of earlier versions left after a kill: .planted-*, graphs/.<m>.old-*, manifests/.<m>.old-*. */
    private static void removeLegacyLeftovers(Path root, String modelId) {
        for (Path dir : List.of(root, root.resolve("graphs"), root.resolve("manifests"))) {
            if (!Files.isDirectory(dir)) continue;
            try (Stream<Path> s = Files.list(dir)) {
                for (Path p : s.toList()) {
                    String n = p.getFileName().toString();
                    boolean legacy = dir.equals(root) ? n.startsWith(".planted-")
                            : n.startsWith("." + (modelId == null ? "" : modelId + ".old-")) && n.contains(".old-");
                    if (legacy && olderThan(p, LEGACY_AGE)) deleteTree(p);
                }
            } catch (IOException e) {
                // best effort
            }
        }
    }

    private static boolean olderThan(Path p, Duration age) {
        try {
            FileTime t = Files.getLastModifiedTime(p);
            return t.toInstant().isBefore(Instant.now().minus(age));
        } catch (IOException e) {
            return false;
        }
    }

    /** Best effort: it runs in finally blocks, where the original error matters more than a leftover. */
    static void deleteTree(Path root) {
        try {
            FileTrees.delete(root);
        } catch (UncheckedIOException ignored) {
            // a leftover staging folder is harmless, visible, and removed by the next recover()
        }
    }
}
