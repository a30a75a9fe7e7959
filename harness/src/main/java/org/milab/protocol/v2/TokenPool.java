package org.milab.protocol.v2;

import org.milab.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Tokens a prompt family draws from, kept from declared candidate words by this model's tokenizer: a word is
 * kept only if {@code " " + word} encodes to exactly one token that decodes back to the word (so neither an
 * unknown-word token nor BOS can slip in) and that is not BOS. Prompts are built from these ids directly, so
 * a position is always a token position.
 *
 * @param name       the pool's name in protocol.json
 * @param candidates the declared words, in order
 * @param ids        the kept tokens' ids, in candidate order, without duplicates
 * @param texts      the kept tokens' texts (with the tokenizer's leading space where it has one)
 * @param dropped    the candidates that were not one known token, with the reason
 */
public record TokenPool(String name, List<String> candidates, List<Integer> ids, List<String> texts, List<String> dropped) {
    public TokenPool {
        candidates = List.copyOf(candidates);
        ids = List.copyOf(ids);
        texts = List.copyOf(texts);
        dropped = List.copyOf(dropped);
    }

    public int size() {
        return ids.size();
    }

    /** Filters {@code candidates} through the tokenizer. */
    public static TokenPool build(String name, List<String> candidates, Tokenizer tok) {
        Set<Integer> ids = new LinkedHashSet<>();
        List<String> texts = new ArrayList<>(), dropped = new ArrayList<>();
        for (String w : candidates) {
            int[] enc = tok.encode(" " + w);
            if (enc.length != 1) {
                dropped.add(w + ": " + enc.length + " tokens");
                continue;
            }
            String text = tok.tokenText(enc[0]);
            if (enc[0] == tok.bosId()) dropped.add(w + ": is BOS");
            else if (!text.strip().equals(w)) dropped.add(w + ": unknown to the tokenizer (decodes to '" + text + "')");
            else if (ids.add(enc[0])) texts.add(text);
            else dropped.add(w + ": duplicate token");
        }
        return new TokenPool(name, candidates, new ArrayList<>(ids), texts, dropped);
    }

    /** Every token id of the vocabulary except BOS and the unknown token (declared special), in id order. */
    public static TokenPool vocabulary(String name, Tokenizer tok) {
        List<Integer> ids = new ArrayList<>();
        List<String> texts = new ArrayList<>(), dropped = new ArrayList<>();
        for (int id = 0; id < tok.vocabSize(); id++) {
            if (id == tok.bosId()) dropped.add(id + ": is BOS");
            else if (tok.isUnknown(id)) dropped.add(id + ": is the unknown token");
            else {
                ids.add(id);
                texts.add(tok.tokenText(id));
            }
        }
        return new TokenPool(name, List.of(), ids, texts, dropped);
    }

    /** The union of pools, in order, without duplicate ids. */
    public static TokenPool union(String name, List<TokenPool> pools) {
        Set<Integer> ids = new LinkedHashSet<>();
        List<String> candidates = new ArrayList<>(), texts = new ArrayList<>();
        for (TokenPool p : pools) {
            candidates.addAll(p.candidates);
            for (int i = 0; i < p.size(); i++)
                if (ids.add(p.ids.get(i))) texts.add(p.texts.get(i));
        }
        return new TokenPool(name, candidates, new ArrayList<>(ids), texts, List.of());
    }
}
