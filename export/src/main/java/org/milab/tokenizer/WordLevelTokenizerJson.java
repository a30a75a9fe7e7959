package org.milab.tokenizer;

import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Builds a {@code tokenizer.json} for a word-level vocabulary (the planted-circuit model): text is split
 * on whitespace, each word is one token, unknown words map to the unk token. Leading spaces therefore
 * vanish: {@code " D"} is the single token {@code "D"}, like a GPT-2 target string is one token there.
 */
public final class WordLevelTokenizerJson {
    private WordLevelTokenizerJson() {}

    /**
     * @param vocabInIdOrder token strings, the i-th has id i; must contain {@code unkToken} and
     *                       {@code bosToken}, no duplicates and no whitespace inside a token
     * @param unkToken       what unknown words encode to
     * @param bosToken       the special beginning-of-sequence token (an added token, matched before splitting)
     */
    public static String build(List<String> vocabInIdOrder, String unkToken, String bosToken) {
        Map<String, Integer> vocab = new LinkedHashMap<>();
        for (String token : vocabInIdOrder) {
            if (token.isEmpty() || token.codePoints().anyMatch(Character::isWhitespace)) {
                throw new IllegalArgumentException("Word-level token '" + token + "' is empty or contains whitespace");
            }
            if (vocab.putIfAbsent(token, vocab.size()) != null) {
                throw new IllegalArgumentException("Duplicate word-level token '" + token + "'");
            }
        }
        if (!vocab.containsKey(unkToken)) throw new IllegalArgumentException("unk token '" + unkToken + "' is not in the vocabulary");
        if (!vocab.containsKey(bosToken)) throw new IllegalArgumentException("BOS token '" + bosToken + "' is not in the vocabulary");

        ObjectNode root = TokenizerJson.root(vocab.get(bosToken), bosToken, false);
        ObjectNode pre = root.putObject("pre_tokenizer");
        pre.put("type", "WhitespaceSplit");
        // decoder stays null: without a decoder the library joins tokens with single spaces.
        ObjectNode model = TokenizerJson.NODES.objectNode();
        model.put("type", "WordLevel");
        model.set("vocab", TokenizerJson.vocabNode(vocab));
        model.put("unk_token", unkToken);
        root.set("model", model);
        return TokenizerJson.write(root);
    }
}
