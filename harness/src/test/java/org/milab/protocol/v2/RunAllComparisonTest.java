package org.milab.protocol.v2;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.milab.catalog.ModelExports;
import org.milab.cli.Main;
import org.milab.planted.PlantedSpec;
import org.milab.tables.Table;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code make run-all} through the CLI at reduced counts: the reference progression, then protocol v2, then
 * the per-head table of both protocols' verdicts; and {@code make run-v2}'s bad-input path.
 */
class RunAllComparisonTest {
    @Test
    void runAllEndsWithV2AndBothProtocolsVerdictsPerHead(@TempDir Path root) throws Exception {
        PlantedSpec spec = PlantedSpec.defaults();
        ModelExports.exportPlanted(root, spec);
        // at reduced sweep counts the reference's own S13 selection can run short of negative controls, so
        // this run registers four heads in the reference's groups (any four: the table must list every head either way)
        Path candidates = root.resolve("candidates.csv");
        Files.writeString(candidates, "layer,head,group\n0,0,negative_control_no_effect\n0,1,replicated_candidate\n1,0,negative_control_no_effect\n1,2,replicated_candidate\n");
        StringWriter err = new StringWriter();
        int code = Main.run(new PrintWriter(err, true), "run-all", "--root", root.toString(), "--model", spec.modelId(),
                "--run-id", "both", "--controls-per-family", "16", "--heldout-scored", "6", "--candidates",
                candidates.toString(), "--v2-seeds", "1,2", "--v2-prompts", "4",
                "--v2-probes", "4", "--v2-resamples", "1000");
        assertThat(code).as(err.toString()).isZero();
        Path run = root.resolve("results/both");
        Table cmp = V2PlantedRuns.table(run, ProtocolComparisonStage.TABLE);
        Table v2 = V2PlantedRuns.table(run, VerdictStage.VERDICTS);
        assertThat(cmp.rowCount()).isEqualTo(v2.rowCount()).isEqualTo(16);
        assertThat(cmp.columnNames()).contains("head_id", "reference_sweep_status", "reference_candidate_id",
                "reference_heldout_status", "reference_characterization_status", "v2_role", "v2_verdict", "truth_role");
        assertThat(cmp.strings("reference_candidate_id").stream().filter(java.util.Objects::nonNull).count()).isEqualTo(4);
        for (Table.Row r : cmp.rows()) {
            assertThat(r.getString("reference_sweep_status")).isNotNull().isNotEqualTo(ProtocolComparisonStage.NOT_SWEPT);
            boolean registered = r.getString("reference_candidate_id") != null;
            assertThat(r.getString("reference_heldout_status").equals(ProtocolComparisonStage.NOT_REGISTERED)).isEqualTo(!registered);
        }
        assertThat(V2PlantedRuns.byHead(cmp, "v2_verdict")).isEqualTo(V2PlantedRuns.byHead(v2, "verdict"));
        String md = Files.readString(run.resolve("v2/protocol_comparison.md"));
        assertThat(md).contains("| L1H2 |").contains("reference S12 sweep");
        // run-all: every column of every table (reference, v2, the comparison) described by the glossary; summaries for people
        assertThat(org.milab.tables.RunColumns.notInGlossary(run)).isEmpty();
        assertThat(org.milab.testing.HumanText.problems(Files.readString(run.resolve("summary.md")) + "\n"
                + Files.readString(run.resolve("v2/summary.md")) + "\n" + err)).isEmpty();
        assertThat(Files.readString(run.resolve("summary.md"))).contains("v2 verdicts").contains("protocol comparison");
    }

    @Test
    void runV2RefusesTooFewPromptsWithOneMessageAndWritesNothing(@TempDir Path root) {
        StringWriter err = new StringWriter();
        int code = Main.run(new PrintWriter(err, true), "run-v2", "--root", root.toString(), "--model", "planted-induction",
                "--v2-prompts", "2");
        assertThat(code).isEqualTo(2);
        assertThat(err.toString()).contains(">= 4 prompts per family");
        assertThat(root.resolve("results")).doesNotExist();
    }
}
