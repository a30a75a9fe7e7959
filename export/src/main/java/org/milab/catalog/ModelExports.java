package org.milab.catalog;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.milab.graph.GraphExporter;
import org.milab.graph.ModelIdentity;
import org.milab.model.Checkpoint;
import org.milab.model.Dtype;
import org.milab.model.ModelConfig;
import org.milab.model.SafetensorsFile;
import org.milab.model.SafetensorsWriter;
import org.milab.planted.Planted;
import org.milab.planted.PlantedInductionModel;
import org.milab.planted.PlantedLayout;
import org.milab.planted.PlantedModelFiles;
import org.milab.planted.PlantedSpec;
import org.milab.util.Hashing;
import org.milab.model.download.PinnedFile;
import org.milab.model.download.ResolvedWeights;
import org.milab.model.download.WeightsFetcher;
import org.milab.model.download.WeightsResolver;
import org.milab.tokenizer.Gpt2TokenizerJson;
import org.milab.util.AtomicFiles;
import org.milab.util.IoErrors;
import org.milab.util.StepCounter;
import org.milab.util.UserError;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.milab.runtime.ModelSessions;
import org.milab.util.Json;

/**
 * {@code make export}: turns a checkpoint into graphs/<model>/ (weights, graph variants, tokenizer,
 * config) and manifests/<model>/ (one manifest per variant plus the self-check), the same way for every
 * model: GPT-2 from the pinned hub file or a local file, and generated models such as the planted one.
 */
public final class ModelExports {
    public static final String GPT2 = "gpt2";
    /** Env var naming a folder with OpenAI's encoder.json + vocab.bpe (an offline tokenizer source). */
    public static final String BPE_DIR_ENV = "MILAB_GPT2_BPE";
    private static final ObjectMapper JSON = Json.MAPPER;

    private ModelExports() {}

    /**
     * Exports a GPT-2-architecture checkpoint that uses GPT-2's BPE vocabulary: the pinned GPT-2 small
     * (cache or download), or a local file given by {@code weightsArg} / env WEIGHTS (verified against the
     * pin, accepted otherwise only with {@code allowUnpinned}, then recorded as unpinned).
     */
    public static GraphExporter.Exported exportGpt2Family(ModelLayout layout, Path weightsArg, boolean allowUnpinned,
                                                         Path bpeDir) {
        WeightsResolver.ResolvedModel resolved = WeightsResolver.gpt2().resolve(weightsArg, allowUnpinned);
        ResolvedWeights w = resolved.weights();
        if (resolved.modelConfig().vocabSize() != Gpt2TokenizerJson.VOCAB_SIZE)
            throw new UserError("The checkpoint's vocabulary has " + resolved.modelConfig().vocabSize()
                    + " entries but GPT-2's BPE tokenizer has " + Gpt2TokenizerJson.VOCAB_SIZE + ".",
                    "Export only GPT-2-vocabulary checkpoints this way (config.json vocab_size 50257).");
        Path offlineBpe = bpeDir != null ? bpeDir : offlineBpeDir(layout.root());
        try (SafetensorsFile ckpt = SafetensorsFile.open(w.file(), resolved.modelConfig())) {
            ModelIdentity identity = new ModelIdentity(layout.modelId(), PinnedFile.GPT2_WEIGHTS.repo(),
                    w.pinned() ? PinnedFile.GPT2_WEIGHTS.revision() : null, w.sha256(), w.pinned(),
                    w.origin() + ": " + w.file());
            return export(layout, ckpt, identity, Map.of(), stage -> writeGpt2Tokenizer(stage.tokenizer(), offlineBpe));
        }
    }

    /**
     * Exports any checkpoint through the same graph builder, then self-checks it. Everything is written
     * into a staging folder first and swapped into graphs/<model>/ and manifests/<model>/ only when the
     * self-check passed, so a failed export leaves the previous export (or nothing) in place.
     */
    public static GraphExporter.Exported export(ModelLayout layout, Checkpoint ckpt, ModelIdentity identity,
                                                Map<String, Object> extra) {
        return export(layout, ckpt, identity, extra, stage -> {});
    }

    /** As {@link #export(ModelLayout, Checkpoint, ModelIdentity, Map)}; {@code extraFiles} adds files to the staged graph folder. */
    public static GraphExporter.Exported export(ModelLayout layout, Checkpoint ckpt, ModelIdentity identity,
                                                Map<String, Object> extra, Consumer<ModelLayout> extraFiles) {
        SelfCheck.requireFinite(ckpt);
        return StagedDirs.run(layout, stage -> {
            extraFiles.accept(stage);
            if (!Files.isRegularFile(stage.tokenizer()))
                throw new IllegalStateException("export of " + layout.modelId() + " wrote no tokenizer.json");
            List<String> names = new java.util.ArrayList<>(List.of(org.milab.graph.WeightsLayout.FILE_NAME));
            GraphExporter.allVariants().forEach(v -> names.add(v.fileName()));
            names.add("self-check");
            StepCounter steps = new StepCounter("export " + layout.modelId(), names);
            GraphExporter.Exported ex = new GraphExporter(layout.root(), ModelSessions.environment().getVersion()).export(ckpt, identity, stage.graphDir(),
                    stage.manifestDir(), GraphExporter.allVariants(), extra, steps);
            steps.start("self-check");
            SelfCheck.Result check = SelfCheck.run(ckpt, stage.graphDir());
            steps.done("self-check");
            Map<String, Object> report = new LinkedHashMap<>();
            report.put("model", identity.id());
            report.put("prompt_token_ids", check.prompt());
            report.put("max_abs_logit_diff_vs_reference", check.maxAbsLogitDiff());
            report.put("tolerance", check.tolerance());
            report.put("reference", "org.milab.model.ReferenceGpt2 (plain Java, double accumulation)");
            try {
                AtomicFiles.writeString(stage.manifestDir().resolve("self_check.json"),
                        JSON.writeValueAsString(report) + "\n");
                // last: the sha256 of every file of the graph folder, checked whenever the model is opened
                AtomicFiles.writeString(stage.manifestDir().resolve(ExportVerifier.FILES),
                        JSON.writeValueAsString(ExportVerifier.fileList(stage.graphDir())) + "\n");
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return new GraphExporter.Exported(layout.graphDir(), layout.manifestDir(), ex.manifests());
        });
    }

    /**
     * {@code make export MODEL=planted-induction}: writes the planted-circuit checkpoint as real files
     * (model.safetensors in the Hugging Face layout, config.json, tokenizer.json, ground_truth.json, MODEL.md),
     * reads it back through the same safetensors reader, and exports it through the same graph builder as
     * GPT-2. The ground truth (with the layout, seed and noise) goes into every manifest. The model is
     * exported under {@code layout.modelId()}, whatever the spec's layout is called.
     */
    public static GraphExporter.Exported exportPlanted(ModelLayout layout, PlantedSpec spec) {
        String generate = "generate the checkpoint (hand-set circuit + seeded noise)";
        StepCounter steps = new StepCounter(layout.modelId(), List.of(generate));
        steps.start(generate);
        Planted planted = PlantedInductionModel.build(spec).named(layout.modelId());
        return exportBuilt(layout, spec, planted, org.milab.planted.EdgeTruth.toMap(planted.groundTruth()),
                "org.milab.planted.PlantedInductionModel", steps, generate);
    }

    /**
     * The second planted behaviour ({@link org.milab.planted.PlantedSuccessorModel}) on {@code spec}'s layout:
     * exported like {@link #exportPlanted} under {@code layout.modelId()}, its circuit's nodes and edges (every
     * copying head, the last MLP) in the manifests' {@code edge_ground_truth}.
     */
    public static GraphExporter.Exported exportPlantedSuccessor(ModelLayout layout, PlantedSpec spec) {
        String generate = "generate the checkpoint (induction + successor MLP, seeded noise)";
        StepCounter steps = new StepCounter(layout.modelId(), List.of(generate));
        steps.start(generate);
        Planted planted = org.milab.planted.PlantedSuccessorModel.build(spec).named(layout.modelId());
        return exportBuilt(layout, spec, planted, org.milab.planted.PlantedSuccessorModel.edgeTruth(planted.groundTruth()),
                "org.milab.planted.PlantedSuccessorModel", steps, generate);
    }

    /** {@link #exportPlantedSuccessor(ModelLayout, PlantedSpec)} under {@code root} as {@code PlantedSuccessorModel.modelId(spec.layout())}. */
    public static GraphExporter.Exported exportPlantedSuccessor(Path root, PlantedSpec spec) {
        return exportPlantedSuccessor(new ModelLayout(root, org.milab.planted.PlantedSuccessorModel.modelId(spec.layout())), spec);
    }

    /** The default layout as model {@code planted-successor} under {@code root}. */
    public static GraphExporter.Exported exportPlantedSuccessor(Path root, long seed, double noiseStd) {
        return exportPlantedSuccessor(root, new PlantedSpec(seed, noiseStd));
    }

    private static GraphExporter.Exported exportBuilt(ModelLayout layout, PlantedSpec spec, Planted planted,
                                                      Map<String, Object> edgeTruth, String generator, StepCounter steps,
                                                      String generate) {
        try (StagedDirs.Staging checkpoint = StagedDirs.create(layout.root(), layout.modelId(), "checkpoint")) {
            Path tmp = checkpoint.dir;
            SafetensorsWriter.writeCheckpoint(tmp, planted.checkpoint(), Dtype.F32, true);
            PlantedModelFiles.write(tmp, planted);
            Path weights = tmp.resolve("model.safetensors");
            String sha = Hashing.sha256(weights);
            steps.done(generate);
            Map<String, Object> extra = new LinkedHashMap<>();
            extra.put("ground_truth", JSON.readTree(planted.groundTruth().toJson()));
            extra.put("edge_ground_truth", edgeTruth);
            Map<String, Object> plantedSpec = new LinkedHashMap<>();
            plantedSpec.put("seed", spec.seed());
            plantedSpec.put("noise_std", spec.noiseStd());
            plantedSpec.put("layout_preset", spec.layout().name());
            plantedSpec.put("layout", spec.layout().spec());
            extra.put("planted_spec", plantedSpec);
            ModelIdentity identity = new ModelIdentity(layout.modelId(), null,
                    "generated (seed " + spec.seed() + ", noise " + spec.noiseStd() + layoutNote(spec.layout()) + ")",
                    sha, false, generator);
            try (SafetensorsFile ckpt = SafetensorsFile.open(weights, ModelConfig.read(tmp.resolve("config.json")))) {
                return export(layout, ckpt, identity, extra, stage -> {
                    try {
                        Path dir = stage.graphDir().resolve("checkpoint");
                        Files.createDirectories(dir);
                        for (String f : List.of("model.safetensors", "config.json", PlantedModelFiles.TOKENIZER,
                                PlantedModelFiles.GROUND_TRUTH, PlantedModelFiles.MODEL_CARD))
                            Files.copy(tmp.resolve(f), dir.resolve(f));
                        Files.copy(tmp.resolve(PlantedModelFiles.TOKENIZER), stage.tokenizer());
                        Files.createDirectories(stage.manifestDir());
                        Files.copy(tmp.resolve(PlantedModelFiles.MODEL_CARD), stage.manifestDir().resolve(PlantedModelFiles.MODEL_CARD));
                    } catch (IOException e) {
                        throw IoErrors.onWrite(stage.graphDir(), e);
                    }
                });
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Finishes an install that a killed export of {@code layout}'s model left half done, and removes staging
     * folders of killed exports; waits for a running export that is installing this model right now.
     */
    public static void recoverInterruptedExports(ModelLayout layout) {
        StagedDirs.recover(layout.root(), layout.modelId());
    }

    /**
     * Exports a planted layout under {@code root} as model {@code spec.modelId()} (planted-induction,
     * planted-backup, planted-deep3, planted-custom): the entry point for tests that need a given layout.
     * Open it with {@code LabModel.open(root, spec.modelId(), ...)}; its truth is in the manifests'
     * {@code ground_truth} and in {@code graphs/<id>/checkpoint/ground_truth.json}.
     */
    public static GraphExporter.Exported exportPlanted(Path root, PlantedSpec spec) {
        return exportPlanted(new ModelLayout(root, spec.modelId()), spec);
    }

    /** The default layout keeps the revision text it always had; other layouts name themselves. */
    private static String layoutNote(PlantedLayout l) {
        return l.name().equals(PlantedLayout.DEFAULT) ? "" : ", layout " + l.name() + " " + l.spec();
    }

    /**
     * GPT-2's tokenizer.json, built from an offline copy of OpenAI's BPE files when one is available
     * ({@code bpeDir}, env MILAB_GPT2_BPE, or ../shared/gpt2 beside the project), else from the hub files at
     * the pinned revision.
     */
    public static void writeGpt2Tokenizer(Path target, Path bpeDir) {
        Path dir = bpeDir;
        if (dir != null) {
            Gpt2TokenizerJson.write(dir, target);
            return;
        }
        WeightsFetcher fetcher = new WeightsFetcher(WeightsFetcher.Settings.fromEnvironment(System.getenv()));
        Path vocab = fetcher.cached(PinnedFile.GPT2_VOCAB).orElseGet(() -> fetcher.download(PinnedFile.GPT2_VOCAB));
        Path merges = fetcher.cached(PinnedFile.GPT2_MERGES).orElseGet(() -> fetcher.download(PinnedFile.GPT2_MERGES));
        AtomicFiles.writeString(target, Gpt2TokenizerJson.build(vocab, merges));
    }

    /** The offline BPE folder: env MILAB_GPT2_BPE, else ../shared/gpt2 beside the project root, else null. */
    static Path offlineBpeDir(Path root) {
        String env = System.getenv(BPE_DIR_ENV);
        if (env != null && !env.isBlank()) {
            Path p = Path.of(env);
            if (!Files.isDirectory(p))
                throw new UserError(BPE_DIR_ENV + "=" + env + " is not a folder.",
                        "Point it at a folder holding encoder.json and vocab.bpe, or unset it.");
            return p;
        }
        Path shared = root.toAbsolutePath().normalize().resolveSibling("shared").resolve("gpt2");
        return Files.isRegularFile(shared.resolve(Gpt2TokenizerJson.ENCODER_FILE)) ? shared : null;
    }
}
