package org.milab.protocol.reference;

import org.milab.engine.Capture;
import org.milab.engine.TokenIds;

import org.milab.prompts.PromptRecord;

import java.util.List;
import java.util.Map;

/**
 * One generated prompt file of a run (e.g. the controls set for seed 0) and the clean captures of its
 * prompts and control prompts, computed once and shared by the descriptive stages (S3, S5, S6).
 *
 * @param dataset  folder name under the run: "controls" or "heldout"
 * @param captures clean forward passes keyed by token ids
 */
public record PromptSet(String dataset, int seed, String task, List<PromptRecord> records,
                        Map<TokenIds, Capture> captures) {

    public Capture capture(TokenIds ids) {
        Capture c = captures.get(ids);
        if (c == null) throw new IllegalStateException("prompt " + ids + " was not captured");
        return c;
    }
}
