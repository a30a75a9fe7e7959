package org.milab.runtime;

import ai.onnxruntime.OrtSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.milab.graph.ExportedModel;
import org.milab.graph.GraphVariant;
import org.milab.model.TestCheckpoints;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * close() has one meaning: the end. Options are fixed per object: other options are other sessions, opened
 * beside the first; after close() no graph opens again through the same object.
 */
class ModelSessionsLifecycleTest {
    @Test
    void optionsAreFixedPerObjectAndCloseEnds(@TempDir Path dir) {
        try (ExportedModel m = ExportedModel.export(TestCheckpoints.random(TestCheckpoints.tiny(), 1, 0.5f), "tiny", dir)) {
            ModelSessions s = m.sessions();
            OrtSession first = s.session(GraphVariant.CAPTURE);
            assertThat(s.session(GraphVariant.CAPTURE)).isSameAs(first);
            assertThat(s.tuning()).isEqualTo(ModelSessions.Tuning.DEFAULT);
            ModelSessions.Tuning noPrepack = new ModelSessions.Tuning(OrtSession.SessionOptions.OptLevel.ALL_OPT, false, true, true);
            try (ModelSessions other = ModelSessions.open(s.graphDir(), Device.CPU, 0, noPrepack)) {
                assertThat(other.tuning()).isEqualTo(noPrepack);
                assertThat(other.session(GraphVariant.CAPTURE)).isNotSameAs(first);
            }
            assertThat(s.session(GraphVariant.CAPTURE)).as("closing other sessions leaves these open").isSameAs(first);
            s.close();
            assertThatThrownBy(() -> s.session(GraphVariant.CAPTURE)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("closed");
            s.close(); // closing twice is harmless (ExportedModel closes again)
        }
    }

    /**
     * Threads 0 means one per processor, resolved here and recorded: ONNX Runtime's own default ran one thread on
     * 2-core AMD EPYC machines (half the MatMul rate), and a manifest saying "0" could not show it.
     */
    @Test
    void zeroThreadsMeansOnePerProcessorAndIsRecorded(@TempDir Path dir) {
        int cores = Runtime.getRuntime().availableProcessors();
        assertThat(ModelSessions.intraOpThreads(0)).isEqualTo(cores);
        assertThat(ModelSessions.intraOpThreads(3)).isEqualTo(3);
        assertThatThrownBy(() -> ModelSessions.intraOpThreads(-1)).isInstanceOf(IllegalArgumentException.class);
        try (ExportedModel m = ExportedModel.export(TestCheckpoints.random(TestCheckpoints.tiny(), 1, 0.5f), "tiny", dir)) {
            try (ModelSessions auto = ModelSessions.open(m.sessions().graphDir(), Device.CPU, 0);
                 ModelSessions one = ModelSessions.open(m.sessions().graphDir(), Device.CPU, 1)) {
                assertThat(auto.execution().intraOpThreads()).isEqualTo(cores);
                assertThat(one.execution().intraOpThreads()).isEqualTo(1);
                assertThat(auto.session(GraphVariant.CAPTURE)).isNotNull(); // sessions open with the resolved count
            }
        }
    }
}
