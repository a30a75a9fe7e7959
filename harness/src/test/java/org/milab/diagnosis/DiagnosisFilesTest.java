package org.milab.diagnosis;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.milab.stats.Bootstrap.Interval;
import org.milab.tables.ArrowTables;
import org.milab.tables.Table;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The diagnosis files are written from records and come out as the committed zoo diagnoses were written
 * before (by a hand-written map and named-cell rows): each committed diagnosis is read back into a result
 * (full-precision head rows from diagnosis.arrow, the rest from diagnosis.json, whose values are already
 * rounded, so rounding them again changes nothing) and written again; the JSON must match byte for byte and
 * the table cell for cell, with the same columns, types, order, keys, descriptions and metadata.
 */
class DiagnosisFilesTest {
    static List<String> models() {
        return ZooFixtures.models();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void rewritingACommittedDiagnosisGivesTheSameFiles(String model, @TempDir Path tmp) throws Exception {
        Path dir = ZooFixtures.zooDir().resolve(model);
        JsonNode j = new ObjectMapper().readTree(dir.resolve(DiagnosisFiles.JSON_FILE).toFile());
        Table committed = ArrowTables.read(dir.resolve(DiagnosisFiles.TABLE + ArrowTables.EXTENSION));
        JsonNode s = j.path("settings"), t = j.path("thresholds");
        List<InductionDiagnosis.HeadRow> heads = new ArrayList<>();
        for (int i = 0; i < committed.rowCount(); i++) {
            Table.Row r = committed.row(i);
            JsonNode h = j.path("heads").get(i);
            assertThat(h.path("head_id").asText()).isEqualTo(r.getString("head_id"));
            heads.add(new InductionDiagnosis.HeadRow(r.getLong("layer").intValue(), r.getLong("head").intValue(),
                    r.getDouble("prefix_matching"), r.getDouble("duplicate_token"), r.getDouble("previous_token"),
                    new Interval(r.getDouble("ablation_second_copy_delta"), r.getDouble("ablation_second_copy_delta_ci_low"),
                            r.getDouble("ablation_second_copy_delta_ci_high")),
                    new Interval(r.getDouble("ablation_second_copy_norm"), r.getDouble("ablation_second_copy_norm_ci_low"),
                            r.getDouble("ablation_second_copy_norm_ci_high")),
                    new Interval(r.getDouble("ablation_first_copy_delta"), h.path("ablation_first_copy_delta").path("ci_low").asDouble(),
                            h.path("ablation_first_copy_delta").path("ci_high").asDouble()),
                    Arrays.stream(HeadClass.values()).filter(c -> c.label().equals(r.getString("diagnosis"))).findFirst().orElseThrow()));
        }
        InductionDiagnosis.Result result = new InductionDiagnosis.Result(j.path("model").asText(),
                new InductionDiagnosis.Settings(s.path("spanLength").asInt(), s.path("sequences").asInt(),
                        s.path("referenceSequences").asInt(), s.path("seed").asLong(), s.path("bootstrapResamples").asInt()),
                new DiagnosisThresholds(t.path("prefixMatching").asDouble(), t.path("previousToken").asDouble(),
                        t.path("attentionNone").asDouble(), t.path("effectFraction").asDouble()),
                j.path("tokens_drawn_from").asInt(), interval(j.path("first_copy_loss")), interval(j.path("second_copy_loss")),
                interval(j.path("induction_gap")), heads);

        DiagnosisFiles.write(tmp, result);

        assertThat(Files.readString(tmp.resolve(DiagnosisFiles.JSON_FILE)))
                .isEqualTo(Files.readString(dir.resolve(DiagnosisFiles.JSON_FILE)));
        Table again = ArrowTables.read(tmp.resolve(DiagnosisFiles.TABLE + ArrowTables.EXTENSION));
        assertThat(again.columnNames()).containsExactlyElementsOf(committed.columnNames());
        assertThat(again.descriptions()).isEqualTo(committed.descriptions());
        assertThat(again).isEqualTo(committed);
    }

    private static Interval interval(JsonNode n) {
        return new Interval(n.path("estimate").asDouble(), n.path("ci_low").asDouble(), n.path("ci_high").asDouble());
    }
}
