package org.milab.cli;

import org.milab.catalog.ModelExports;
import org.milab.catalog.ModelLayout;
import org.milab.graph.GraphExporter;
import org.milab.planted.PlantedSpec;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code make export}: checkpoint -> graphs/<model>/ + manifests/<model>/. */
@Command(name = "export", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Export a GPT-2-architecture checkpoint into hooked ONNX graph variants with manifests.")
public final class ExportCommand implements Callable<Integer> {
    @Mixin RootOption root;

    @Option(names = "--model", defaultValue = "gpt2",
            description = "gpt2 (pinned hub checkpoint, the cache, or --weights), planted-induction (generated, works "
                    + "offline), or any name for a --weights file. Default: ${DEFAULT-VALUE}.")
    String model;

    @Option(names = "--weights", paramLabel = "FILE",
            description = "Local model.safetensors (its config.json beside it). Default: the cache, else a download.")
    Path weights;

    @Option(names = "--allow-unpinned", description = "Accept weights that are not the pinned GPT-2 file (recorded as unpinned).")
    boolean allowUnpinned;

    @Option(names = "--gpt2-bpe", paramLabel = "DIR",
            description = "Folder with OpenAI's encoder.json + vocab.bpe. Default: env MILAB_GPT2_BPE, ../shared/gpt2, else a download.")
    Path bpeDir;

    @Option(names = "--planted-seed", defaultValue = "0", description = "planted-induction: seed of the weight noise. Default: ${DEFAULT-VALUE}.")
    long plantedSeed;

    @Option(names = "--planted-noise", defaultValue = "0.01",
            description = "planted-induction: std of the Gaussian noise on all weights. Default: ${DEFAULT-VALUE}.")
    double plantedNoise;

    @Override
    public Integer call() {
        long t0 = System.nanoTime();
        ModelLayout layout = new ModelLayout(root.root(), model);
        GraphExporter.Exported ex = Models.export(layout, weights, allowUnpinned, bpeDir,
                new PlantedSpec(plantedSeed, plantedNoise));
        System.out.printf("exported %s: %d graph variants in %s, manifests in %s (%.1f s)%n", model,
                ex.manifests().size(), root.root().relativize(ex.graphDir()), root.root().relativize(ex.manifestDir()),
                (System.nanoTime() - t0) / 1e9);
        return 0;
    }
}
