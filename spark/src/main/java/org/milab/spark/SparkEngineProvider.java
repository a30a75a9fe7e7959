package org.milab.spark;

import org.milab.lab.EngineFactory;
import org.milab.lab.EngineProvider;
import org.milab.util.UserError;

import java.util.Map;
import java.util.Set;

/** {@code --engine spark}: registered in META-INF/services, so the harness finds it when this module is on the classpath. */
public final class SparkEngineProvider implements EngineProvider {
    public static final String NAME = "spark";
    private static final Set<String> KNOWN = Set.of("master", "partition_rows");

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public EngineFactory factory(Map<String, String> options) {
        for (String k : options.keySet())
            if (!KNOWN.contains(k))
                throw new UserError("Unknown Spark engine option '" + k + "'.", "Known options: " + KNOWN + ".");
        int rows = SparkEngine.DEFAULT_PARTITION_ROWS;
        if (options.containsKey("partition_rows")) {
            try {
                rows = Integer.parseInt(options.get("partition_rows").trim());
            } catch (NumberFormatException e) {
                rows = 0;
            }
            if (rows < 1)
                throw new UserError("--partition-rows '" + options.get("partition_rows") + "' is not a positive integer.",
                        "Pass e.g. --partition-rows 1024.");
        }
        String master = options.get("master");
        int partitionRows = rows;
        return (model, local) -> SparkEngine.open(model, local, master, partitionRows);
    }
}
