package org.milab.util;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * Writes files so that a reader never sees a partial one: data goes to a temp file in the target's
 * folder, then one atomic rename puts it in place. On failure the temp file is deleted.
 */
public final class AtomicFiles {
    private AtomicFiles() {}

    @FunctionalInterface
    public interface Writer {
        void write(OutputStream out) throws IOException;
    }

    @FunctionalInterface
    public interface PathWriter {
        void write(Path tmp) throws IOException;
    }

    public static void write(Path target, Writer writer) {
        writeVia(target, tmp -> {
            try (OutputStream out = Files.newOutputStream(tmp)) {
                writer.write(out);
            }
        });
    }

    /** For writers that need a path (Arrow, ONNX external data): they write {@code tmp}, we rename. */
    public static void writeVia(Path target, PathWriter writer) {
        Path dir = target.toAbsolutePath().getParent();
        Path tmp = null;
        try {
            Files.createDirectories(dir);
            tmp = Files.createTempFile(dir, "." + target.getFileName() + ".", ".tmp");
            shareable(tmp);
            writer.write(tmp);
            moveAtomically(tmp, target);
            tmp = null;
        } catch (IOException e) {
            throw IoErrors.onWrite(target, e);
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // best effort: the original error matters more
                }
            }
        }
    }

    /** Temp files are created 0600; results are ordinary files others may read (0644 where POSIX). */
    private static void shareable(Path tmp) throws IOException {
        if (tmp.getFileSystem().supportedFileAttributeViews().contains("posix"))
            Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-r--r--"));
    }

    public static void writeString(Path target, String text) {
        write(target, out -> out.write(text.getBytes(StandardCharsets.UTF_8)));
    }

    public static void moveAtomically(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
