package org.milab.run;

import org.milab.util.AtomicFiles;
import org.milab.util.FileTrees;
import org.milab.util.IoErrors;
import org.milab.util.UserError;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

/**
 * The folders of one run under {@code results/}: {@code <id>/} once finished, {@code <id>.incomplete/} while it
 * is written. A process writes a run only while it holds the run's lock ({@code results/.<id>.lock}, an
 * operating-system file lock that dies with the process), so two processes never write, rename or delete the
 * same run, and two default ids made in the same second get different folders.
 *
 * <p>A finished run is never renamed or deleted to make room for work: resuming one first verifies it in place;
 * only when a step must run again is the work done in a copy ({@code <id>.incomplete/}, hard links), which
 * replaces the finished folder once it is itself finished. The replacement is two renames; a kill between
 * them is repaired by the next process that takes the lock ({@link #recover()}).
 */
public final class RunDir implements AutoCloseable {
    /** Suffix of the folder a run is written in until it finished. */
    public static final String INCOMPLETE = ".incomplete";
    /** A finished run being replaced by its repaired copy exists under this name for the two renames' duration. */
    static final String REPLACED = ".replaced";
    /** Written last by {@link Pipeline#finish}: its presence means the folder holds a finished run. */
    static final String FINISHED = StepLedger.FINISHED;
    private static final int MAX_DEFAULT_SUFFIX = 1000;
    /**
     * Lock files this JVM holds. POSIX record locks belong to the process and closing any descriptor of the
     * file drops them, so this JVM must never open a lock file it holds a second time; it asks this set.
     */
    private static final Set<Path> HELD = ConcurrentHashMap.newKeySet();

    private final Path results;
    private final String id;
    private final Path lockFile;
    private final FileChannel channel;
    private final FileLock lock;

    private RunDir(Path results, String id, Path lockFile, FileChannel channel, FileLock lock) {
        this.results = results;
        this.id = id;
        this.lockFile = lockFile;
        this.channel = channel;
        this.lock = lock;
    }

    /**
     * Locks run {@code id} for this process and repairs what a killed process left. With {@code defaultId}, an
     * id that is taken (locked or present) is not an error: {@code -2}, {@code -3}... are tried instead.
     */
    public static RunDir acquire(Path root, String id, boolean defaultId) {
        requireValidId(id);
        Path results = root.resolve("results");
        try {
            Files.createDirectories(results);
        } catch (IOException e) {
            throw IoErrors.onWrite(results, e);
        }
        for (int n = 1; n <= (defaultId ? MAX_DEFAULT_SUFFIX : 1); n++) {
            String candidate = n == 1 ? id : id + "-" + n;
            RunDir f = tryLock(results, candidate);
            if (f == null) {
                if (defaultId) continue;
                throw new UserError("Run " + id + " (results/" + id + ") is being written by another process right now"
                        + holder(results, id) + ".", "Wait for it to finish, or choose another RUN_ID.");
            }
            if (defaultId && (Files.exists(f.finalDir()) || Files.exists(f.workDir()) || Files.exists(f.replacedDir()))) {
                f.close();
                continue;
            }
            try {
                f.recover();
            } catch (RuntimeException e) {
                f.close();
                throw e;
            }
            return f;
        }
        throw new UserError("No free run id near " + id + " under " + results + ".", "Pass --run-id (RUN_ID=...).");
    }

    /** Ids are folder names under results/: no path tricks, and none of the names this class reserves. */
    public static void requireValidId(String id) {
        if (id == null || !id.matches("[A-Za-z0-9][A-Za-z0-9._-]*") || id.endsWith(INCOMPLETE) || id.endsWith(REPLACED)
                || id.endsWith(".lock") || id.length() > 200)
            throw new UserError("Run id '" + id + "' is not usable: it must start with a letter or digit, contain only "
                    + "letters, digits, '.', '_' and '-', be at most 200 characters, and not end with " + INCOMPLETE + ", "
                    + REPLACED + " or .lock.", "Choose a simple run id, e.g. RUN_ID=planted-seed10.");
    }

    /**
     * A run's lock file is deleted when the run is released (so results/ keeps none), which is safe only if no
     * other process has it open without its lock at that moment: opening and locking it, and deleting and
     * unlocking it, each happen under one short lock on {@code results/.runs.lock} (and a monitor in this JVM).
     */
    private static final Object RESULTS_MONITOR = new Object();
    static final String RESULTS_LOCK = ".runs.lock";

    private static <T> T underResultsLock(Path results, java.util.function.Supplier<T> body) {
        synchronized (RESULTS_MONITOR) {
            Path g = results.resolve(RESULTS_LOCK);
            try (FileChannel ch = FileChannel.open(g, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                 FileLock ignored = ch.lock()) {
                return body.get();
            } catch (IOException e) {
                throw IoErrors.onWrite(g, e);
            }
        }
    }

    private static RunDir tryLock(Path results, String id) {
        return underResultsLock(results, () -> lockRun(results, id));
    }

    private static RunDir lockRun(Path results, String id) {
        Path lockFile = results.resolve("." + id + ".lock").toAbsolutePath().normalize();
        if (!HELD.add(lockFile)) return null; // another thread of this process writes it
        FileChannel ch;
        try {
            ch = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
        } catch (IOException e) {
            HELD.remove(lockFile);
            throw IoErrors.onWrite(lockFile, e);
        }
        try {
            FileLock l;
            try {
                l = ch.tryLock();
            } catch (OverlappingFileLockException e) {
                l = null; // held by this same JVM (another thread's run)
            }
            if (l == null) {
                ch.close();
                HELD.remove(lockFile);
                return null;
            }
            // who holds it, for the other process's message (informational only; the lock is the OS lock)
            ch.truncate(0);
            ch.write(ByteBuffer.wrap(("pid " + ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.UTF_8)), 0);
            return new RunDir(results, id, lockFile, ch, l);
        } catch (IOException e) {
            HELD.remove(lockFile);
            try {
                ch.close();
            } catch (IOException ignored) {
                // the original error matters more
            }
            throw new UncheckedIOException("Cannot lock " + lockFile + ": " + e.getMessage(), e);
        }
    }

    private static String holder(Path results, String id) {
        if (HELD.contains(results.resolve("." + id + ".lock").toAbsolutePath().normalize())) return " (this process)";
        try {
            String s = Files.readString(results.resolve("." + id + ".lock")).strip();
            return s.isEmpty() ? "" : " (" + s + ")";
        } catch (IOException e) {
            return "";
        }
    }

    public String id() {
        return id;
    }

    public Path finalDir() {
        return results.resolve(id);
    }

    public Path workDir() {
        return results.resolve(id + INCOMPLETE);
    }

    private Path replacedDir() {
        return results.resolve("." + id + REPLACED);
    }

    /** results/<id>/ exists: the run finished once. */
    public boolean finished() {
        return Files.isDirectory(finalDir());
    }

    /** results/<id>.incomplete/ exists: an attempt (or a repair copy) that did not finish. */
    public boolean hasUnfinished() {
        return Files.isDirectory(workDir());
    }

    /** Removes an unfinished attempt; a finished run is never in it (see {@link #recover()}). */
    public void discardUnfinished() {
        if (Files.isRegularFile(workDir().resolve(FINISHED)))
            throw new IllegalStateException(workDir() + " holds a finished run; recover() should have published it");
        FileTrees.delete(workDir());
    }

    /**
     * Starts a repair of the finished run: its files are linked (copied where links are not possible) into
     * results/<id>.incomplete/, except what its finish wrote (manifest, summary, report, Parquet copies, and the
     * finish record itself), which only a finished copy gets. The finished run is not touched; every writer
     * replaces files by rename, so a linked file is never changed in place.
     */
    public void reopenFinished() {
        Path src = realFinalDir(), dst = workDir();
        Set<String> finishOutputs = StepLedger.finishOutputs(src);
        FileTrees.delete(dst);
        try (Stream<Path> s = Files.walk(src)) {
            for (Path p : s.toList()) {
                String rel = src.relativize(p).toString();
                Path target = dst.resolve(rel);
                if (Files.isDirectory(p)) Files.createDirectories(target);
                else if (!rel.equals(FINISHED) && !finishOutputs.contains(rel)) link(p, target);
            }
        } catch (IOException e) {
            FileTrees.delete(dst);
            throw IoErrors.onWrite(dst, e);
        }
    }

    /** results/<id>, or the folder it links to (a run kept on another disk): what a repair copies and replaces. */
    private Path realFinalDir() {
        try {
            return Files.isSymbolicLink(finalDir()) ? finalDir().toRealPath() : finalDir();
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot follow the link " + finalDir() + ": " + e.getMessage(), e);
        }
    }

    private static void link(Path existing, Path link) throws IOException {
        try {
            Files.createLink(link, existing);
        } catch (UnsupportedOperationException | IOException e) {
            Files.copy(existing, link);
        }
    }

    /**
     * Puts a finished working folder in place: renamed to {@code finalDir}, or, when a finished run is there
     * (a repair), that one is renamed aside, the new one in, and only then the old one deleted.
     */
    public static void publish(Path work, Path finalDir) {
        try {
            if (Files.isSymbolicLink(finalDir) && Files.isDirectory(finalDir)) {
                // the link stays: its target is replaced, beside itself (possibly another file system)
                replaceLinkTarget(work, finalDir.toRealPath());
                return;
            }
            if (!Files.exists(finalDir)) {
                AtomicFiles.moveAtomically(work, finalDir);
                return;
            }
            Path replaced = finalDir.resolveSibling("." + finalDir.getFileName() + REPLACED);
            FileTrees.delete(replaced); // a leftover of an earlier, completed replacement
            AtomicFiles.moveAtomically(finalDir, replaced);
            AtomicFiles.moveAtomically(work, finalDir);
            FileTrees.delete(replaced);
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot move the finished run " + work + " to " + finalDir + ": " + e.getMessage(), e);
        }
    }

    /**
     * Replaces the folder a run's link points to by the finished work folder: the work is first copied beside
     * the target when a rename cannot reach it (another file system), then renamed in as in {@link #publish}.
     */
    private static void replaceLinkTarget(Path work, Path target) throws IOException {
        Path staged = target.resolveSibling(target.getFileName() + INCOMPLETE);
        FileTrees.delete(staged);
        try {
            Files.move(work, staged, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) { // another file system: copy, then drop the work folder
            try (Stream<Path> s = Files.walk(work)) {
                for (Path p : s.toList()) {
                    Path t = staged.resolve(work.relativize(p).toString());
                    if (Files.isDirectory(p)) Files.createDirectories(t);
                    else Files.copy(p, t);
                }
            }
            FileTrees.delete(work);
        }
        Path replaced = target.resolveSibling("." + target.getFileName() + REPLACED);
        FileTrees.delete(replaced);
        AtomicFiles.moveAtomically(target, replaced);
        AtomicFiles.moveAtomically(staged, target);
        FileTrees.delete(replaced);
    }

    /**
     * Repairs what a process killed while publishing left: a replacement cut between its two renames is
     * finished (the new copy was complete) or undone (it was not); a finished working folder that was not yet
     * renamed is published. Nothing finished is deleted unless a finished replacement is in place.
     */
    void recover() {
        Path work = workDir(), fin = finalDir(), replaced = replacedDir();
        boolean workFinished = Files.isRegularFile(work.resolve(FINISHED));
        try {
            if (Files.isSymbolicLink(fin) && !Files.exists(fin)) recoverLinkTarget(fin);
            if (Files.exists(replaced)) {
                if (!Files.exists(fin)) {
                    if (workFinished) {
                        note("finishing the interrupted replacement of results/" + id + " by its repaired copy");
                        AtomicFiles.moveAtomically(work, fin);
                        workFinished = false;
                    } else {
                        note("restoring results/" + id + ": a repair was interrupted before its copy finished");
                        AtomicFiles.moveAtomically(replaced, fin);
                    }
                }
                if (Files.exists(replaced)) FileTrees.delete(replaced);
            }
            if (workFinished) {
                note("publishing results/" + id + INCOMPLETE + ": it finished but was not yet renamed");
                publish(work, fin);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot repair the folders of run " + id + ": " + e.getMessage(), e);
        }
    }

    /** A kill between the two renames of {@link #replaceLinkTarget}: the finished copy goes in, else the old run comes back. */
    private void recoverLinkTarget(Path link) throws IOException {
        Path target = link.resolveSibling(Files.readSymbolicLink(link)).normalize();
        Path staged = target.resolveSibling(target.getFileName() + INCOMPLETE);
        Path replaced = target.resolveSibling("." + target.getFileName() + REPLACED);
        if (Files.isRegularFile(staged.resolve(FINISHED))) {
            note("finishing the interrupted replacement of " + target + " (results/" + id + " links to it)");
            AtomicFiles.moveAtomically(staged, target);
        } else if (Files.isDirectory(replaced)) {
            note("restoring " + target + " (results/" + id + " links to it): its repair was interrupted");
            AtomicFiles.moveAtomically(replaced, target);
        }
        FileTrees.delete(replaced);
    }

    private static void note(String s) {
        System.err.println("run folder: " + s);
    }


    @Override
    public void close() {
        try {
            underResultsLock(results, () -> {
                try {
                    // deleted while still locked, so results/ keeps no lock files (see underResultsLock)
                    if (lock.isValid()) Files.deleteIfExists(lockFile);
                    if (lock.isValid()) lock.release();
                    channel.close();
                } catch (IOException e) {
                    // the lock dies with the channel or the process anyway
                }
                return null;
            });
        } catch (RuntimeException e) {
            try {
                channel.close(); // results/ became unwritable: the lock still goes, its file stays
            } catch (IOException ignored) {
                // as above
            }
        } finally {
            HELD.remove(lockFile);
        }
    }
}
