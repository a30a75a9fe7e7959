package org.milab.util;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * What the file system says about a file without reading it: identity (device and inode where there is one),
 * size, modification and status-change time. Writing a file, replacing it by rename or setting its times back
 * all change the stamp (the status-change time cannot be set), so a file with an unchanged stamp need not be
 * hashed again.
 */
public record FileStamp(String identity, long size, long modifiedNanos, long changedNanos) {

    public static FileStamp of(Path file) {
        try {
            BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
            long changed = -1;
            try {
                Map<String, Object> unix = Files.readAttributes(file, "unix:ctime");
                changed = ((FileTime) unix.get("ctime")).to(TimeUnit.NANOSECONDS);
            } catch (UnsupportedOperationException | IllegalArgumentException e) {
                // no unix view here: identity, size and mtime still catch every ordinary write
            }
            return new FileStamp(Objects.toString(a.fileKey(), ""), a.size(), a.lastModifiedTime().to(TimeUnit.NANOSECONDS),
                    changed);
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot read the attributes of " + file + ": " + e.getMessage(), e);
        }
    }
}
