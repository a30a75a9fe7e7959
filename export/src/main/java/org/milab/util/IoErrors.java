package org.milab.util;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Turns the write failures a user can fix (disk full, no permission, read-only file system) into one clear
 * {@link UserError}; anything else stays an {@link UncheckedIOException}. Writes go through temp files and
 * renames, so at such a failure nothing already written is lost and no partial file is left.
 */
public final class IoErrors {
    private IoErrors() {}

    /** What to run again after space was freed: a run resumes; an export starts over (nothing half-installed stays). */
    private static String afterDiskFull(String path) {
        String p = path.replace('\\', '/');
        if (p.contains("/results/"))
            return "run the command again: a run continues with --resume and the same RUN_ID, and nothing written before is lost.";
        if (p.contains("/.export-") || p.contains("/graphs/") || p.contains("/manifests/"))
            return "run the export again (make export MODEL=...): a failed export leaves the previous export, or none, "
                    + "in place and no staging folder; an export of GPT-2 small needs about 2 GB free.";
        return "run the command again; nothing written before is lost.";
    }

    public static RuntimeException onWrite(Path target, IOException e) {
        String what = target.toAbsolutePath().toString();
        Path dir = target.toAbsolutePath().getParent();
        String msg = String.valueOf(e.getMessage()).toLowerCase(Locale.ROOT);
        if (msg.contains("no space left on device") || msg.contains("not enough space on the disk") || msg.contains("disk quota exceeded"))
            return new UserError("The disk is full: " + what + " could not be written.",
                    "Free space on the file system of " + dir + " (df -h " + dir + "), then " + afterDiskFull(what), e);
        if (msg.contains("read-only file system"))
            return new UserError(dir + " is on a read-only file system: " + what + " could not be written.",
                    "Use a writable project folder (--root), or remount it read-write.", e);
        if (e instanceof AccessDeniedException || msg.contains("permission denied"))
            return new UserError("No permission to write " + what + ".",
                    "Make " + dir + " writable for this user (chmod u+w), or use a writable project folder (--root).", e);
        if (e instanceof FileSystemException fs && fs.getReason() != null && fs.getReason().toLowerCase(Locale.ROOT).contains("read-only"))
            return new UserError(dir + " is read-only: " + what + " could not be written.",
                    "Use a writable project folder (--root).", e);
        // a file where a folder must be (e.g. --out under a file): creating the folder fails before anything is written
        if (msg.contains("not a directory") || e instanceof java.nio.file.FileAlreadyExistsException)
            return new UserError(what + " could not be written: a file stands where a folder must be (" + e.getMessage() + ").",
                    "Write somewhere else (for --out: a folder, created when missing), or move that file away.", e);
        return new UncheckedIOException("Could not write " + what + ": " + e.getMessage(), e);
    }
}
