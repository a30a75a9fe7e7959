package org.milab.model.download;

import java.nio.file.Path;

/**
 * A model file that was found and checked, with what is known of its provenance (recorded in run manifests).
 *
 * @param file   where it is
 * @param sha256 its SHA-256 (computed, not trusted from a pin)
 * @param size   its size in bytes
 * @param pinned true when size and hash equal the pinned release; false only when unpinned files were allowed
 * @param origin {@code "local"} (a path the user gave), {@code "cache"} or {@code "download"}
 */
public record ResolvedWeights(Path file, String sha256, long size, boolean pinned, String origin) {
    public static final String LOCAL = "local";
    public static final String CACHE = "cache";
    public static final String DOWNLOAD = "download";
}
