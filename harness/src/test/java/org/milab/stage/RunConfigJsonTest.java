package org.milab.stage;

import org.junit.jupiter.api.Test;
import org.milab.circuit.CircuitConfig;
import org.milab.util.Json;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * run_manifest.json's config (and so config_sha256 and resumes) is written from the record components; these
 * are the documents the hand-written maps wrote, spelled out key by key, so a reordering or a lost name fails.
 */
class RunConfigJsonTest {
    @Test
    void theReferenceConfigKeepsItsKeysAndOrder() throws Exception {
        assertThat(Json.COMPACT.writeValueAsString(RunConfig.reference("gpt2", "r1").toMap())).isEqualTo("{"
                + "\"model\":\"gpt2\",\"run_id\":\"r1\",\"control_seeds\":[0,1,2],\"controls_per_family\":32,"
                + "\"layer_patch_seeds\":[0,1],\"layer_patch_per_family\":8,\"max_candidates\":12,\"sweep_seeds\":[0,1,2],"
                + "\"sweep_per_family\":8,\"heldout_seeds\":[10,11,12],\"heldout_generated_per_family\":24,"
                + "\"heldout_scored_per_family\":12,\"top_k_heads\":20,\"candidate_file\":null,"
                + "\"zero_ablation_frame\":\"transformer_lens\",\"characterization_seeds\":[20,21,22],"
                + "\"characterization_generated_per_family\":12,\"characterization_scored_per_family\":4}");
    }

    @Test
    void aCandidateFileIsWrittenAsItsPathString() {
        RunConfig c = new RunConfig("m", "r", List.of(3), 2, List.of(4), 1, 1, 1, List.of(5), 3, 2, 1,
                Path.of("cands", "set.json"), RunConfig.FRAME_RAW, List.of(7), 5, 5);
        assertThat(c.toMap().get("candidate_file")).isEqualTo(Path.of("cands", "set.json").toString());
        assertThat(c.toMap().get("sweep_seeds")).isEqualTo(List.of(3));
        assertThat(c.toMap().get("characterization_scored_per_family")).isEqualTo(5);
    }

    @Test
    void theCircuitConfigKeepsItsKeysAndOrder() throws Exception {
        assertThat(Json.COMPACT.writeValueAsString(CircuitConfig.defaults().toMap())).isEqualTo(
                "{\"ig_steps\":10,\"resamples\":1000,\"bootstrap_seed\":0,\"batch_rows\":4,\"exact_edge_limit\":2000,\"threshold\":0.9}");
    }
}
