package org.milab.prompts;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class PromptRecordTest {

    @Test
    void hasTheTwentySevenReferenceColumnsInOrder() {
        // reference-protocol.md section 2, and the field order of the reference PromptRecord dataclass
        assertThat(PromptRecord.columnNames()).containsExactly(
                "example_id", "task", "family", "prompt", "expected_next_token", "control_prompt", "notes",
                "prompt_tokens_text", "sequence_tokens", "repeated_prefix_length", "target_position_label",
                "expected_source_token", "expected_source_position_hint", "is_positive_induction_example",
                "control_family", "should_show_induction_behavior", "base_sequence_id", "family_index",
                "true_expected_next_token", "paired_positive_example_id", "wrong_or_control_token",
                "heldout_family_type", "heldout_construction_note", "distractor_position_hint",
                "characterization_axis", "sequence_length_bucket", "token_domain");
        assertThat(PromptRecord.builder().build().values()).hasSize(27);
        assertThat(PromptRecord.class.getRecordComponents()).hasSize(27);
    }

    @Test
    void rendersCellsLikeTheReferenceCsv() {
        PromptRecord r = PromptRecord.builder()
                .exampleId("x_0000")
                .promptTokensText(List.of("A", "B"))
                .positiveInductionExample(false)
                .familyIndex(7)
                .build();
        List<String> cells = r.csvValues();
        assertThat(cells.get(PromptRecord.COLUMNS.indexOf("prompt_tokens_text"))).isEqualTo("[\"A\", \"B\"]");
        assertThat(cells.get(PromptRecord.COLUMNS.indexOf("sequence_tokens"))).isEqualTo("[]");
        assertThat(cells.get(PromptRecord.COLUMNS.indexOf("is_positive_induction_example"))).isEqualTo("False");
        assertThat(cells.get(PromptRecord.COLUMNS.indexOf("should_show_induction_behavior"))).isEqualTo("True");
        assertThat(cells.get(PromptRecord.COLUMNS.indexOf("family_index"))).isEqualTo("7");
        assertThat(cells.get(PromptRecord.COLUMNS.indexOf("repeated_prefix_length"))).isEmpty();
        assertThat(r.pandasCsvValues(Set.of("family_index"))
                .get(PromptRecord.COLUMNS.indexOf("family_index"))).isEqualTo("7.0");
    }

    @Test
    void jsonListEscapesLikePythonJsonDumps() {
        // python3: json.dumps(['a"b', 'c\\d', 'é', '😀', '\n\t\r\b\f', '\x7f', '\x01', ' X', ''])
        assertThat(PyText.jsonStringList(List.of("a\"b", "c\\d", "\u00e9", "\ud83d\ude00", "\n\t\r\b\f", "\u007f",
                "\u0001", " X", "")))
                .isEqualTo("[\"a\\\"b\", \"c\\\\d\", \"\\u00e9\", \"\\ud83d\\ude00\", \"\\n\\t\\r\\b\\f\", "
                        + "\"\\u007f\", \"\\u0001\", \" X\", \"\"]");
    }

    @Test
    void reprQuotesLikePython() {
        // python3: repr(' D'), repr("it's"), repr('a"b\'c'), repr('tab\there'), repr('\x7f')
        assertThat(PyText.repr(" D")).isEqualTo("' D'");
        assertThat(PyText.repr("it's")).isEqualTo("\"it's\"");
        assertThat(PyText.repr("a\"b'c")).isEqualTo("'a\"b\\'c'");
        assertThat(PyText.repr("tab\there")).isEqualTo("'tab\\there'");
        assertThat(PyText.repr("\u007f")).isEqualTo("'\\x7f'");
    }
}
