package org.milab.protocol.v2;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.milab.graph.GraphVariant;
import org.milab.lab.LabModel;
import org.milab.run.Pipeline;
import org.milab.stage.RunConfig;
import org.milab.run.RunContext;
import org.milab.runtime.Device;
import org.milab.tables.Table;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Protocol v2 on the real GPT-2 small at reduced counts, when its real (pinned) weights have been exported
 * into this project ({@code make export}); prints what it confirms. No expected head is written anywhere:
 * the test checks that the run is complete and self-consistent, and reports. Skips, saying why, otherwise.
 */
class V2Gpt2Test {
    @Test
    void runsOnRealGpt2AndPrintsWhatItConfirms(@TempDir Path tmp) throws Exception {
        Path project = Path.of(System.getProperty("milab.root", ".")).toAbsolutePath().normalize();
        Path manifest = project.resolve("manifests/gpt2").resolve(GraphVariant.CAPTURE.id() + ".json");
        String skip = null;
        if (!Files.isRegularFile(manifest)) skip = "GPT-2 is not exported in " + project + " (run 'make export' with the real weights)";
        else {
            JsonNode m = new ObjectMapper().readTree(manifest.toFile());
            if (!m.path("model").path("pinned").asBoolean()) skip = "graphs/gpt2 holds unpinned weights, not the real GPT-2 small";
            for (GraphVariant v : GraphVariant.values())
                if (skip == null && !Files.isRegularFile(project.resolve("manifests/gpt2").resolve(v.id() + ".json")))
                    skip = "graphs/gpt2 predates the " + v.id() + " graph (re-run 'make export')";
        }
        if (skip != null) System.out.println("V2Gpt2Test skipped: " + skip);
        Assumptions.assumeTrue(skip == null, skip);
        // results go to a temp root that links the project's exported graphs and manifests
        Files.createSymbolicLink(tmp.resolve("graphs"), project.resolve("graphs"));
        Files.createSymbolicLink(tmp.resolve("manifests"), project.resolve("manifests"));
        try (LabModel model = LabModel.open(tmp, "gpt2", Device.CPU, 0)) {
            RunContext ctx = new RunContext(tmp, RunConfig.reference("gpt2", "v2-gpt2"), model);
            Pipeline p = new Pipeline(ctx);
            p.v2(new V2Protocol.Counts(List.of(1), 4, 4, 1000));
            p.finish("test run-v2 gpt2");
            Path run = ctx.finalDir();
            Table v = V2PlantedRuns.table(run, VerdictStage.VERDICTS);
            assertThat(v.rowCount()).isEqualTo(144);
            String md = Files.readString(run.resolve("v2/summary.md"));
            System.out.println("V2Gpt2Test (reduced counts, 1 seed, 20 pairs): " + md.lines()
                    .filter(l -> l.startsWith("**")).findFirst().orElseThrow());
            md.lines().filter(l -> l.startsWith("- ")).forEach(l -> System.out.println("  " + l));
            for (Table.Row r : v.rows()) assertThat(r.getString("verdict")).isIn(Verdicts.CONFIRMED, Verdicts.REJECTED, Verdicts.INCONCLUSIVE);
        }
    }
}
