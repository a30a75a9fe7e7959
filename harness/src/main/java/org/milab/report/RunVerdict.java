package org.milab.report;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.milab.stage.RunFolder;
import org.milab.stage.ProtocolVerdict;
import org.milab.protocol.reference.ReferenceVerdicts;
import org.milab.protocol.v2.V2Verdicts;

/**
 * Everything a run concluded: each protocol's verdicts and, on a model with a ground truth, the truth to
 * grade them against; and the edge-level circuit where the run has one ({@code make circuit}). Read from the run folder alone (plus the model manifest for the truth), so a
 * finished run can be reported again at any time.
 */
public record RunVerdict(String runId, String model, Optional<ProtocolVerdict> reference, Optional<ProtocolVerdict> v2,
                         Truth truth, Optional<CircuitVerdict> circuit) {

    public static RunVerdict read(Path root, RunFolder run) {
        var m = run.manifest();
        String runId = m.path("run_id").asText(run.dir().getFileName().toString().replace(".incomplete", ""));
        String model = m.path("model").path("model_id").asText(m.path("config").path("model").asText("?"));
        return new RunVerdict(runId, model, ReferenceVerdicts.read(run), V2Verdicts.read(run), Truth.forRun(root, run),
                CircuitVerdict.read(run));
    }

    public List<ProtocolVerdict> protocols() {
        List<ProtocolVerdict> out = new ArrayList<>();
        reference.ifPresent(out::add);
        v2.ifPresent(out::add);
        return out;
    }
}
