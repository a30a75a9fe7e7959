package org.milab.run;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.milab.tables.ArrowTables;
import org.milab.tables.Table;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The README's figures about what a run concludes come from the code: each is marked
 * {@code <!--n:key-->value<!--/n-->} (invisible when rendered) and checked here against a full run of the
 * progression on the planted model (the run `make demo` makes). Run with -Dmilab.updateReadme=true to write
 * the current values into README.md instead of failing.
 */
class ReadmeNumbersTest {
    static final Pattern MARKER = Pattern.compile("<!--n:([a-z0-9_.]+)-->(.*?)<!--/n-->", Pattern.DOTALL);

    @Test
    void readmeFiguresMatchAFullRunOfTheProgression() throws IOException {
        Path readme = Path.of(System.getProperty("milab.root", ".")).resolve("README.md");
        String text = Files.readString(readme, StandardCharsets.UTF_8);
        Map<String, String> expected = figures(PlantedRuns.fullRun());

        Matcher m = MARKER.matcher(text);
        StringBuilder updated = new StringBuilder();
        Map<String, String> wrong = new LinkedHashMap<>();
        java.util.Set<String> seen = new java.util.HashSet<>();
        while (m.find()) {
            String key = m.group(1), shown = m.group(2);
            assertThat(expected).as("README marker '%s' is not a figure this test computes", key).containsKey(key);
            seen.add(key);
            if (!expected.get(key).equals(shown)) wrong.put(key, "README says " + shown + ", the run gives " + expected.get(key));
            m.appendReplacement(updated, Matcher.quoteReplacement("<!--n:" + key + "-->" + expected.get(key) + "<!--/n-->"));
        }
        m.appendTail(updated);
        assertThat(seen).as("every figure appears in the README").containsExactlyInAnyOrderElementsOf(expected.keySet());
        if (!wrong.isEmpty() && Boolean.getBoolean("milab.updateReadme")) {
            Files.writeString(readme, updated.toString(), StandardCharsets.UTF_8);
            System.out.println("README.md updated: " + wrong);
            return;
        }
        assertThat(wrong).as("README figures that drifted (fix the text, or rerun this test with -Dmilab.updateReadme=true)").isEmpty();
        // a sentence, not a marker: the README says the planted model's L1H2 is not registered; the run must agree
        assertThat(text).as("README keeps the sentence this test checks").contains("L1H2 is not among them");
        assertThat(table(PlantedRuns.fullRun(), "heldout_candidates/heldout_candidate_set").strings("head_id")).doesNotContain("L1H2");
    }

    /** Every README figure, computed from the run's tables and summaries. */
    static Map<String, String> figures(Path run) throws IOException {
        Map<String, String> f = new LinkedHashMap<>();
        Table candidates = table(run, "heldout_candidates/heldout_candidate_set");
        Table heldout = table(run, "heldout_multiseed/heldout_multiseed_by_candidate");
        Table chars = table(run, "characterization_multiseed/candidate_characterization_multiseed_by_candidate");
        Table calib = table(run, "calibration/metric_calibration_by_family");
        JsonNode taxonomy = RunContext.JSON.readTree(run.resolve("failure_taxonomy/failure_taxonomy_summary.json").toFile());
        JsonNode calibration = RunContext.JSON.readTree(run.resolve("calibration/metric_calibration_summary.json").toFile());
        f.put("planted.candidates", String.valueOf(candidates.rowCount()));
        f.put("planted.heldout_falsified", count(heldout, "heldout_replication_status", "heldout_falsified"));
        f.put("planted.heldout_downgraded", count(heldout, "heldout_replication_status", "heldout_downgraded"));
        f.put("planted.char_falsified", count(chars, "final_characterization_status", "falsified_candidate"));
        f.put("planted.taxonomy_status", taxonomy.path("final_status").asText());
        f.put("planted.calibration_status", calibration.path("status").asText());
        double trap = calib.filter(r -> r.getString("family").equals("calib_frequency_trap_control"))
                .doubles("mean_true_vs_control_logit_diff").get(0);
        f.put("planted.frequency_trap_mean", String.format(Locale.ROOT, "%.1f", trap));
        f.put("planted.positive_mean", String.format(Locale.ROOT, "%.1f",
                calibration.path("positive_mean_true_vs_control_logit_diff").asDouble()));
        return f;
    }

    private static String count(Table t, String column, String value) {
        return String.valueOf(t.strings(column).stream().filter(value::equals).count());
    }

    private static Table table(Path run, String rel) {
        return ArrowTables.read(run.resolve(rel + ArrowTables.EXTENSION));
    }
}
