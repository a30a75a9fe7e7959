package org.milab.planted;

import org.milab.model.InMemoryCheckpoint;

import java.util.List;

/**
 * A built planted model (one {@link PlantedLayout} of the planted induction family).
 *
 * @param spec          what it was built from
 * @param checkpoint    the weights in the Hugging Face GPT-2 layout (untied {@code lm_head.weight})
 * @param vocabulary    token strings in id order
 * @param tokenizerJson a word-level {@code tokenizer.json} for {@code vocabulary}
 * @param groundTruth   what every head is built to do
 */
public record Planted(PlantedSpec spec, InMemoryCheckpoint checkpoint, List<String> vocabulary,
                      String tokenizerJson, GroundTruth groundTruth) {

    /** The id of {@code word} (no leading space); fails for words outside the vocabulary. */
    public int id(String word) {
        int id = vocabulary.indexOf(word);
        if (id < 0) throw new IllegalArgumentException("'" + word + "' is not in the planted model's vocabulary");
        return id;
    }

    /** The same model under another name: the folder it is exported to ({@link GroundTruth#model()}). */
    public Planted named(String modelId) {
        return new Planted(spec, checkpoint, vocabulary, tokenizerJson, groundTruth.withModel(modelId));
    }

    public int bosId() {
        return id(PlantedVocabulary.BOS);
    }

    /** {@code [bos] + ids(words)}, the way TransformerLens tokenises a prompt. */
    public int[] idsWithBos(List<String> words) {
        int[] ids = new int[words.size() + 1];
        ids[0] = bosId();
        for (int i = 0; i < words.size(); i++) ids[i + 1] = id(words.get(i));
        return ids;
    }
}
