package org.milab.catalog;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.milab.graph.GraphVariant;
import org.milab.util.AtomicFiles;
import org.milab.util.FileStamp;
import org.milab.util.Hashing;
import org.milab.util.UserError;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.milab.util.Json;

/**
 * Checks an installed export before it is used: every file of graphs/<model>/ against the sha256 that
 * manifests/<model>/files.json recorded at export time, and every graph and the weights file against the
 * variant manifests. A half-installed export (new graphs, old manifests) or a changed byte anywhere stops the
 * model from opening. Hashes are cached in graphs/<model>/.sha256-cache.json per file stamp (inode, size,
 * times), so an unchanged export is verified without reading it again.
 */
public final class ExportVerifier {
    /** Written into manifests/<model>/ by the export: sha256 of every file of graphs/<model>/. */
    public static final String FILES = "files.json";
    public static final String FILES_SCHEMA = "milab.export_files/1";
    static final String CACHE = ".sha256-cache.json";
    private static final ObjectMapper JSON = Json.MAPPER;

    private record Cached(FileStamp stamp, String sha256) {}

    private final ModelLayout layout;
    private final Map<String, Cached> cache = new TreeMap<>();
    private boolean cacheChanged;

    private ExportVerifier(ModelLayout layout) {
        this.layout = layout;
    }

    /** What was verified: the stamp of every checked file, to re-check cheaply before a later load. */
    public static final class Verified {
        private final ModelLayout layout;
        private final Map<String, FileStamp> stamps;

        private Verified(ModelLayout layout, Map<String, FileStamp> stamps) {
            this.layout = layout;
            this.stamps = Map.copyOf(stamps);
        }

        /**
         * Throws if {@code file} (under graphs/<model>/) or the weights file changed since the model was opened,
         * e.g. a new export was installed while this process was using the old one.
         */
        public void recheck(Path file) {
            for (Path f : new Path[]{file, layout.graphDir().resolve(org.milab.graph.WeightsLayout.FILE_NAME)}) {
                String rel = layout.graphDir().relativize(f).toString();
                FileStamp was = stamps.get(rel);
                if (was != null && !(Files.isRegularFile(f) && FileStamp.of(f).equals(was)))
                    throw new UserError("graphs/" + layout.modelId() + "/" + rel + " changed after this process verified and "
                            + "opened the model (another export was installed meanwhile?).",
                            "Run the command again once the export has finished.");
            }
        }

        public Map<String, FileStamp> stamps() {
            return stamps;
        }
    }

    /** Verifies the export of {@code layout} against its manifests; see the class comment. */
    public static Verified verify(ModelLayout layout, Map<GraphVariant, JsonNode> manifests) {
        return new ExportVerifier(layout).run(manifests);
    }

    private Verified run(Map<GraphVariant, JsonNode> manifests) {
        readCache();
        Map<String, FileStamp> stamps = new LinkedHashMap<>();
        Path filesJson = layout.manifestDir().resolve(FILES);
        if (Files.isRegularFile(filesJson)) {
            Map<String, String> expected = readFiles(filesJson);
            expected.forEach((rel, sha) -> check(rel, sha, FILES, stamps));
            try (Stream<Path> s = Files.walk(layout.graphDir())) {
                for (Path f : s.filter(Files::isRegularFile).toList()) {
                    String rel = layout.graphDir().relativize(f).toString();
                    if (!rel.startsWith(".") && !expected.containsKey(rel))
                        throw mismatch(rel, "is not one of the files " + FILES + " lists");
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        for (Map.Entry<GraphVariant, JsonNode> e : manifests.entrySet()) {
            JsonNode g = e.getValue().path("graph");
            String manifest = e.getKey().id() + ".json";
            JsonNode perStart = e.getValue().path("start_layer_graphs"); // one graph file per start layer
            if (perStart.isArray())
                for (JsonNode f : perStart) check(f.path("file").asText(), f.path("sha256").asText(), manifest, stamps);
            else
                check(g.path("file").asText(e.getKey().fileName()), g.path("sha256").asText(), manifest, stamps);
            check(g.path("weights_file").asText(org.milab.graph.WeightsLayout.FILE_NAME),
                    g.path("weights_file_sha256").asText(), manifest, stamps);
        }
        writeCache();
        return new Verified(layout, stamps);
    }

    private void check(String rel, String expected, String manifestFile, Map<String, FileStamp> stamps) {
        Path f = layout.graphDir().resolve(rel);
        if (!Files.isRegularFile(f)) throw mismatch(rel, "is missing (" + manifestFile + " lists it)");
        FileStamp stamp = FileStamp.of(f);
        Cached c = cache.get(rel);
        String actual;
        if (c != null && c.stamp().equals(stamp)) {
            actual = c.sha256();
        } else {
            actual = Hashing.sha256(f);
            // the stamp is taken before hashing: a write during hashing changes it, so the next open hashes again
            cache.put(rel, new Cached(stamp, actual));
            cacheChanged = true;
        }
        if (!actual.equals(expected))
            throw mismatch(rel, "does not match manifests/" + layout.modelId() + "/" + manifestFile + " (sha256 " + actual
                    + ", the manifest says " + expected + ")");
        stamps.put(rel, stamp);
    }

    private UserError mismatch(String rel, String problem) {
        return new UserError("The export of model '" + layout.modelId() + "' is damaged or was not installed completely: "
                + "graphs/" + layout.modelId() + "/" + rel + " " + problem + ".",
                "Re-run 'make export MODEL=" + layout.modelId() + "'.");
    }

    private static Map<String, String> readFiles(Path filesJson) {
        try {
            JsonNode n = JSON.readTree(filesJson.toFile());
            if (!FILES_SCHEMA.equals(n.path("schema").asText()) || !n.path("files").isObject())
                throw new IOException("not a " + FILES_SCHEMA + " document");
            return JSON.convertValue(n.path("files"), new TypeReference<TreeMap<String, String>>() {});
        } catch (IOException | IllegalArgumentException e) {
            throw new UserError("Export file list " + filesJson + " is unreadable: " + e.getMessage() + ".",
                    "Re-run the export of this model.", e);
        }
    }

    /** The sha256 of every file under {@code graphDir} (dot files excluded), as files.json records them. */
    public static Map<String, Object> fileList(Path graphDir) {
        Map<String, String> files = new TreeMap<>();
        try (Stream<Path> s = Files.walk(graphDir)) {
            for (Path f : s.filter(Files::isRegularFile).toList()) {
                String rel = graphDir.relativize(f).toString();
                if (!rel.startsWith(".")) files.put(rel, Hashing.sha256(f));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("schema", FILES_SCHEMA);
        out.put("files", files);
        return out;
    }

    private void readCache() {
        Path f = layout.graphDir().resolve(CACHE);
        if (!Files.isRegularFile(f)) return;
        try {
            cache.putAll(JSON.readValue(f.toFile(), new TypeReference<Map<String, Cached>>() {}));
        } catch (IOException e) {
            // an unreadable cache only means hashing again
        }
    }

    private void writeCache() {
        if (!cacheChanged) return;
        try {
            AtomicFiles.writeString(layout.graphDir().resolve(CACHE), Json.compact(cache));
        } catch (RuntimeException e) {
            // a read-only or full export folder: verification still happened, it is only not cached
        }
    }
}
