package org.milab.tables;

import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ColumnGlossaryTest {
    @Test
    void tableSectionsWinOverPrefixSectionsOverCommonOnes() throws Exception {
        assertThat(ColumnGlossary.describe("anything", "head_id")).startsWith("The head as L{layer}H{head}");
        assertThat(ColumnGlossary.describe("failure_taxonomy_by_head", "head_label")).contains("same value as head_id");
        assertThat(ColumnGlossary.describe("counterexamples_L7H7", "inspection_bucket")).startsWith("Why the row was kept");
        assertThat(ColumnGlossary.describe("attention_effect_by_candidate", "n_examples")).startsWith("Result rows");
        assertThat(ColumnGlossary.describe("baseline_by_family", "n_examples")).startsWith("Number of examples");
        assertThat(ColumnGlossary.describe("anything", "no_such_column")).isNull();
        var parsed = ColumnGlossary.parse(new BufferedReader(new StringReader("# c\n[*]\na\tA.\n[t]\na\tT.\n")));
        assertThat(parsed.get("t")).containsEntry("a", "T.");
        assertThatThrownBy(() -> ColumnGlossary.parse(new BufferedReader(new StringReader("a\tA.\n"))))
                .hasMessageContaining("inside a [section]");
        assertThatThrownBy(() -> ColumnGlossary.parse(new BufferedReader(new StringReader("[*]\na\tA.\na\tB.\n"))))
                .hasMessageContaining("described twice");
    }

    /** COLUMNS.md is generated from columns.txt (make columns); the two must never disagree. */
    @Test
    void committedGlossaryPageIsTheGeneratedOne() throws Exception {
        Path page = Path.of(System.getProperty("milab.root", ".")).resolve("COLUMNS.md");
        assertThat(page).as("run `make columns` to generate it").isRegularFile();
        assertThat(Files.readString(page)).as("COLUMNS.md is stale: run `make columns`").isEqualTo(ColumnGlossary.markdown());
    }
}
