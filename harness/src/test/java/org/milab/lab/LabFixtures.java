package org.milab.lab;

import org.milab.catalog.ModelExports;
import org.milab.catalog.ModelLayout;
import org.milab.graph.ModelIdentity;
import org.milab.model.InMemoryCheckpoint;
import org.milab.model.ModelConfig;
import org.milab.model.RandomCheckpoints;
import org.milab.prompts.CalibrationBank;
import org.milab.prompts.CalibrationPrompt;
import org.milab.prompts.CharacterizationPrompts;
import org.milab.prompts.ControlPrompts;
import org.milab.prompts.HeldoutPrompts;
import org.milab.prompts.PromptRecord;
import org.milab.runtime.Device;
import org.milab.tokenizer.WordLevelTokenizerJson;
import org.milab.util.AtomicFiles;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Stream;

/** Exported models for harness tests. */
public final class LabFixtures {
    private LabFixtures() {}

    /** Every word of every reference prompt set (controls, held-out, characterization, calibration). */
    public static List<String> referenceWords() {
        TreeSet<String> words = new TreeSet<>();
        List<PromptRecord> records = new ArrayList<>();
        records.addAll(ControlPrompts.generate(0, 32));
        records.addAll(HeldoutPrompts.generate(10, 24));
        records.addAll(CharacterizationPrompts.generate(20, 12));
        for (PromptRecord r : records)
            Stream.of(r.prompt(), r.controlPrompt(), r.trueExpectedNextToken(), r.wrongOrControlToken(),
                    r.expectedNextToken()).forEach(s -> words.addAll(List.of(s.trim().split("\\s+"))));
        for (CalibrationPrompt c : CalibrationBank.build())
            c.values().forEach(v -> {
                if (v instanceof String s) words.addAll(List.of(s.trim().split("\\s+")));
            });
        words.remove("");
        return new ArrayList<>(words);
    }

    /**
     * A small random GPT-2 (2 layers, 4 heads, d 32) over a word-level vocabulary with every reference
     * word, exported under {@code root} as model {@code id}: the numbers mean nothing, the plumbing is real.
     */
    public static LabModel randomWordModel(Path root, String id, long seed) {
        return randomWordModel(root, id, seed, List.of());
    }

    /** {@link #randomWordModel(Path, String, long)} without the words in {@code missing} (they encode to {@code <unk>}). */
    public static LabModel randomWordModel(Path root, String id, long seed, List<String> missing) {
        exportRandomWordModel(root, id, seed, missing);
        return LabModel.open(root, id, Device.CPU, 2, 64, 64 * 16);
    }

    /** Exports the model of {@link #randomWordModel(Path, String, long, List)} without opening it. */
    public static void exportRandomWordModel(Path root, String id, long seed, List<String> missing) {
        List<String> vocab = new ArrayList<>(List.of("<|endoftext|>", "<unk>"));
        vocab.addAll(referenceWords());
        vocab.removeAll(missing);
        exportRandomWordModel(root, id, seed, vocab, new ModelConfig(2, 4, 32, vocab.size(), 24, 1e-5, ModelConfig.GELU_TANH, false));
    }

    /**
     * A random GPT-2 of shape {@code cfg} over the word-level vocabulary {@code vocab} (BOS first, then the
     * unknown token), exported under {@code root} as model {@code id}.
     */
    public static void exportRandomWordModel(Path root, String id, long seed, List<String> vocab, ModelConfig cfg) {
        InMemoryCheckpoint ckpt = RandomCheckpoints.generate(cfg, seed, 0.5f);
        String tokenizer = WordLevelTokenizerJson.build(vocab, "<unk>", "<|endoftext|>");
        ModelLayout layout = new ModelLayout(root, id);
        ModelExports.export(layout, ckpt, new ModelIdentity(id, null, null, "test", false, "LabFixtures seed " + seed),
                Map.of(), stage -> AtomicFiles.writeString(stage.tokenizer(), tokenizer));
    }

    /** A child process that exports the word model again and again (seeds 1, 2, 3...) until it is killed. */
    public static final class ExportForever {
        public static void main(String[] args) {
            for (long seed = 1; ; seed++) {
                exportRandomWordModel(Path.of(args[0]), args[1], seed, List.of());
                System.out.println("exported seed " + seed);
                System.out.flush();
            }
        }
    }
}
