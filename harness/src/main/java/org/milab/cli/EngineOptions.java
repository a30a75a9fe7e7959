package org.milab.cli;

import org.milab.engine.EngineFactory;
import org.milab.engine.EngineProvider;
import org.milab.util.UserError;
import picocli.CommandLine.Option;

import java.util.LinkedHashMap;
import java.util.Map;

/** Where a command's patched forward passes run; a mixin, so every run command takes the same flags. */
public final class EngineOptions {
    @Option(names = "--engine", defaultValue = EngineProvider.LOCAL,
            description = "local (this JVM, default) or spark (needs the spark module: make ... ENGINE=spark)")
    String engine;
    @Option(names = "--spark-master", description = "for --engine spark: local[N], local[N,F] (F attempts per task) "
            + "or spark://host:port (default: the master spark-submit set, else local[*])")
    String sparkMaster;
    @Option(names = "--partition-rows", description = "for --engine spark: patch rows per partition (default 1024)")
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
