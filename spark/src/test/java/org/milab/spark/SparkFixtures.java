package org.milab.spark;

import org.milab.catalog.ModelExports;
import org.milab.catalog.ModelLayout;
import org.milab.engine.Capture;
import org.milab.engine.Engine;
import org.milab.engine.PatchRow;
import org.milab.engine.SitePatch;
import org.milab.engine.TokenIds;
import org.milab.graph.HookNames;
import org.milab.planted.PlantedInductionModel;
import org.milab.planted.PlantedSpec;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.stream.Stream;

/** The planted model exported for the Spark tests, and a patch job over it. */
final class SparkFixtures {
    static final String MODEL = PlantedInductionModel.MODEL_ID;

    private SparkFixtures() {}

    static void exportPlanted(Path root) {
        ModelExports.exportPlanted(new ModelLayout(root, MODEL), PlantedSpec.defaults());
    }

    /** Copies an exported model's graphs/ and manifests/ to another project root. */
    static void copyExport(Path from, Path to) {
        for (String dir : List.of("graphs", "manifests"))
            try (Stream<Path> files = Files.walk(from.resolve(dir))) {
                for (Path f : files.toList()) {
                    Path target = to.resolve(from.relativize(f).toString());
                    if (Files.isDirectory(f)) Files.createDirectories(target);
                    else Files.copy(f, target);
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
    }

    /**
     * A hook_z patch job on random prompts: per prompt an unpatched row, and every head patched at BOS, the
     * middle and the final position with the next prompt's z there; every row twice (identical rows run once).
     */
    static Job headJob(Engine engine, int prompts, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        int vocab = engine.config().vocabSize();
        List<TokenIds> ps = new ArrayList<>();
        for (int i = 0; i < prompts; i++) ps.add(new TokenIds(rng.ints(5 + rng.nextInt(10), 1, vocab).toArray()));
        Set<String> hooks = new LinkedHashSet<>(engine.suffixHooks());
        for (int l = 0; l < engine.config().nLayer(); l++) hooks.add(HookNames.hookZ(l));
        Map<TokenIds, Capture> caps = engine.capture(ps, hooks, "test capture");
        List<PatchRow> rows = new ArrayList<>();
        for (int p = 0; p < ps.size(); p++) {
            TokenIds t = ps.get(p), donor = ps.get((p + 1) % ps.size());
            int[] metric = {rng.nextInt(vocab), rng.nextInt(vocab)};
            rows.add(new PatchRow(t, List.of(), metric));
            for (int l = 0; l < engine.config().nLayer(); l++)
                for (int h = 0; h < engine.config().nHead(); h++)
                    for (int pos : new int[]{0, t.length() / 2, t.length() - 1})
                        rows.add(new PatchRow(t, List.of(new SitePatch(l, pos, h,
                                caps.get(donor).z(l, Math.min(pos, donor.length() - 1), h))), metric));
        }
        rows.addAll(List.copyOf(rows));
        return new Job(rows, caps);
    }

    record Job(List<PatchRow> rows, Map<TokenIds, Capture> kv) {}
}
