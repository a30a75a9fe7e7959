package org.milab.bench;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.milab.engine.PatchRow;
import org.milab.engine.SitePatch;
import org.milab.engine.TokenIds;
import org.milab.model.ModelConfig;
import org.milab.util.UserError;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The TransformerLens-style PyTorch peer (tools/peer/peer.py), run right after the engine on the rows the
 * engine's timed held-out pass ran: a plain-torch GPT-2 forward over the same safetensors checkpoint (its
 * sha256 checked against the export's), one forward per patch site over that site's prompt batch with a
 * hook that overwrites hook_z, final-position logits only. It first checks its logits against the engine's
 * on the first site and stops (exit 2) when they differ; then it times the whole matrix and compares every row.
 */
public final class TorchPeer {
    private TorchPeer() {}

    /**
     * What the peer reported (tools/peer/peer.py writes these names).
     *
     * @param interventions     the held-out matrix's interventions (the engine's denominator, unavailable positions included)
     * @param forwards          patched forward calls (one per site batch) plus the capture's batches
     * @param maxAbsLogitDiff   largest |peer - engine| metric logit over every row
     */
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Result(int interventions, int patchedRows, int baselineRows, int forwards, int siteBatch, double seconds,
                         double captureSeconds, double patchSeconds, int checkedRows, double maxAbsLogitDiff,
                         double tolerance, String torchVersion, int torchThreads, String checkpointSha256) {
        @JsonProperty("interventions_per_s")
        public double interventionsPerS() {
            return interventions / seconds;
        }

        public String row(double engineRate) {
            return String.format(Locale.ROOT, "| TransformerLens-style PyTorch peer (torch %s, %d threads; %d forwards of <= %d rows; "
                    + "logits within %.1e of the engine's, max %.1e over %d rows) | %.1f s (%.1f + %.1f) | %.1f interventions/s | "
                    + "engine/peer %.2fx |", torchVersion, torchThreads, forwards, siteBatch, tolerance, maxAbsLogitDiff, checkedRows,
                    seconds, captureSeconds, patchSeconds, interventionsPerS(), engineRate / interventionsPerS());
        }
    }

    /**
     * The peer's input: the distinct prompts, the unpatched baseline rows, and the patched rows grouped as
     * TransformerLens would run them (per head, in batches of {@code siteBatch}, the records of one site),
     * each row with the engine's metric logits.
     */
    static void writeWorkload(Path file, ModelConfig c, List<RecordingEngine.Request> requests, int interventions,
                              int siteBatch, Path checkpoint, String checkpointSha256, int threads) {
        ObjectNode w = BenchJson.MAPPER.createObjectNode();
        w.put("checkpoint", checkpoint.toAbsolutePath().toString());
        w.put("checkpoint_sha256", checkpointSha256);
        w.put("n_layer", c.nLayer()).put("n_head", c.nHead()).put("d_model", c.dModel())
                .put("layer_norm_epsilon", c.layerNormEpsilon()).put("tied_embeddings", c.tiedEmbeddings());
        w.put("threads", threads);
        w.put("interventions", interventions);
        w.put("site_batch", siteBatch);
        Map<TokenIds, Integer> prompts = new LinkedHashMap<>();
        ArrayNode baselines = w.putArray("baselines");
        Map<List<Integer>, List<ArrayNode>> byHead = new LinkedHashMap<>();
        for (RecordingEngine.Request req : requests)
            for (int i = 0; i < req.rows().size(); i++) {
                PatchRow r = req.rows().get(i);
                int p = prompts.computeIfAbsent(r.prompt(), k -> prompts.size());
                if (r.overrides().isEmpty()) {
                    ArrayNode b = baselines.addArray();
                    b.add(p);
                    b.addPOJO(r.metricTokens());
                    b.addPOJO(req.logits()[i]);
                    continue;
                }
                if (r.overrides().size() != 1)
                    throw new IllegalStateException("the peer mirrors one patched head per row; a row has " + r.overrides().size());
                SitePatch o = r.overrides().get(0);
                ArrayNode row = BenchJson.MAPPER.createArrayNode();
                row.add(p).add(o.position());
                row.addPOJO(r.metricTokens());
                row.addPOJO(o.value());
                row.addPOJO(req.logits()[i]);
                byHead.computeIfAbsent(List.of(o.layer(), o.head()), k -> new ArrayList<>()).add(row);
            }
        ArrayNode ps = w.putArray("prompts");
        prompts.keySet().forEach(t -> ps.addPOJO(t.ids()));
        ArrayNode groups = w.putArray("groups");
        byHead.forEach((head, rows) -> {
            for (int from = 0; from < rows.size(); from += siteBatch) {
                ObjectNode g = groups.addObject();
                g.put("layer", head.get(0)).put("head", head.get(1));
                g.putArray("rows").addAll(rows.subList(from, Math.min(rows.size(), from + siteBatch)));
            }
        });
        try {
            Files.createDirectories(file.getParent());
            BenchJson.MAPPER.writer().without(com.fasterxml.jackson.databind.SerializationFeature.INDENT_OUTPUT).writeValue(file.toFile(), w);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Runs {@code python tools/peer/peer.py}; its stdout/stderr go to this process's. */
    static Result run(String python, Path root, Path workload, Path out) {
        Path script = root.resolve("tools/peer/peer.py");
        List<String> cmd = List.of(python, script.toString(), "--workload", workload.toString(), "--out", out.toString());
        JsonNode n = runPython(cmd, out, "peer");
        try {
            return BenchJson.MAPPER.treeToValue(n, Result.class);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Runs a tools/peer script that writes its JSON answer to {@code out}; exit 2 becomes one clear message. */
    static JsonNode runPython(List<String> cmd, Path out, String what) {
        System.out.println("+ " + String.join(" ", cmd));
        try {
            Process p = new ProcessBuilder(cmd).inheritIO().start();
            if (!p.waitFor(2, TimeUnit.HOURS)) {
                p.destroyForcibly();
                throw new IllegalStateException("the " + what + " script did not finish in 2 hours");
            }
            if (p.exitValue() != 0)
                throw new UserError("The PyTorch " + what + " failed (exit " + p.exitValue() + "; its message is above).",
                        "Set up its venv with 'make bench-peer-venv' (torch " + "2.13.0+cpu, onnxruntime 1.30.0), or run "
                                + "without --peer-python.");
            return BenchJson.MAPPER.readTree(out.toFile());
        } catch (IOException e) {
            throw new UserError("Cannot run " + cmd.get(0) + ": " + e.getMessage(),
                    "Give --peer-python a Python with torch (make bench-peer-venv builds .venv-peer).", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while the " + what + " ran", e);
        }
    }
}
