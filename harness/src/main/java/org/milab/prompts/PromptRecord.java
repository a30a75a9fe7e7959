package org.milab.prompts;

import org.milab.util.ColumnName;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * One row of the reference's {@code prompts.csv}: the 27 fields of its {@code PromptRecord} dataclass, in
 * declaration order (= CSV column order). Strings are never null (the reference writes "" for "none");
 * the four int fields are nullable where the dataclass allows {@code None}.
 *
 * @param expectedNextToken      the token baseline and logit lens score (differs from
 *                               {@code trueExpectedNextToken} for wrong-target families)
 * @param expectedSourcePositionHint word index into {@code promptTokensText} (0-based, no BOS)
 * @param pairedPositiveExampleId id of the positive whose prompt is the clean prompt when patching
 */
public record PromptRecord(
        String exampleId,
        String task,
        String family,
        String prompt,
        String expectedNextToken,
        String controlPrompt,
        String notes,
        List<String> promptTokensText,
        List<String> sequenceTokens,
        Integer repeatedPrefixLength,
        String targetPositionLabel,
        String expectedSourceToken,
        Integer expectedSourcePositionHint,
        @ColumnName("is_positive_induction_example") boolean positiveInductionExample,
        String controlFamily,
        boolean shouldShowInductionBehavior,
        String baseSequenceId,
        Integer familyIndex,
        String trueExpectedNextToken,
        String pairedPositiveExampleId,
        String wrongOrControlToken,
        String heldoutFamilyType,
        String heldoutConstructionNote,
        Integer distractorPositionHint,
        String characterizationAxis,
        String sequenceLengthBucket,
        String tokenDomain) {

    /** Column names of {@code prompts.csv}, in order. */
    public static final List<String> COLUMNS = List.of(
            "example_id", "task", "family", "prompt", "expected_next_token", "control_prompt", "notes",
            "prompt_tokens_text", "sequence_tokens", "repeated_prefix_length", "target_position_label",
            "expected_source_token", "expected_source_position_hint", "is_positive_induction_example",
            "control_family", "should_show_induction_behavior", "base_sequence_id", "family_index",
            "true_expected_next_token", "paired_positive_example_id", "wrong_or_control_token",
            "heldout_family_type", "heldout_construction_note", "distractor_position_hint",
            "characterization_axis", "sequence_length_bucket", "token_domain");

    /** Columns holding a nullable int (pandas turns them into floats when a file has an empty cell). */
    public static final List<String> NULLABLE_INT_COLUMNS = List.of(
            "repeated_prefix_length", "expected_source_position_hint", "family_index", "distractor_position_hint");

    public PromptRecord {
        Objects.requireNonNull(exampleId, "exampleId");
        Objects.requireNonNull(task, "task");
        Objects.requireNonNull(family, "family");
        Objects.requireNonNull(prompt, "prompt");
        Objects.requireNonNull(expectedNextToken, "expectedNextToken");
        Objects.requireNonNull(controlPrompt, "controlPrompt");
        Objects.requireNonNull(notes, "notes");
        promptTokensText = List.copyOf(promptTokensText);
        sequenceTokens = List.copyOf(sequenceTokens);
        Objects.requireNonNull(targetPositionLabel, "targetPositionLabel");
        Objects.requireNonNull(expectedSourceToken, "expectedSourceToken");
        Objects.requireNonNull(controlFamily, "controlFamily");
        Objects.requireNonNull(baseSequenceId, "baseSequenceId");
        Objects.requireNonNull(trueExpectedNextToken, "trueExpectedNextToken");
        Objects.requireNonNull(pairedPositiveExampleId, "pairedPositiveExampleId");
        Objects.requireNonNull(wrongOrControlToken, "wrongOrControlToken");
        Objects.requireNonNull(heldoutFamilyType, "heldoutFamilyType");
        Objects.requireNonNull(heldoutConstructionNote, "heldoutConstructionNote");
        Objects.requireNonNull(characterizationAxis, "characterizationAxis");
        Objects.requireNonNull(sequenceLengthBucket, "sequenceLengthBucket");
        Objects.requireNonNull(tokenDomain, "tokenDomain");
    }

    /** Column names in order (same as {@link #COLUMNS}). */
    public static List<String> columnNames() {
        return COLUMNS;
    }

    /**
     * Typed values in column order: String, Integer (or null), Boolean, or List&lt;String&gt; for the two
     * JSON-list columns. For the tables layer.
     */
    public List<Object> values() {
        return Arrays.asList(
                exampleId, task, family, prompt, expectedNextToken, controlPrompt, notes,
                promptTokensText, sequenceTokens, repeatedPrefixLength, targetPositionLabel,
                expectedSourceToken, expectedSourcePositionHint, positiveInductionExample,
                controlFamily, shouldShowInductionBehavior, baseSequenceId, familyIndex,
                trueExpectedNextToken, pairedPositiveExampleId, wrongOrControlToken,
                heldoutFamilyType, heldoutConstructionNote, distractorPositionHint,
                characterizationAxis, sequenceLengthBucket, tokenDomain);
    }

    /**
     * Cell texts as the reference's {@code prompts.csv} holds them ({@code to_csv_dict} through
     * {@code csv.DictWriter}): None as "", booleans True/False, ints in decimal, lists as {@code json.dumps}.
     * CSV quoting is left to the writer.
     */
    public List<String> csvValues() {
        List<String> out = new ArrayList<>(COLUMNS.size());
        for (Object value : values()) {
            out.add(render(value, false));
        }
        return out;
    }

    /**
     * Cell texts after a pandas {@code read_csv} / {@code to_csv} round trip (how {@code prompt_sample.csv}
     * is made): same as {@link #csvValues()} except that the ints of a column that has an empty cell
     * anywhere in the file are written as floats ({@code 2.0}).
     *
     * @param floatIntColumns nullable-int columns that pandas read as float (see {@link PromptSample})
     */
    public List<String> pandasCsvValues(Set<String> floatIntColumns) {
        List<Object> values = values();
        List<String> out = new ArrayList<>(COLUMNS.size());
        for (int i = 0; i < values.size(); i++) {
            out.add(render(values.get(i), floatIntColumns.contains(COLUMNS.get(i))));
        }
        return out;
    }

    /** Whether this row has a value (not None) in the named nullable-int column. */
    boolean hasInt(String column) {
        return values().get(COLUMNS.indexOf(column)) != null;
    }

    @SuppressWarnings("unchecked")
    private static String render(Object value, boolean intAsFloat) {
        if (value == null) {
            return "";
        }
        if (value instanceof Boolean b) {
            return PyText.bool(b);
        }
        if (value instanceof Integer n) {
            return intAsFloat ? n + ".0" : n.toString();
        }
        if (value instanceof List<?> list) {
            return PyText.jsonStringList((List<String>) list);
        }
        return (String) value;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Builder whose defaults are the dataclass defaults ("" strings, None ints, True booleans, []). */
    public static final class Builder {
        private String exampleId = "";
        private String task = "";
        private String family = "";
        private String prompt = "";
        private String expectedNextToken = "";
        private String controlPrompt = "";
        private String notes = "";
        private List<String> promptTokensText = List.of();
        private List<String> sequenceTokens = List.of();
        private Integer repeatedPrefixLength;
        private String targetPositionLabel = "";
        private String expectedSourceToken = "";
        private Integer expectedSourcePositionHint;
        private boolean positiveInductionExample = true;
        private String controlFamily = "";
        private boolean shouldShowInductionBehavior = true;
        private String baseSequenceId = "";
        private Integer familyIndex;
        private String trueExpectedNextToken = "";
        private String pairedPositiveExampleId = "";
        private String wrongOrControlToken = "";
        private String heldoutFamilyType = "";
        private String heldoutConstructionNote = "";
        private Integer distractorPositionHint;
        private String characterizationAxis = "";
        private String sequenceLengthBucket = "";
        private String tokenDomain = "";

        private Builder() {}

        public Builder exampleId(String v) { exampleId = v; return this; }
        public Builder task(String v) { task = v; return this; }
        public Builder family(String v) { family = v; return this; }
        public Builder prompt(String v) { prompt = v; return this; }
        public Builder expectedNextToken(String v) { expectedNextToken = v; return this; }
        public Builder controlPrompt(String v) { controlPrompt = v; return this; }
        public Builder notes(String v) { notes = v; return this; }
        public Builder promptTokensText(List<String> v) { promptTokensText = v; return this; }
        public Builder sequenceTokens(List<String> v) { sequenceTokens = v; return this; }
        public Builder repeatedPrefixLength(Integer v) { repeatedPrefixLength = v; return this; }
        public Builder targetPositionLabel(String v) { targetPositionLabel = v; return this; }
        public Builder expectedSourceToken(String v) { expectedSourceToken = v; return this; }
        public Builder expectedSourcePositionHint(Integer v) { expectedSourcePositionHint = v; return this; }
        public Builder positiveInductionExample(boolean v) { positiveInductionExample = v; return this; }
        public Builder controlFamily(String v) { controlFamily = v; return this; }
        public Builder shouldShowInductionBehavior(boolean v) { shouldShowInductionBehavior = v; return this; }
        public Builder baseSequenceId(String v) { baseSequenceId = v; return this; }
        public Builder familyIndex(Integer v) { familyIndex = v; return this; }
        public Builder trueExpectedNextToken(String v) { trueExpectedNextToken = v; return this; }
        public Builder pairedPositiveExampleId(String v) { pairedPositiveExampleId = v; return this; }
        public Builder wrongOrControlToken(String v) { wrongOrControlToken = v; return this; }
        public Builder heldoutFamilyType(String v) { heldoutFamilyType = v; return this; }
        public Builder heldoutConstructionNote(String v) { heldoutConstructionNote = v; return this; }
        public Builder distractorPositionHint(Integer v) { distractorPositionHint = v; return this; }
        public Builder characterizationAxis(String v) { characterizationAxis = v; return this; }
        public Builder sequenceLengthBucket(String v) { sequenceLengthBucket = v; return this; }
        public Builder tokenDomain(String v) { tokenDomain = v; return this; }

        public PromptRecord build() {
            return new PromptRecord(exampleId, task, family, prompt, expectedNextToken, controlPrompt, notes,
                    promptTokensText, sequenceTokens, repeatedPrefixLength, targetPositionLabel,
                    expectedSourceToken, expectedSourcePositionHint, positiveInductionExample, controlFamily,
                    shouldShowInductionBehavior, baseSequenceId, familyIndex, trueExpectedNextToken,
                    pairedPositiveExampleId, wrongOrControlToken, heldoutFamilyType, heldoutConstructionNote,
                    distractorPositionHint, characterizationAxis, sequenceLengthBucket, tokenDomain);
        }
    }
}
