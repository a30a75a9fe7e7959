package org.milab.bench;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.milab.engine.PatchRow;
import org.milab.engine.RecomputePath;
import org.milab.engine.SitePatch;
import org.milab.engine.TokenIds;
import org.milab.graph.Head;
import org.milab.graph.PatchSite;
import org.milab.lab.LabFixtures;
import org.milab.lab.LabModel;
import org.milab.model.Dtype;
import org.milab.model.ModelConfig;
import org.milab.model.RandomCheckpoints;
import org.milab.model.SafetensorsWriter;
import org.milab.prompts.HeldoutPrompts;
import org.milab.protocol.reference.PositionLabel;
import org.milab.prompts.PromptRecord;
import org.milab.protocol.reference.HeadPatching;
import org.milab.protocol.reference.Intervention;
import org.milab.run.RunContext;
import org.milab.runtime.Device;
import org.milab.runtime.ModelSessions;
import org.milab.stage.RunConfig;
import org.milab.util.UserError;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The PyTorch peer is only worth timing if it computes what the engine computes: here it runs the rows of a
 * reduced held-out pass (2 heads of a tiny exported model, 4 records per family) from the checkpoint file the
 * model was exported from, and every one of its logits must match the engine's; a checkpoint whose sha256
 * differs is refused. Needs a Python with torch (MILAB_PEER_PYTHON, or make bench-peer-venv's .venv-peer);
 * skipped with that reason otherwise.
 */
class TorchPeerTest {
    @Test
    void workloadGroupsPatchedRowsPerHeadInSiteBatchesAndKeepsBaselinesApart(@TempDir Path dir) throws IOException {
        ModelConfig c = new ModelConfig(2, 4, 32, 50, 24, 1e-5, ModelConfig.GELU_TANH, false);
        TokenIds p = new TokenIds(new int[]{0, 5, 6, 7});
        List<PatchRow> rows = new ArrayList<>();
        rows.add(new PatchRow(p, List.of(), new int[]{1, 2}));
        for (int i = 0; i < 5; i++) rows.add(new PatchRow(p, List.of(new SitePatch(1, 3, 2, new float[8])), new int[]{1, 2}));
        rows.add(new PatchRow(p, List.of(new SitePatch(0, 2, 1, new float[8])), new int[]{3}));
        float[][] logits = new float[rows.size()][];
        for (int i = 0; i < logits.length; i++) logits[i] = new float[]{i, -i};
        Path wl = dir.resolve("w.json");
        TorchPeer.writeWorkload(wl, c, List.of(new RecordingEngine.Request(PatchSite.HOOK_Z, rows, logits)), 7, 2,
                dir.resolve("ckpt"), "abc", 2);
        JsonNode n = BenchJson.MAPPER.readTree(wl.toFile());
        assertThat(n.path("prompts")).hasSize(1);
        assertThat(n.path("baselines")).hasSize(1);
        assertThat(n.path("baselines").get(0).get(2).get(0).asDouble()).isEqualTo(0.0);
        List<String> groups = new ArrayList<>();
        for (JsonNode g : n.path("groups")) groups.add(g.path("layer").asInt() + "." + g.path("head").asInt() + "x" + g.path("rows").size());
        assertThat(groups).containsExactly("1.2x2", "1.2x2", "1.2x1", "0.1x1"); // site batches of 2
        JsonNode last = n.path("groups").get(3).path("rows").get(0);
        assertThat(last.get(1).asInt()).isEqualTo(2); // position
        assertThat(last.get(4).get(0).asDouble()).isEqualTo(6.0); // the engine's logits of that row
        List<PatchRow> twoHeads = List.of(new PatchRow(p, List.of(new SitePatch(1, 3, 2, new float[8]),
                new SitePatch(0, 1, 1, new float[8])), new int[]{1}));
        assertThatThrownBy(() -> TorchPeer.writeWorkload(wl, c, List.of(new RecordingEngine.Request(PatchSite.HOOK_Z, twoHeads,
                new float[][]{{0f}})), 1, 2, dir, "abc", 2)).hasMessageContaining("one patched head per row");
    }

    @Test
    void peerLogitsMatchTheEngineOnAReducedHeldoutPass(@TempDir Path root) throws Exception {
        String python = peerPython();
        assumeTrue(python != null, "no Python with torch: set MILAB_PEER_PYTHON or run 'make bench-peer-venv'");
        LabFixtures.exportRandomWordModel(root, "words", 11, List.of());
        RecordingEngine[] rec = new RecordingEngine[1];
        try (LabModel m = LabModel.open(root, "words", Device.CPU, 2, 64, 64 * 16,
                (model, local) -> rec[0] = new RecordingEngine(local), ModelSessions.Tuning.DEFAULT)) {
            ModelConfig cfg = m.config();
            SafetensorsWriter.writeCheckpoint(Files.createDirectories(root.resolve("ckpt")), RandomCheckpoints.generate(cfg, 11, 0.5f),
                    Dtype.F32, true);
            Path ckpt = root.resolve("ckpt/model.safetensors");
            List<PromptRecord> records = HeldoutPrompts.generate(10, 4);
            Map<String, PromptRecord> byId = records.stream().collect(Collectors.toMap(PromptRecord::exampleId, Function.identity()));
            List<HeadPatching.Job> jobs = new ArrayList<>();
            for (Head head : List.of(new Head(1, 2), new Head(0, 3)))
                for (PromptRecord r : records)
                    for (Intervention iv : Intervention.values())
                        for (PositionLabel pos : List.of(PositionLabel.FINAL, PositionLabel.PREVIOUS_OCCURRENCE))
                            jobs.add(new HeadPatching.Job(r, byId.get(r.pairedPositiveExampleId()), "c", head, iv, pos));
            HeadPatching.run(new RunContext(root, RunConfig.reference("words", "t"), m), jobs, "peer test", RecomputePath.MINIMAL);
            Path wl = root.resolve("peer/workload.json");
            TorchPeer.writeWorkload(wl, cfg, rec[0].requests(), jobs.size(), records.size(), ckpt, sha256(ckpt), 1);
            TorchPeer.Result r = TorchPeer.run(python, repoRoot(), wl, root.resolve("peer/peer.json"));
            int patched = (int) rec[0].requests().stream().flatMap(q -> q.rows().stream()).filter(x -> !x.overrides().isEmpty()).count();
            assertThat(r.patchedRows()).isEqualTo(patched).isGreaterThan(jobs.size() / 2);
            assertThat(r.checkedRows()).isEqualTo(r.patchedRows() + r.baselineRows());
            assertThat(r.maxAbsLogitDiff()).isLessThanOrEqualTo(r.tolerance());
            assertThat(r.interventions()).isEqualTo(jobs.size());
            // a checkpoint other than the export's is refused before anything runs
            TorchPeer.writeWorkload(wl, cfg, rec[0].requests(), jobs.size(), records.size(), ckpt, "0".repeat(64), 1);
            assertThatThrownBy(() -> TorchPeer.run(python, repoRoot(), wl, root.resolve("peer/other.json")))
                    .isInstanceOf(UserError.class).hasMessageContaining("exit 2");
        }
    }

    private static String sha256(Path f) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(f)));
    }

    static Path repoRoot() {
        Path here = Path.of("").toAbsolutePath();
        return Files.isDirectory(here.resolve("tools/peer")) ? here : here.getParent();
    }

    /** MILAB_PEER_PYTHON, else the venv make bench-peer-venv builds, if it has torch. */
    static String peerPython() {
        String env = System.getenv("MILAB_PEER_PYTHON");
        Path venv = repoRoot().resolve(".venv-peer/bin/python");
        String py = env != null && !env.isBlank() ? env : Files.isExecutable(venv) ? venv.toString() : null;
        if (py == null) return null;
        try {
            Process p = new ProcessBuilder(py, "-c", "import torch").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor() == 0 ? py : null;
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }
}
