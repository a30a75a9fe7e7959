package org.milab.testing;

import org.milab.engine.TokenIds;
import org.milab.lab.LabModel;
import org.milab.runtime.Device;

import java.nio.file.Path;
import java.util.Set;

/**
 * A child process that opens an exported model, runs one forward pass and then stays alive for {@code args[2]}
 * seconds: long enough for anything that reports in the background (ONNX Runtime's telemetry uploader) to try.
 */
public final class OpenModelAndWait {
    private OpenModelAndWait() {}

    public static void main(String[] args) throws Exception {
        try (LabModel m = LabModel.open(Path.of(args[0]), args[1], Device.CPU, 1)) {
            TokenIds ids = new TokenIds(m.tokenizer().encodeWithBos("A B C D A B C"));
            m.engine().capture(Set.of(ids), Set.of(), "one forward pass");
            System.out.println("forward pass done");
            System.out.flush();
            Thread.sleep(Long.parseLong(args[2]) * 1000);
        }
    }
}
