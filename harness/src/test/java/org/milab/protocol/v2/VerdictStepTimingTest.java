package org.milab.protocol.v2;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.milab.lab.LabModel;
import org.milab.run.RunContext;
import org.milab.runtime.Device;
import org.milab.stage.RunConfig;
import org.milab.tables.ArrowTables;
import org.milab.tables.Table;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The whole v2-verdicts step (the verdicts and the circuit-evidence engine rows) re-run on a COPY of a finished run
 * ({@code -Dmilab.v2.stepRun=<copy of results/<run>>}, its model's graphs under {@code -Dmilab.root}, default the
 * working directory's parent), timed, with the engine settings of the command line's defaults (--batch-rows 128).
 * It overwrites the copy's verdict outputs; {@code -Dmilab.v2.expect=<another copy the step ran on>} asserts that
 * every table it wrote and circuit.json hold exactly the other copy's values (e.g. the step of the build before a
 * change). A benchmark, not a suite test: skipped without the property.
 */
class VerdictStepTimingTest {
    static final List<String> TABLES = List.of(VerdictStage.VERDICTS, VerdictStage.STABILITY, CircuitEvidence.TABLE,
            NaturalTextAgreement.TABLE);

    @Test
    void theStepOnACopyOfARun() throws Exception {
        String run = System.getProperty("milab.v2.stepRun");
        Assumptions.assumeTrue(run != null, "needs -Dmilab.v2.stepRun=<a copy of a finished v2 run> (a benchmark)");
        Path dir = Path.of(run), root = Path.of(System.getProperty("milab.root", "..")).toAbsolutePath().normalize();
        String model = new com.fasterxml.jackson.databind.ObjectMapper().readTree(dir.resolve("run_manifest.json").toFile())
                .path("model").path("model_id").asText();
        try (LabModel m = LabModel.open(root, model, Device.CPU, 0, 128, 128 * 16)) {
            RunContext ctx = new RunContext(root, RunConfig.reference(model, dir.getFileName().toString()), m, dir);
            long t0 = System.nanoTime();
            new VerdictStage().run(ctx);
            System.out.printf(Locale.ROOT, "v2-verdicts step on %s: %.3f s (engine counters %s)%n", dir,
                    (System.nanoTime() - t0) / 1e9, m.engine().counters());
        }
        Path expect = System.getProperty("milab.v2.expect") == null ? null : Path.of(System.getProperty("milab.v2.expect"));
        int heads = ArrowTables.read(dir.resolve(ProtocolStage.DIR).resolve(CopyingStage.OV_TABLE + ".arrow")).rowCount();
        assertThat(ArrowTables.read(dir.resolve(ProtocolStage.DIR).resolve(VerdictStage.VERDICTS + ".arrow")).rowCount())
                .as("one verdict per head").isEqualTo(heads);
        if (expect == null) return;
        // the same step on another copy (another build): every value of every table it wrote, and circuit.json
        for (String t : TABLES) {
            Table after = ArrowTables.read(dir.resolve(ProtocolStage.DIR).resolve(t + ".arrow")),
                    other = ArrowTables.read(expect.resolve(ProtocolStage.DIR).resolve(t + ".arrow"));
            assertThat(after.columnNames()).as(t).isEqualTo(other.columnNames());
            for (String c : after.columnNames())
                assertThat(after.column(c).values()).as(t + "." + c).isEqualTo(other.column(c).values());
        }
        assertThat(Files.readString(dir.resolve(ProtocolStage.DIR).resolve("circuit.json")))
                .isEqualTo(Files.readString(expect.resolve(ProtocolStage.DIR).resolve("circuit.json")));
    }
}
