package org.milab.cli;

import org.milab.lab.EngineFactory;
import org.milab.lab.EngineProvider;
import org.milab.util.UserError;
import picocli.CommandLine.Option;

import java.util.LinkedHashMap;
import java.util.Map;

/** Where a command's patched forward passes run; a mixin, so every run command takes the same flags. */
public final class EngineOptions {
    @Option(names = "--engine", defaultValue = EngineProvider.LOCAL, order = 7,
            description = "Where patched forward passes run: local (this JVM) or spark (Apache Spark; needs the spark "
                    + "module: make ... ENGINE=spark, or the jar from make spark-jar). Default: ${DEFAULT-VALUE}.")
    String engine;
    @Option(names = "--spark-master", order = 8,
            description = "For --engine spark: local[N] (N task slots here), local[N,F] (F attempts per task) or "
                    + "spark://host:port. Default: the master spark-submit set, else local[*].")
    String sparkMaster;
    @Option(names = "--partition-rows", order = 9,
            description = "For --engine spark: about this many patch rows per Spark partition (partitions are "
                    + "balanced by compute and never change results). Default: 1024.")
    Integer partitionRows;

    public EngineFactory factory() {
        Map<String, String> options = new LinkedHashMap<>();
        if (sparkMaster != null) options.put("master", sparkMaster);
        if (partitionRows != null) options.put("partition_rows", partitionRows.toString());
        if (EngineProvider.LOCAL.equals(engine) && !options.isEmpty())
            throw new UserError("--spark-master and --partition-rows apply only to --engine spark.",
                    "Add --engine spark (make ... ENGINE=spark SPARK_MASTER=...) or drop them.");
        return EngineProvider.find(engine, options);
    }
}
