package org.milab.runtime;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.milab.graph.ExportedModel;
import org.milab.model.TestCheckpoints;
import org.milab.util.UserError;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Device selection on a machine without CUDA (these machines, and the default CPU build): {@code cuda}
 * stops at start with what is missing and how to build; {@code auto} falls back to CPU and says why.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DeviceSelectionTest {
    Path graphs;

    @BeforeAll
    void export(@TempDir Path dir) {
        String problem = ModelSessions.cudaProblem();
        if (problem == null) {
            System.out.println("SKIPPED DeviceSelectionTest: CUDA works on this machine, so its absence cannot be tested here");
            Assumptions.abort("CUDA is available on this machine");
        }
        try (ExportedModel m = ExportedModel.export(TestCheckpoints.random(TestCheckpoints.tiny(), 1, 0.5f), "tiny", dir)) {
            graphs = m.exported().graphDir();
        }
    }

    @Test
    void cudaWithoutCudaFailsAtStartWithTheFix() {
        assertThatThrownBy(() -> ModelSessions.open(graphs, Device.CUDA, 0))
                .isInstanceOf(UserError.class)
                .hasMessageContaining("DEVICE=cuda")
                .hasMessageContaining("-Pcuda")
                .hasMessageContaining("DEVICE=cpu");
    }

    @Test
    void autoFallsBackToCpuAndRecordsWhy() {
        try (ModelSessions s = ModelSessions.open(graphs, Device.AUTO, 0)) {
            assertThat(s.execution().provider()).isEqualTo("CPUExecutionProvider");
            assertThat(s.execution().fallbackReason()).isNotBlank();
            assertThat(s.execution().requested()).isEqualTo(Device.AUTO);
            assertThat(s.session(org.milab.graph.GraphVariant.CAPTURE)).isNotNull();
        }
    }

    @Test
    void unknownDeviceNamesTheChoices() {
        assertThatThrownBy(() -> Device.parse("tpu")).isInstanceOf(UserError.class).hasMessageContaining("cpu, cuda, auto");
    }
}
