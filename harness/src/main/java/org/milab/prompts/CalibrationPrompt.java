package org.milab.prompts;

import java.util.List;
import java.util.Objects;

/**
 * One row of the reference's metric-calibration prompt bank ({@code metric_calibration.py},
 * {@code _prompt_row}): the 12 prompt columns that lead {@code metric_calibration_by_example.csv}
 * (S19), before the validation and metric columns the scoring stage appends.
 */
public record CalibrationPrompt(
        String exampleId,
        String task,
        String family,
        String prompt,
        String trueExpectedNextToken,
        String wrongOrControlToken,
        String expectedNextToken,
        String tokenDomain,
        String sequenceLengthBucket,
        boolean shouldShowInductionBehavior,
        String expectedBehavior,
        String controlRationale) {

    /** Column names, in the reference's order. */
    public static final List<String> COLUMNS = List.of(
            "example_id", "task", "family", "prompt", "true_expected_next_token", "wrong_or_control_token",
            "expected_next_token", "token_domain", "sequence_length_bucket", "should_show_induction_behavior",
            "expected_behavior", "control_rationale");

    public CalibrationPrompt {
        Objects.requireNonNull(exampleId, "exampleId");
        Objects.requireNonNull(task, "task");
        Objects.requireNonNull(family, "family");
        Objects.requireNonNull(prompt, "prompt");
        Objects.requireNonNull(trueExpectedNextToken, "trueExpectedNextToken");
        Objects.requireNonNull(wrongOrControlToken, "wrongOrControlToken");
        Objects.requireNonNull(expectedNextToken, "expectedNextToken");
        Objects.requireNonNull(tokenDomain, "tokenDomain");
        Objects.requireNonNull(sequenceLengthBucket, "sequenceLengthBucket");
        Objects.requireNonNull(expectedBehavior, "expectedBehavior");
        Objects.requireNonNull(controlRationale, "controlRationale");
    }

    /** Typed values in column order (String or Boolean). */
    public List<Object> values() {
        return List.of(exampleId, task, family, prompt, trueExpectedNextToken, wrongOrControlToken,
                expectedNextToken, tokenDomain, sequenceLengthBucket, shouldShowInductionBehavior,
                expectedBehavior, controlRationale);
    }

    /** Cell texts as the reference writes them (booleans True/False; quoting left to the CSV writer). */
    public List<String> csvValues() {
        return values().stream().map(v -> v instanceof Boolean b ? PyText.bool(b) : (String) v).toList();
    }
}
