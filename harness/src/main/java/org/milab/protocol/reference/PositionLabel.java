package org.milab.protocol.reference;

import org.milab.prompts.PromptRecord;

/**
 * Where in a prompt an intervention lands, resolved exactly as the reference does (spec section 5):
 * {@code final} is each prompt's last index; the hint-based labels add an offset computed from the length
 * of the prompt being indexed but the word count of the RECORD's prompt (the reference's offset rule,
 * reproduced on purpose: with a corrupt prompt of another length it lands on a neighbouring token).
 */
public enum PositionLabel {
    FINAL("final"),
    PREVIOUS_OCCURRENCE("previous_occurrence"),
    SOURCE_POSITION("source_position"),
    DISTRACTOR_POSITION("distractor_position");

    private final String id;

    PositionLabel(String id) {
        this.id = id;
    }

    public String id() {
        return id;
    }

    /** The token index in a prompt of {@code tokenLength} tokens (BOS included), or null when unavailable. */
    public Integer resolve(PromptRecord record, int tokenLength) {
        if (this == FINAL) return tokenLength - 1;
        Integer hint = this == DISTRACTOR_POSITION ? record.distractorPositionHint() : record.expectedSourcePositionHint();
        if (hint == null) return null;
        int offset = Math.max(tokenLength - record.promptTokensText().size(), 0);
        return hint + offset;
    }
}
