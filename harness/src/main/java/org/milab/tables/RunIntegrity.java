package org.milab.tables;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.milab.util.Hashing;
import org.milab.util.UserError;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Checks a finished run before anything reads its tables: every file a step record ({@code .steps/<step>.json})
 * or the finish record ({@code .steps/finished.json}) lists must be there with the sha256 recorded when it
 * was written. A file edited, truncated or deleted after the run is named, and the reader refuses (a
 * {@link UserError}) instead of rendering or comparing numbers the run never produced. {@code report.html} is
 * exempt: it is a rendering of the tables that {@code make report} rewrites.
 *
 * <p>The records' format belongs to the run package (StepLedger writes them); this reader needs only the
 * {@code outputs} map each record holds, so the commands that read tables (report, diff, columns) can use it.
 */
public final class RunIntegrity {
    /** The folder of the step records, relative to the run folder. */
    public static final String RECORDS = ".steps";
    private static final String EXEMPT = "report.html";
    private static final ObjectMapper JSON = new ObjectMapper();

    private RunIntegrity() {}

    /** The run folder that {@code dir} is or lies in (it has step records or a run manifest), or null. */
    public static Path runOf(Path dir) {
        for (Path p = dir.toAbsolutePath().normalize(); p != null; p = p.getParent())
            if (Files.isDirectory(p.resolve(RECORDS)) || Files.isRegularFile(p.resolve("run_manifest.json"))) return p;
        return null;
    }

    /**
     * Verifies the run {@code dir} is or lies in against its records; a folder outside any run is accepted only
     * when it holds tables (then there is nothing recorded to check).
     */
    public static void verify(Path dir) {
        Path run = runOf(dir);
        if (run == null) {
            if (!holdsTables(dir))
                throw new UserError(dir + " is not a run: it has no run_manifest.json or " + RECORDS + "/ (nor does a "
                        + "folder above it), and no Arrow tables.", "Pass a run folder, e.g. results/<run-id> (ls results/ lists them).");
            return;
        }
        Path records = run.resolve(RECORDS);
        if (!Files.isDirectory(records)) return; // finished by a version that kept no records: nothing to check against
        List<Path> files;
        try (Stream<Path> s = Files.list(records)) {
            files = s.filter(f -> f.getFileName().toString().endsWith(".json")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        for (Path record : files) {
            JsonNode outputs;
            try {
                outputs = JSON.readTree(record.toFile()).path("outputs");
            } catch (IOException e) {
                throw new UserError(run.relativize(record) + " of run " + run + " is not valid JSON: the run's records were "
                        + "changed after it finished, so its tables cannot be checked.", "Re-run it (make run-... RUN_ID=<id> "
                        + "--resume redoes what cannot be verified), or restore the run from a copy.", e);
            }
            for (Iterator<Map.Entry<String, JsonNode>> it = outputs.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                if (e.getKey().equals(EXEMPT)) continue;
                Path f = run.resolve(e.getKey());
                String problem = !Files.isRegularFile(f) ? "is missing"
                        : !Hashing.sha256(f).equals(e.getValue().asText()) ? "was changed after the run wrote it" : null;
                if (problem != null)
                    throw new UserError("Run " + run.getFileName() + ": " + e.getKey() + " " + problem + " (its sha256 is "
                            + "recorded in " + run.relativize(record) + "), so its numbers are not the run's; nothing was "
                            + "read from it.", "Restore the file from a copy of the run, or recompute it: make run-... "
                            + "RUN_ID=" + run.getFileName() + " (resuming redoes the step that wrote it, in a copy).");
            }
        }
    }

    private static boolean holdsTables(Path dir) {
        if (!Files.isDirectory(dir)) return false;
        try (Stream<Path> s = Files.walk(dir)) {
            return s.anyMatch(ArrowTables::isTableFile);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
