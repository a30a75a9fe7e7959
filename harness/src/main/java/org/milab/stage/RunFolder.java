package org.milab.stage;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.MissingNode;
import org.milab.tables.ArrowTables;
import org.milab.tables.Table;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.milab.util.Json;

/**
 * A run folder as the report reads it: every table is optional (a run may have stopped after the sweep, or
 * have protocol v2 only), read once, and addressed by its path relative to the run, which is also the link
 * the report prints beside each line.
 */
public final class RunFolder {
    private static final ObjectMapper JSON = Json.MAPPER;
    private final Path dir;
    private final Map<String, Optional<Table>> tables = new HashMap<>();

    public RunFolder(Path dir) {
        this.dir = dir;
    }

    public Path dir() {
        return dir;
    }

    /** The table at {@code rel} (without .arrow), if the run has it. */
    public Optional<Table> table(String rel) {
        return tables.computeIfAbsent(rel, r -> {
            Path f = dir.resolve(r + ArrowTables.EXTENSION);
            return Files.isRegularFile(f) ? Optional.of(ArrowTables.read(f)) : Optional.empty();
        });
    }

    /** The catalogued table {@code t}, if the run has it. */
    public Optional<Table> table(StageTable t) {
        return table(t.path());
    }

    /** The catalogued per-seed table {@code t} of {@code seed}, if the run has it. */
    public Optional<Table> table(StageTable t, int seed) {
        return table(t.path(seed));
    }

    /** The link to a table, as written in Markdown and HTML: its path relative to the run folder. */
    public static String link(String rel) {
        return rel + ArrowTables.EXTENSION;
    }

    public boolean has(String rel) {
        return Files.exists(dir.resolve(rel));
    }

    public JsonNode json(String rel) {
        Path f = dir.resolve(rel);
        if (!Files.isRegularFile(f)) return MissingNode.getInstance();
        try {
            return JSON.readTree(f.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot read " + f, e);
        }
    }

    public JsonNode manifest() {
        return json("run_manifest.json");
    }

    /** The seed sub-folders of a stage folder, in numeric order: {@code heldout -> [10, 11, 12]}. */
    public List<Integer> seeds(String stage) {
        Path d = dir.resolve(stage);
        if (!Files.isDirectory(d)) return List.of();
        try (Stream<Path> s = Files.list(d)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.matches("seed\\d+"))
                    .map(n -> Integer.parseInt(n.substring(4))).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Files directly in a folder of the run whose names end with {@code suffix}, sorted. */
    public List<String> files(String folder, String suffix) {
        Path d = dir.resolve(folder);
        if (!Files.isDirectory(d)) return List.of();
        try (Stream<Path> s = Files.list(d)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(suffix)).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    // ---- tolerant cell access: columns are read by name, a missing column reads as null

    public static String str(Table.Row r, String column) {
        if (!r.table().hasColumn(column)) return null;
        Object v = r.get(column);
        return v == null ? null : v.toString();
    }

    public static Double dbl(Table.Row r, String column) {
        if (!r.table().hasColumn(column)) return null;
        return r.get(column) instanceof Number n ? n.doubleValue() : null;
    }

    public static Long lng(Table.Row r, String column) {
        if (!r.table().hasColumn(column)) return null;
        return r.get(column) instanceof Number n ? n.longValue() : null;
    }

    public static boolean bool(Table.Row r, String column) {
        return r.table().hasColumn(column) && Boolean.TRUE.equals(r.get(column));
    }
}
