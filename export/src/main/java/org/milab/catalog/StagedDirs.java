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
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
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
    /**
     * A folder under this prefix is never a staged export: a staging folder is born under it (renamed to its
     * {@link #PREFIX} name once it holds its lock and model file) and renamed back under it before it is
     * deleted, lock file last. So a kill while a folder is made or deleted leaves either an empty folder or one
     * whose lock no process holds, and {@link #recover} removes both at once.
     */
    static final String GARBAGE = ".export~garbage-";
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
            Path g = toGarbage(dir);
            deleteLockLast(g);
            try {
                channel.close();
            } catch (IOException ignored) {
                // the lock dies with the process anyway
            }
            OWN.remove(dir); // g left OWN when deleteLockLast finished
        }
    }

    /** A new staging folder {@code .export-<model>-<purpose>-*} under {@code root}, locked by this process. */
    static Staging create(Path root, String modelId, String purpose) {
        try {
            Files.createDirectories(root);
            for (int attempt = 1; ; attempt++) {
                Path born = Files.createTempDirectory(root, GARBAGE).toAbsolutePath().normalize();
                Path dir = born.resolveSibling(PREFIX + modelId + "-" + purpose + "-"
                        + born.getFileName().toString().substring(GARBAGE.length()));
                OWN.add(born);
                OWN.add(dir);
                FileChannel ch = null;
                try {
                    ch = FileChannel.open(born.resolve(LOCK), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                    if (ch.tryLock() == null) throw new IOException("cannot lock a folder this process just created");
                    AtomicFiles.writeString(born.resolve(MODEL), modelId);
                    Files.move(born, dir, StandardCopyOption.ATOMIC_MOVE); // a lock is on the open file, not its path
                    return new Staging(dir, ch);
                } catch (NoSuchFileException e) {
                    // another process's recover() removed the folder while it was still empty: make another one
                    if (ch != null) ch.close();
                    OWN.remove(dir);
                    if (attempt == 3) throw e;
                } finally {
                    OWN.remove(born);
                }
            }
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
            dirs = s.filter(Files::isDirectory).filter(p -> p.getFileName().toString().startsWith(PREFIX)
                    || p.getFileName().toString().startsWith(GARBAGE)).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot list " + root + ": " + e.getMessage(), e);
        }
        for (Path dir : dirs) {
            if (OWN.contains(dir.toAbsolutePath().normalize())) continue; // this JVM's own running export
            if (dir.getFileName().toString().startsWith(GARBAGE)) removeGarbage(dir);
            else recoverOne(root, dir, modelId);
        }
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
                    deleteLockLast(toGarbage(dir)); // still holding the lock: nobody else starts on it
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

    /**
     * A folder being born or deleted: removed when empty (a kill between its creation and its lock file, or after
     * its lock file, the last entry deleted) or when no live process holds its lock; left to its live owner.
     */
    private static void removeGarbage(Path dir) {
        Path lock = dir.resolve(LOCK);
        if (!Files.exists(lock)) {
            try {
                Files.deleteIfExists(dir);
            } catch (IOException e) {
                if (olderThan(dir, LEGACY_AGE)) deleteTree(dir); // not empty yet without a lock: its owner is filling it
            }
            return;
        }
        try (FileChannel ch = FileChannel.open(lock, StandardOpenOption.WRITE)) {
            if (ch.tryLock() != null) deleteLockLast(dir);
        } catch (IOException | OverlappingFileLockException e) {
            // gone meanwhile, or held: its owner deletes it
        }
    }

    /** {@code dir} renamed under {@link #GARBAGE} (itself when the rename fails: then it is deleted where it is). */
    private static Path toGarbage(Path dir) {
        Path to = dir.resolveSibling(GARBAGE + dir.getFileName().toString().substring(PREFIX.length()));
        OWN.add(to.toAbsolutePath().normalize());
        try {
            Files.move(dir, to, StandardCopyOption.ATOMIC_MOVE);
            return to;
        } catch (IOException e) {
            return dir;
        }
    }

    /** Deletes {@code dir}, its lock file last, so that a kill midway leaves the lock file or an empty folder. */
    private static void deleteLockLast(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.toList()) if (!p.getFileName().toString().equals(LOCK)) deleteTree(p);
            Files.deleteIfExists(dir.resolve(LOCK));
            Files.deleteIfExists(dir);
        } catch (IOException e) {
            // a leftover is harmless, visible, and removed by the next recover()
        } finally {
            OWN.remove(dir.toAbsolutePath().normalize());
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
