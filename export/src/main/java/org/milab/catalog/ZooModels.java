package org.milab.catalog;

import org.milab.graph.GraphExporter;
import org.milab.graph.ModelIdentity;
import org.milab.model.ModelConfig;
import org.milab.model.SafetensorsFile;
import org.milab.planted.PlantedVocabulary;
import org.milab.tokenizer.WordLevelTokenizerJson;
import org.milab.util.AtomicFiles;
import org.milab.util.Hashing;
import org.milab.util.IoErrors;
import org.milab.util.UserError;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * {@code make export MODEL=zoo-<name>}: the zoo of small GPT-2-architecture models TRAINED by
 * {@code tools/zoo/train.py} (PyTorch), committed under {@code zoo/<name>/} (model.safetensors, config.json,
 * vocab.txt, the training config and log, SHA256SUMS). Exports go through the same graph builder and
 * self-check as GPT-2; the word-level tokenizer is built from vocab.txt like the planted model's. Nothing
 * here knows what any head does.
 */
public final class ZooModels {
    /** Model names with this prefix are read from the committed zoo folder. */
    public static final String PREFIX = "zoo-";
    /** The zoo folder under the project root. */
    public static final String DIR = "zoo";
    public static final String WEIGHTS = "model.safetensors", CONFIG = "config.json", VOCAB = "vocab.txt",
            SUMS = "SHA256SUMS", TRAIN_CONFIG = "train_config.json", TRAIN_LOG = "train_log.jsonl";
    /** The trainer's two special tokens (the planted model's spelling, so both tokenizers read alike). */
    public static final String UNK = PlantedVocabulary.UNK, BOS = PlantedVocabulary.BOS;

    private ZooModels() {}

    public static boolean isZoo(String modelId) {
        return modelId.startsWith(PREFIX);
    }

    /**
     * The committed zoo models under {@code zooDir} (folders zoo-* holding a model.safetensors), sorted; not the
     * trainer's {@code <name>.no-induction} folders.
     */
    public static List<String> names(Path zooDir) {
        if (!Files.isDirectory(zooDir)) return List.of();
        try (Stream<Path> s = Files.list(zooDir)) {
            return s.filter(p -> Files.isRegularFile(p.resolve(WEIGHTS))).map(p -> p.getFileName().toString())
                    .filter(n -> isZoo(n) && !n.contains(".")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Exports zoo model {@code layout.modelId()} from {@code zooDir/<id>/} into graphs/ and manifests/ of {@code layout}. */
    public static GraphExporter.Exported export(ModelLayout layout, Path zooDir) {
        String id = layout.modelId();
        Path dir = zooDir.resolve(id);
        if (!Files.isRegularFile(dir.resolve(WEIGHTS)))
            throw new UserError("No zoo model " + id + " in " + zooDir + " (no " + WEIGHTS + ").",
                    "Use one of " + names(zooDir) + ", or train it: make zoo (docs/zoo.md).");
        verifySums(dir);
        List<String> vocab = readVocab(dir.resolve(VOCAB));
        ModelConfig config = ModelConfig.read(dir.resolve(CONFIG));
        if (config.vocabSize() != vocab.size())
            throw new UserError(dir.resolve(CONFIG) + " says vocab_size " + config.vocabSize() + " but " + VOCAB
                    + " lists " + vocab.size() + " tokens.", "Retrain the model (make zoo) so its files belong together.");
        String tokenizer = WordLevelTokenizerJson.build(vocab, UNK, BOS);
        String sha = Hashing.sha256(dir.resolve(WEIGHTS));
        ModelIdentity identity = new ModelIdentity(id, null, "trained by tools/zoo/train.py, committed zoo/" + id,
                sha, false, "zoo/" + id + " (sha256 checked against its " + SUMS + ")");
        Map<String, Object> extra = new LinkedHashMap<>();
        extra.put("zoo_training", readJson(dir.resolve(TRAIN_CONFIG)));
        try (SafetensorsFile ckpt = SafetensorsFile.open(dir.resolve(WEIGHTS), config)) {
            return ModelExports.export(layout, ckpt, identity, extra, stage -> {
                try {
                    Path copy = stage.graphDir().resolve("checkpoint");
                    Files.createDirectories(copy);
                    for (String f : List.of(WEIGHTS, CONFIG, VOCAB, SUMS, TRAIN_CONFIG, TRAIN_LOG))
                        if (Files.isRegularFile(dir.resolve(f))) Files.copy(dir.resolve(f), copy.resolve(f));
                    AtomicFiles.writeString(stage.tokenizer(), tokenizer);
                } catch (IOException e) {
                    throw IoErrors.onWrite(stage.graphDir(), e);
                }
            });
        }
    }

    /** Every file SHA256SUMS lists must have that hash: a zoo model is exactly what the trainer wrote. */
    public static void verifySums(Path dir) {
        Path sums = dir.resolve(SUMS);
        if (!Files.isRegularFile(sums))
            throw new UserError("Zoo model " + dir + " has no " + SUMS + ".", "Retrain it with make zoo (docs/zoo.md).");
        try {
            for (String line : Files.readAllLines(sums)) {
                if (line.isBlank()) continue;
                String[] p = line.trim().split("\\s+", 2);
                Path f = dir.resolve(p[1]);
                String actual = Files.isRegularFile(f) ? Hashing.sha256(f) : "missing";
                if (!actual.equals(p[0]))
                    throw new UserError("Zoo file " + f + " has sha256 " + actual + " but " + SUMS + " says " + p[0] + ".",
                            "Restore it from git (git checkout -- " + DIR + "/), or retrain with make zoo.");
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The token strings of a zoo model's vocab.txt, the i-th has id i. */
    public static List<String> readVocab(Path file) {
        try {
            List<String> out = new ArrayList<>();
            for (String line : Files.readAllLines(file)) if (!line.isEmpty()) out.add(line);
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Object readJson(Path file) {
        try {
            return Files.isRegularFile(file) ? new com.fasterxml.jackson.databind.ObjectMapper().readTree(file.toFile()) : null;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
