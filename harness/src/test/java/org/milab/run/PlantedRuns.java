package org.milab.run;

import org.milab.catalog.ModelExports;
import org.milab.catalog.ModelLayout;
import org.milab.lab.LabModel;
import org.milab.planted.PlantedInductionModel;
import org.milab.planted.PlantedSpec;
import org.milab.runtime.Device;
import org.milab.util.FileTrees;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.milab.stage.RunConfig;

/**
 * One finished full-count run of the whole progression (S3-S19, `make run-all MODEL=planted-induction`) per
 * test JVM, shared by the end-to-end tests that read a real run's tables (it takes minutes, so it is made
 * once). Read-only for its users; deleted when the JVM exits.
 */
public final class PlantedRuns {
    /** make demo's rows per ONNX Runtime call (RunOptions' --batch-rows default). */
    static final int DEMO_BATCH_ROWS = 128;
    private static Path root;
    private static Path run;

    private PlantedRuns() {}

    /** The project root holding graphs/planted-induction and results/ci. */
    public static synchronized Path root() {
        fullRun();
        return root;
    }

    /** results/ci: the finished run (run_manifest.json, summary.md, every table and its Parquet copy). */
    public static synchronized Path fullRun() {
        if (run != null) return run;
        try {
            root = Files.createTempDirectory("milab-planted-run");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Path made = root;
        Runtime.getRuntime().addShutdownHook(new Thread(() -> FileTrees.delete(made)));
        ModelExports.exportPlanted(new ModelLayout(root, PlantedInductionModel.MODEL_ID), PlantedSpec.defaults());
        // the CLI's defaults (--batch-rows 128), so this is the run `make demo` makes
        try (LabModel m = LabModel.open(root, PlantedInductionModel.MODEL_ID, Device.CPU, 0, DEMO_BATCH_ROWS,
                DEMO_BATCH_ROWS * 16)) {
            RunContext ctx = new RunContext(root, RunConfig.reference(PlantedInductionModel.MODEL_ID, "ci"), m);
            Pipeline p = new Pipeline(ctx);
            p.all();
            p.finish("test");
            run = ctx.finalDir();
        }
        return run;
    }
}
