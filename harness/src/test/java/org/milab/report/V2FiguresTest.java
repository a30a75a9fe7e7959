package org.milab.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.milab.graph.Head;
import org.milab.stats.Num;
import org.milab.tables.ArrowTables;
import org.milab.tables.Table;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * Figures chosen per question on a 12 x 12-head v2 table with extreme values (ReportFixtures.writeGpt2ShapeV2):
 * p-values as -log10 p (checked against the table's own p column, computed here), the threshold starred,
 * one colour scale per quantity (every normalized effect on the page, reference and v2, on -1..1), no figure
 * for constant or empty columns, the evidence table one line per head with the rest behind a click.
 */
class V2FiguresTest {
    @Test
    void pValuesOnALog10ScaleOneScalePerQuantityNoConstantColumns(@TempDir Path root) throws Exception {
        Path run = ReportFixtures.referenceRun(root);
        ReportFixtures.writeGpt2ShapeV2(run);
        String html = Files.readString(RunReport.write(root, run, null));
        Map<String, JsonNode> specs = ReportFixtures.figures(html);

        // -log10 p per head, from the table itself; p = 0 and p = 2.3e-322 clamp at 16
        Map<String, Double> p = new HashMap<>();
        for (Table.Row r : ArrowTables.read(run.resolve("v2/verdicts.arrow")).rows())
            p.put(new Head(r.getLong("layer").intValue(), r.getLong("head").intValue()).label(), r.getDouble("p_adjusted_min"));
        JsonNode sig = specs.get("v2-significance");
        JsonNode cells = sig.path("layer").get(1);
        assertThat(cells.path("encoding").path("color").path("scale").path("domain").toString()).isEqualTo("[0,16.0]");
        int starred = 0;
        for (JsonNode c : cells.path("data").path("values")) {
            double pv = p.get(c.path("label").asText());
            double want = pv <= 0 ? 16 : Math.min(16, -Math.log10(pv));
            assertThat(c.path("value").asDouble()).as(c.path("label").asText()).isCloseTo(want, within(1e-12));
            assertThat(c.path("significant").asBoolean()).isEqualTo(pv < 0.05);
            if (pv < 1e-16) assertThat(c.path("p").asText()).isEqualTo("< 1e-16");
            if (c.path("significant").asBoolean()) starred++;
        }
        assertThat(starred).isEqualTo(3); // L0H0 (p = 0), L5H1 (1e-300), L6H9 (2.3e-322)
        // the star layer draws exactly the significant cells
        assertThat(sig.path("layer").toString()).contains("{\"filter\":\"datum.significant\"}").contains("\"text\":\"*\"");

        // one scale per quantity: v2's deciding evidence and the reference's sweep share -1..1, clamped
        for (String id : List.of("v2-deciding", "v2-heatmap-composition_norm", "sweep-heatmap-positive", "sweep-heatmap-control")) {
            JsonNode scale = specs.get(id).path("layer").get(1).path("encoding").path("color").path("scale");
            assertThat(scale.path("domain").toString()).as(id).isEqualTo("[-1.0,1.0]");
            assertThat(scale.path("clamp").asBoolean()).as(id).isTrue();
        }
        // constant and empty columns get no figure, and the page says so with the value
        assertThat(specs.keySet()).doesNotContain("v2-heatmap-gap", "v2-heatmap-copy_chance", "v2-heatmap-denoising_norm", "v2-heatmap-p_adjusted")
                .contains("v2-heatmap-p_composition", "v2-heatmap-p_mean_ablation", "v2-heatmap-induction_excess");
        assertThat(html).contains("<code>gap</code> = 3.25", "<code>copy_chance</code> = 0.01", "<code>denoising_norm</code>");
        assertThat(html).doesNotContain("2.3e-322").doesNotContain("E-322");

        // first screen: verdict, contents, the answer figures before every other section; evidence table after them
        int verdict = html.indexOf("id=\"verdict\""), toc = html.indexOf("id=\"toc\""), answer = html.indexOf("id=\"the-answer-in-figures\""),
                evidence = html.indexOf("id=\"evidence\""), details = html.indexOf("id=\"run-details\"");
        assertThat(verdict).isPositive().isLessThan(toc);
        assertThat(toc).isLessThan(answer);
        assertThat(answer).isLessThan(html.indexOf("id=\"protocol-v2-every-score\"")).isLessThan(evidence);
        assertThat(evidence).isLessThan(details);
        // one line per head: the deciding number with its CI, everything else behind <details>
        Matcher row = Pattern.compile("<tr class=\"[^\"]+\" data-protocol=\"v2\" data-head=\"L6H9\">(.*?)</tr>").matcher(html);
        assertThat(row.find()).isTrue();
        assertThat(row.group(1)).contains("<code>mean_ablation_norm</code> 0.97 [0.95, 0.99]").contains("<details><summary>all numbers</summary>")
                .contains("p_adjusted_min &lt; 1e-16");
        Matcher prev = Pattern.compile("data-protocol=\"v2\" data-head=\"L5H1\">(.*?)</tr>").matcher(html);
        assertThat(prev.find()).isTrue();
        assertThat(prev.group(1)).contains("<code>composition_norm</code> 0.8");
    }

    @Test
    void numbersForPeople() {
        assertThat(Num.p(2.3e-322)).isEqualTo("< 1e-16");
        assertThat(Num.p(0.0)).isEqualTo("< 1e-16");
        assertThat(Num.p(0.03124)).isEqualTo("0.03124");
        assertThat(Num.p(Double.NaN)).isEqualTo("n/a");
        Map<String, Object> counts = new LinkedHashMap<>();
        counts.put("falsified_candidate", 14L);
        counts.put("nonspecific", 2L);
        assertThat(Num.text(counts)).isEqualTo("falsified_candidate 14, nonspecific 2");
        assertThat(Num.text(null)).isEqualTo("none");
        assertThat(Num.text(0.1 + 0.2)).isEqualTo("0.3");
    }
}
