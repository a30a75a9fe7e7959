package org.milab.cli;

import org.milab.lab.LabModel;
import org.milab.stage.RunFolder;
import org.milab.report.RunReport;
import org.milab.runtime.Device;
import org.milab.tables.RunIntegrity;
import org.milab.util.UserError;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code milab report results/<run>}: (re)writes an existing run's report.html and prints its verdict. */
@Command(name = "report", mixinStandardHelpOptions = true,
        description = "Write report.html for an existing run (verdicts, heatmaps, attention views, distributions) and print its verdict.")
public final class ReportCommand implements Callable<Integer> {
    @Mixin RootOption root;

    @Parameters(index = "0", paramLabel = "RUN", description = "the run folder, e.g. results/my-run")
    Path run;

    @Override
    public Integer call() {
        Path dir = run.isAbsolute() ? run : root.root().resolve(run);
        if (!Files.isRegularFile(dir.resolve("run_manifest.json")))
            throw new UserError("No finished run at " + dir + " (it has no run_manifest.json).",
                    "Pass a run folder under results/, e.g. make report RUN=results/<run-id>; finish an interrupted run with make run-all RUN_ID=<id> first.");
        RunIntegrity.verify(dir); // a table edited after the run is named and nothing is rendered from it
        String model = new RunFolder(dir).manifest().path("model").path("model_id").asText("");
        Path out;
        if (!model.isEmpty() && Files.isRegularFile(root.root().resolve("graphs").resolve(model).resolve("capture.onnx"))) {
            try (LabModel m = LabModel.open(root.root(), model, Device.CPU, 0)) {
                out = RunReport.write(root.root(), dir, m);
            }
        } else {
            System.err.println("model " + model + " is not exported here, so the report has no attention views (make export MODEL=" + model + ")");
            out = RunReport.write(root.root(), dir, null);
        }
        RunCommands.printVerdict(root.root(), dir);
        System.out.println("report written to " + root.root().relativize(out.toAbsolutePath().normalize()));
        return 0;
    }
}
