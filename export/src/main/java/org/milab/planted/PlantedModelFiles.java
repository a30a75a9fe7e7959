package org.milab.planted;

import org.milab.util.AtomicFiles;

import java.nio.file.Path;

/**
 * Writes the planted model's text files into a model folder. The checkpoint itself
 * ({@code model.safetensors}, {@code config.json}) is written by the checkpoint writer, not here.
 */
public final class PlantedModelFiles {
    private PlantedModelFiles() {}

    public static final String TOKENIZER = "tokenizer.json";
    public static final String GROUND_TRUTH = "ground_truth.json";
    public static final String MODEL_CARD = "MODEL.md";

    /** Writes tokenizer.json, ground_truth.json and MODEL.md into {@code dir} (created if needed), each atomically. */
    public static void write(Path dir, Planted planted) {
        AtomicFiles.writeString(dir.resolve(TOKENIZER), planted.tokenizerJson());
        AtomicFiles.writeString(dir.resolve(GROUND_TRUTH), planted.groundTruth().toJson());
        AtomicFiles.writeString(dir.resolve(MODEL_CARD), planted.groundTruth().toMarkdown());
    }
}
