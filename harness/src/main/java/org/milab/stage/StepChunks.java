package org.milab.stage;

import org.milab.tables.ArrowTables;
import org.milab.tables.Table;
import org.milab.tables.TableBuilder;
import org.milab.util.AtomicFiles;
import org.milab.util.FileTrees;
import org.milab.util.Hashing;
import org.milab.util.Json;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.IntFunction;
import java.util.function.Supplier;
import java.util.stream.Stream;

/**
 * Partial progress of a long step, so a kill costs one chunk instead of the whole step. Each finished chunk's
 * tables (or arrays) are written atomically to {@code <run>/.partial/<step>-<key>/<chunk>.<name>}; a resumed step
 * reads the chunks that are there and computes only the rest. The key is a hash of everything the step's
 * numbers depend on: the step ledger's fingerprint of the step ({@link StageContext#stepFingerprint}: run config,
 * model and graphs, code, the outputs of every earlier step, the step's settings) plus the step's own inputs
 * (e.g. the registered protocol's sha256), so rows of two configurations are never mixed: chunks under another
 * key are deleted when the step starts. When the step has written its tables the folder is deleted, so a
 * finished run never holds one (and no step record lists one).
 *
 * <p>A chunk must be computed exactly as the whole step would compute that part (the same rows in the same
 * engine calls), so a resumed step's tables are identical to an uninterrupted one's.
 */
public final class StepChunks {
    public static final String DIR = ".partial";

    private final Path dir;
    private final String step;
    private int reused, total;

    /**
     * @param inputs the step's own inputs beyond what the ledger fingerprints (joined into the key)
     */
    public StepChunks(StageContext ctx, String step, String inputs) {
        Map<String, Object> model = new TreeMap<>(ctx.model().provenance());
        model.remove("device_fallback_reason"); // as the step ledger: where CUDA was tried is not a result
        String key = Hashing.sha256(Json.write(List.of(ctx.config().toMap(), model, ctx.codeCommit(),
                ctx.stepFingerprint(), inputs))).substring(0, 16);
        Path partial = ctx.runDir().resolve(DIR);
        this.step = step;
        this.dir = partial.resolve(step + "-" + key);
        // chunks of this step under another configuration: never read, so removed now
        if (Files.isDirectory(partial))
            try (Stream<Path> s = Files.list(partial)) {
                for (Path p : s.filter(p -> p.getFileName().toString().startsWith(step + "-") && !p.equals(dir)).toList())
                    FileTrees.delete(p);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
    }

    /** The folder this step's chunks are kept in (for tests and messages). */
    public Path dir() {
        return dir;
    }

    private Path file(String chunk, String name) {
        return dir.resolve(chunk + "." + name);
    }

    /**
     * Chunk {@code chunk}'s tables: read back when an earlier attempt kept them, else computed and kept. Its
     * last table's file marks it complete (each file is written atomically).
     */
    public List<Table> tables(String chunk, List<String> names, Supplier<List<Table>> compute) {
        total++;
        List<Table> out = new ArrayList<>();
        for (String t : names) {
            Path f = file(chunk, t + ArrowTables.EXTENSION);
            if (!Files.isRegularFile(f)) break;
            out.add(ArrowTables.read(f));
        }
        if (out.size() == names.size()) {
            reused++;
            return out;
        }
        List<Table> done = compute.get();
        for (int i = 0; i < names.size(); i++) ArrowTables.write(file(chunk, names.get(i) + ArrowTables.EXTENSION), done.get(i));
        return done;
    }

    /** Every chunk's tables in order, their rows appended to {@code into} (one builder per table name). */
    public void appendAll(int chunks, List<String> names, IntFunction<List<Table>> compute, List<TableBuilder> into) {
        for (int c = 0; c < chunks; c++) {
            int index = c;
            List<Table> done = tables(String.valueOf(c), names, () -> compute.apply(index));
            for (int t = 0; t < names.size(); t++)
                for (Table.Row r : done.get(t).rows()) into.get(t).copyRow(r);
        }
    }

    /** A chunk of float32 values (e.g. scores of some rows), kept bit for bit (as float64, which holds every float32). */
    public float[] floats(String chunk, Supplier<float[]> compute) {
        double[] d = doubles(chunk, () -> {
            float[] v = compute.get();
            double[] out = new double[v.length];
            for (int i = 0; i < v.length; i++) out[i] = v[i];
            return out;
        });
        float[] out = new float[d.length];
        for (int i = 0; i < d.length; i++) out[i] = (float) d[i];
        return out;
    }

    /** A chunk of float64 values (e.g. metrics of some rows), kept bit for bit. */
    public double[] doubles(String chunk, Supplier<double[]> compute) {
        total++;
        Path f = file(chunk, "f64");
        if (Files.isRegularFile(f)) {
            reused++;
            try (InputStream raw = Files.newInputStream(f);
                 DataInputStream in = new DataInputStream(new java.io.BufferedInputStream(raw))) {
                double[] v = new double[in.readInt()];
                for (int i = 0; i < v.length; i++) v[i] = in.readDouble();
                return v;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        double[] v = compute.get();
        AtomicFiles.write(f, out -> {
            DataOutputStream d = new DataOutputStream(new java.io.BufferedOutputStream(out));
            d.writeInt(v.length);
            for (double x : v) d.writeDouble(x);
            d.flush();
        });
        return v;
    }

    /** Chunks read back from an interrupted attempt so far. */
    public int reused() {
        return reused;
    }

    /**
     * The step wrote its tables: the chunks are no longer needed. Says on stderr how many chunks an interrupted
     * attempt had kept ({@code what}: e.g. "groups (seed x family)").
     */
    public void clear(String what) {
        if (reused > 0)
            System.err.printf(Locale.ROOT, "%s: %d of %d %s read back from an interrupted attempt%n", step, reused, total, what);
        FileTrees.delete(dir);
        Path partial = dir.getParent();
        if (!Files.isDirectory(partial)) return;
        try (Stream<Path> s = Files.list(partial)) {
            if (s.findAny().isEmpty()) Files.delete(partial);
        } catch (IOException e) {
            // another step's chunks may be there; an empty folder left behind is harmless
        }
    }
}
