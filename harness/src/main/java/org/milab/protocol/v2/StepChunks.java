package org.milab.protocol.v2;

import org.milab.stage.StageContext;
import org.milab.tables.ArrowTables;
import org.milab.tables.Table;
import org.milab.util.FileTrees;
import org.milab.util.Hashing;
import org.milab.util.Json;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * Partial progress of a long step, so a kill costs one chunk instead of the whole step. Each finished chunk's
 * tables are written (atomically) to {@code <run>/.partial/<step>-<key>/<chunk>.<table>.arrow}; a resumed step
 * reads the chunks that are there and computes only the rest. The key is a hash of everything the step's
 * numbers depend on (the run config, the model and its graphs, the code, and the step's own inputs, e.g. the
 * registered protocol's sha256), so rows of two configurations are never mixed: chunks under another key are
 * deleted when the step starts. When the step has written its tables the folder is deleted, so a finished run
 * never holds one (and no step record lists one).
 */
final class StepChunks {
    static final String DIR = ".partial";

    private final Path dir;
    private final List<String> tables;

    /**
     * @param inputs the step's own inputs beyond the run config, model and code (joined into the key)
     * @param tables the names of the tables each chunk holds
     */
    StepChunks(StageContext ctx, String step, String inputs, List<String> tables) {
        Map<String, Object> model = new TreeMap<>(ctx.model().provenance());
        model.remove("device_fallback_reason"); // as the step ledger: where CUDA was tried is not a result
        String key = Hashing.sha256(Json.write(List.of(ctx.config().toMap(), model, ctx.codeCommit(), inputs)))
                .substring(0, 16);
        Path partial = ctx.runDir().resolve(DIR);
        this.dir = partial.resolve(step + "-" + key);
        this.tables = List.copyOf(tables);
        // chunks of this step under another configuration: never read, so removed now
        if (Files.isDirectory(partial))
            try (Stream<Path> s = Files.list(partial)) {
                for (Path p : s.filter(p -> p.getFileName().toString().startsWith(step + "-") && !p.equals(dir)).toList())
                    FileTrees.delete(p);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
    }

    private Path file(int chunk, String table) {
        return dir.resolve(chunk + "." + table + ArrowTables.EXTENSION);
    }

    /** The chunk's tables (in the order given), when an earlier attempt finished it. */
    Optional<List<Table>> load(int chunk) {
        List<Table> out = new ArrayList<>();
        for (String t : tables) {
            Path f = file(chunk, t);
            if (!Files.isRegularFile(f)) return Optional.empty();
            out.add(ArrowTables.read(f));
        }
        return Optional.of(out);
    }

    /** Keeps a finished chunk; its last table's file marks it complete (each file is written atomically). */
    void save(int chunk, List<Table> chunkTables) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        for (int i = 0; i < tables.size(); i++) ArrowTables.write(file(chunk, tables.get(i)), chunkTables.get(i));
    }

    /** The step wrote its tables: the chunks are no longer needed. */
    void clear() {
        FileTrees.delete(dir);
        Path partial = dir.getParent();
        try (Stream<Path> s = Files.list(partial)) {
            if (s.findAny().isEmpty()) Files.delete(partial);
        } catch (IOException e) {
            // another step's chunks may be there; an empty folder left behind is harmless
        }
    }
}
