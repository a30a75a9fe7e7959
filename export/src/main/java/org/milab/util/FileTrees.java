package org.milab.util;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/** Whole-folder operations the export and run code share. */
public final class FileTrees {
    private FileTrees() {}

    /** Deletes {@code root} and everything below it; a missing root is fine. */
    public static void delete(Path root) {
        if (!Files.exists(root)) return;
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) Files.delete(p);
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot remove " + root + ": " + e.getMessage(), e);
        }
    }
}
