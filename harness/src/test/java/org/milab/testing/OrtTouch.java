package org.milab.testing;

import org.milab.runtime.ModelSessions;
import org.milab.runtime.NativeLibraries;

/** A child process that loads ONNX Runtime the way the project does, reports, and exits (or waits to be killed). */
public final class OrtTouch {
    private OrtTouch() {}

    public static void main(String[] args) throws Exception {
        String version = ModelSessions.environment().getVersion();
        System.out.println("loaded onnxruntime " + version + " from " + System.getProperty("onnxruntime.native.path")
                + "; ORT_DISABLE_TELEMETRY=" + (NativeLibraries.telemetryDisabledInEnvironment() ? "1" : "unset"));
        System.out.flush();
        if (args.length > 0 && args[0].equals("wait")) Thread.sleep(600_000);
    }
}
