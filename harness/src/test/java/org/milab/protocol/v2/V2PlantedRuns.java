package org.milab.protocol.v2;

import org.milab.catalog.ModelExports;
import org.milab.catalog.ModelLayout;
import org.milab.lab.LabModel;
import org.milab.planted.PlantedInductionModel;
import org.milab.planted.PlantedSpec;
import org.milab.run.Pipeline;
import org.milab.run.RunConfig;
import org.milab.run.RunContext;
import org.milab.runtime.Device;
import org.milab.tables.ArrowTables;
import org.milab.tables.Table;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;

/** Runs protocol v2 at reduced counts on a planted model exported into a temp dir (what the v2 tests share). */
final class V2PlantedRuns {
    private V2PlantedRuns() {}

    /** Reduced counts for CI: 2 seeds x 5 families x 4 pairs, 4 probes per length, 1000 resamples. */
    static final V2Protocol.Counts CI = new V2Protocol.Counts(List.of(1, 2), 4, 4, 1000);

    /** The finished run folder of {@code make run-v2} on the planted model of {@code spec}. */
    static Path run(Path root, PlantedSpec spec, V2Protocol.Counts counts, String runId) {
        ModelExports.exportPlanted(new ModelLayout(root, PlantedInductionModel.MODEL_ID), spec);
        try (LabModel m = LabModel.open(root, PlantedInductionModel.MODEL_ID, Device.CPU, 0)) {
            RunContext ctx = new RunContext(root, RunConfig.reference(PlantedInductionModel.MODEL_ID, runId), m);
            Pipeline p = new Pipeline(ctx);
            p.v2(counts);
            p.finish("test run-v2");
            return ctx.finalDir();
        }
    }

    static Table table(Path run, String name) {
        return ArrowTables.read(run.resolve("v2").resolve(name + ArrowTables.EXTENSION));
    }

    /** head_id -> column value of the verdicts table. */
    static Map<String, String> byHead(Table verdicts, String column) {
        Map<String, String> out = new TreeMap<>();
        for (Table.Row r : verdicts.rows()) out.put(r.getString("head_id"), String.valueOf(r.get(column)));
        return out;
    }

    static Set<String> headsWhere(Table verdicts, String column, String value) {
        return verdicts.rows().stream().filter(r -> value.equals(String.valueOf(r.get(column))))
                .map(r -> r.getString("head_id")).collect(Collectors.toCollection(java.util.TreeSet::new));
    }
}
