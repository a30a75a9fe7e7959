package org.milab.cli;

import org.milab.runtime.Device;
import picocli.CommandLine.Option;

import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;

/**
 * The option block of a command that opens one model for one run ({@code circuit}, {@code attribute}): which
 * model, on which device with how many threads, under which run id.
 */
public final class ModelRunOptions {
    @Option(names = "--model", defaultValue = "gpt2", description = "Default: ${DEFAULT-VALUE}.") String model;
    @Option(names = "--device", defaultValue = "cpu", description = "cpu, cuda or auto. Default: ${DEFAULT-VALUE}.") String device;
    @Option(names = "--threads", defaultValue = "0", description = "ORT intra-op threads (0 = one per processor). Default: ${DEFAULT-VALUE}.") int threads;
    @Option(names = "--run-id", description = "results/<run-id>/ (default <model>-<command>-<time>)") String runId;

    /** The checks of this block (before anything runs). */
    void check() {
        OptionChecks.bounded("--threads", threads, 0, OptionChecks.MAX_THREADS);
    }

    Device parsedDevice() {
        return Device.parse(device);
    }

    /** The run id given, else {@code <model>-<command>-<yyyyMMdd-HHmmss>}. */
    String runIdOr(String command) {
        return runId != null ? runId
                : model + "-" + command + "-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"));
    }
}
