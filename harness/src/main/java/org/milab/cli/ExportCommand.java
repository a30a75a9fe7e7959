package org.milab.cli;

import org.milab.catalog.ModelExports;
import org.milab.catalog.ModelLayout;
import org.milab.graph.GraphExporter;
import org.milab.util.UserError;
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
            description = "gpt2 (pinned hub checkpoint, the cache, or --weights); planted-induction, planted-backup, "
                    + "planted-deep3 or planted-<name> with --planted-layout; planted-successor, planted-successor-<preset> or "
                    + "planted-successor-<name> with --planted-layout (the successor behaviour; all generated, work offline); or any other name "
                    + "for a --weights file. Default: ${DEFAULT-VALUE}.")
    String model;

    @Option(names = "--weights", paramLabel = "FILE",
            description = "Local model.safetensors (its config.json beside it). Default: the cache, else a download.")
    Path weights;

    @Option(names = "--allow-unpinned", description = "Accept weights that are not the pinned GPT-2 file (recorded as unpinned).")
    boolean allowUnpinned;

    @Option(names = "--gpt2-bpe", paramLabel = "DIR",
            description = "Folder with OpenAI's encoder.json + vocab.bpe. Default: env MILAB_GPT2_BPE, ../shared/gpt2, else a download.")
    Path bpeDir;

    @Option(names = "--planted-layout", description = "planted models: a layout preset (default, backup, deep3) or a spec "
            + "such as 'layers=3,prev=L1H5,induction=L2H6,backup=L2H3:0.5,duplicate=L1H2,frequency=L2H0,sink=L0H3'. "
            + "Default: the preset the model name names.")
    String plantedLayout;

    @Option(names = "--planted-seed", defaultValue = "0",
            description = "planted models: seed of the noise heads and the weight noise. Default: ${DEFAULT-VALUE}.")
    long plantedSeed;

    @Option(names = "--planted-noise", defaultValue = "0.01",
            description = "planted models: std of the Gaussian noise on all weights. Default: ${DEFAULT-VALUE}.")
    double plantedNoise;

    @Override
    public Integer call() {
        if (!(plantedNoise >= 0 && plantedNoise <= 1))
            throw new UserError("--planted-noise " + plantedNoise + " is out of range: it must be between 0 and 1 (a std of weights).",
                    "Pass e.g. --planted-noise 0.01 (the default).");
        OptionChecks.bounded("--planted-seed", plantedSeed, 0, OptionChecks.MAX_SEED);
        if (bpeDir != null && !java.nio.file.Files.isDirectory(bpeDir))
            throw new UserError("--gpt2-bpe " + bpeDir + " is not a folder" + (java.nio.file.Files.exists(bpeDir) ? "." : " (it does not exist)."),
                    "Pass the folder that holds OpenAI's encoder.json and vocab.bpe (or set MILAB_GPT2_BPE).");
        long t0 = System.nanoTime();
        ModelLayout layout = new ModelLayout(root.root(), model);
        GraphExporter.Exported ex = Models.export(layout, weights, allowUnpinned, bpeDir,
                new Models.PlantedOptions(plantedLayout, plantedSeed, plantedNoise));
        System.out.printf("exported %s: %d graph variants in %s, manifests in %s (%.1f s)%n", model,
                ex.manifests().size(), root.root().relativize(ex.graphDir()), root.root().relativize(ex.manifestDir()),
                (System.nanoTime() - t0) / 1e9);
        return 0;
    }
}
