package org.milab.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/** report.html's structure on a hand-made run with both protocols: self-contained, every figure declared with its data. */
class ReportHtmlTest {
    @TempDir
    Path root;

    @Test
    void oneSelfContainedFileWithEveryFigureAndItsData() throws Exception {
        Path run = ReportFixtures.referenceRun(root);
        ReportFixtures.writeV2(run, ReportFixtures.toyV2());
        Path out = RunReport.write(root, run, null);
        String html = Files.readString(out);

        // offline: nothing is loaded from elsewhere, and the page's policy forbids any fetch
        assertThat(html).doesNotContainPattern("<script[^>]+src=").doesNotContainPattern("<link[^>]+href=")
                .contains("default-src 'none'");
        for (Vendored.Library l : Vendored.libraries()) assertThat(html).contains(Vendored.script(l).strip());

        // header: model and checkpoint hash, code commit, seeds, wall time rounded for people
        assertThat(html).contains("checkpoint sha256 " + "f".repeat(64), "0123abc", "control seeds [0,1,2]", "12.35 s");
        // verdict table: both protocols, every head
        List<String> rows = all(html, "<tr class=\"[^\"]+\" data-protocol=\"(\\w+)\" data-head=\"(L\\d+H\\d+)\"");
        assertThat(rows).containsExactlyInAnyOrder("reference L0H0", "reference L0H1", "reference L1H0", "reference L1H1",
                "v2 L0H0", "v2 L0H1", "v2 L1H0", "v2 L1H1");

        Map<String, JsonNode> specs = ReportFixtures.figures(html);
        Map<String, Integer> expected = new HashMap<>();
        for (String s : all(html, "<figure class=\"milab-figure[^\"]*\" id=\"([^\"]+)\" data-mark-names=\"[^\"]+\" data-expected-items=\"(\\d+)\"")) {
            String[] p = s.split(" ");
            expected.put(p[0], Integer.parseInt(p[1]));
        }
        assertThat(expected.keySet()).isEqualTo(specs.keySet());
        assertThat(expected).containsEntry("v2-circuit", 3) // two confirmed heads + one composition
                .containsEntry("v2-heatmap-induction_score", 4).containsEntry("v2-heatmap-raw_delta", 4)
                .containsEntry("sweep-positives-vs-control", 8).containsEntry("sweep-heatmap-positive", 4).containsEntry("sweep-heatmap-control", 4);
        // v2 cells whose CI contains 0 are marked: L0H1 (0.02 +- 0.05) and L1H1 (-0.01 +- 0.03)
        JsonNode cells = specs.get("v2-heatmap-induction_score").path("layer").get(1).path("data").path("values");
        List<String> faded = new ArrayList<>();
        cells.forEach(c -> { if (c.path("ci_contains_zero").asBoolean()) faded.add(c.path("label").asText()); });
        assertThat(faded).containsExactlyInAnyOrder("L0H1", "L1H1");
        // the reference's heatmaps say they carry no CI
        assertThat(html).contains("The reference protocol computes no confidence intervals");
        // diverging scale centred at 0, symmetric
        JsonNode scale = specs.get("sweep-heatmap-positive").path("layer").get(1).path("encoding").path("color").path("scale");
        assertThat(scale.path("scheme").asText()).isEqualTo("redblue");
        assertThat(scale.path("domain").get(0).asDouble()).isEqualTo(-scale.path("domain").get(1).asDouble());
        assertThat(scale.path("domainMid").asDouble()).isEqualTo(0.0);
        // without the model there are no attention views, and the page says why
        assertThat(specs.keySet()).noneMatch(k -> k.startsWith("attention-"));
        assertThat(html).contains("The model was not available when this report was written");
    }

    private static List<String> all(String html, String regex) {
        Matcher m = Pattern.compile(regex).matcher(html);
        List<String> out = new ArrayList<>();
        while (m.find()) out.add(m.group(1) + " " + m.group(2));
        return out;
    }
}
