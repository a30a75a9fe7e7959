package org.milab.tables;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.milab.util.UserError;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class RunDiffTest {
    @TempDir
    Path dir;

    private static Table baseline(double probability, String status) {
        return Table.builder("baseline").keys("example_id").string("example_id", "status").float64("probability")
                .addRow("ex_0", "ok", 0.5).addRow("ex_1", status, probability).build();
    }

    private Path run(String name, Table... tables) {
        Path run = dir.resolve(name);
        for (Table t : tables) ArrowTables.writeInto(run.resolve("s03"), t);
        return run;
    }

    @Test
    void diffsEveryTableOfTwoRuns() {
        Table same = Table.builder("calibration").keys("id").int64("id").addRow(1).addRow(2).build();
        Table onlyA = Table.builder("old_table").keys("id").int64("id").build();
        Table onlyB = Table.builder("new_table").keys("id").int64("id").build();
        Path a = run("a", same, baseline(0.25, "ok"), onlyA);
        Path b = run("b", same, baseline(0.125, "rank_above_10"), onlyB);

        RunDiff.Result r = RunDiff.diff(a, b);

        assertThat(r.identical()).isFalse();
        assertThat(r.tables().keySet()).containsExactly("s03/baseline", "s03/calibration");
        assertThat(r.onlyInA()).containsExactly("s03/old_table");
        assertThat(r.onlyInB()).containsExactly("s03/new_table");
        assertThat(r.tables().get("s03/calibration").identical()).isTrue();

        Table changes = r.changes();
        assertThat(changes.strings("kind"))
                .containsExactly("table_only_in_a", "table_only_in_b", "status_change", "numeric_delta");
        assertThat(changes.strings("table")).containsExactly("s03/old_table", "s03/new_table", "s03/baseline", "s03/baseline");
        assertThat(changes.doubles("delta")).containsExactly(null, null, null, -0.125);

        Table summary = r.summary();
        assertThat(summary.strings("status")).containsExactly("table_only_in_a", "table_only_in_b", "different", "identical");
        assertThat(summary.longs("rows_changed")).containsExactly(null, null, 1L, 0L);
        Table columns = r.columns();
        assertThat(columns.strings("column")).containsExactly("status", "probability");
        assertThat(columns.doubles("max_abs_delta")).containsExactly(null, 0.125);

        String text = r.render(20);
        assertThat(text).contains("2 tables in both runs: 1 identical, 1 different; 1 only in A, 1 only in B")
                .contains("s03/old_table: only in A")
                .contains("s03/baseline: DIFFERENT  rows A 2, B 2; matched 2, changed 1; only in A 0, only in B 0")
                .contains("example_id=ex_1: status ok -> rank_above_10")
                .contains("example_id=ex_1: probability 0.25 -> 0.125 (delta -0.125)")
                .contains("column probability").contains("1 row changed, max |delta| 0.125")
                .contains("s03/calibration: identical (2 rows)")
                .endsWith("Runs differ.\n");
    }

    @Test
    void identicalRunsAndWrittenReport() {
        Path a = run("a", baseline(0.25, "ok"));
        Path b = run("b", baseline(0.25, "ok"));
        RunDiff.Result same = RunDiff.diff(a, b);
        assertThat(same.identical()).isTrue();
        assertThat(same.render(5)).endsWith("Runs are identical.\n");

        Path c = run("c", baseline(0.3, "ok"));
        Path out = dir.resolve("out");
        RunDiff.diff(a, c).writeTo(out);
        Table diff = ArrowTables.read(out.resolve("diff.arrow"));
        assertThat(diff.strings("key_json")).containsExactly("{\"example_id\":\"ex_1\"}");
        assertThat(ArrowTables.read(out.resolve("diff_summary.arrow")).strings("status")).containsExactly("different");
        assertThat(ArrowTables.read(out.resolve("diff_columns.arrow")).strings("column")).containsExactly("probability");
        assertThat(out.resolve("diff.txt")).content().contains("probability 0.25 -> 0.3");
    }

    @Test
    void commandPrintsTheReportAndCanSignalDifferences() {
        Path a = run("a", baseline(0.25, "ok"));
        Path b = run("b", baseline(0.25 + 1e-9, "ok"));

        assertThat(runCommand(a, b)).isZero(); // differences alone do not fail `make diff`
        assertThat(runCommand(a, b, "--exit-code")).isEqualTo(1);
        assertThat(runCommand(a, b, "--exit-code", "--tolerance", "1e-6")).isZero();
        assertThatThrownBy(() -> RunDiff.diff(a, dir.resolve("missing"))).isInstanceOf(UserError.class)
                .hasMessageContaining("does not exist");
    }

    private static int runCommand(Path a, Path b, String... options) {
        DiffCommand cmd = new DiffCommand();
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        cmd.stdout = new PrintStream(buf, true, StandardCharsets.UTF_8);
        List<String> args = new java.util.ArrayList<>(List.of(a.toString(), b.toString()));
        args.addAll(List.of(options));
        int code = new CommandLine(cmd).execute(args.toArray(String[]::new));
        assertThat(buf.toString(StandardCharsets.UTF_8)).contains("diff A=" + a + " B=" + b);
        return code;
    }
}
