package org.milab.catalog;

import ai.onnxruntime.OrtException;
import org.milab.graph.GraphVariant;
import org.milab.graph.HookNames;
import org.milab.model.Checkpoint;
import org.milab.model.ReferenceGpt2;
import org.milab.runtime.Device;
import org.milab.runtime.Feeds;
import org.milab.runtime.ModelSessions;
import org.milab.runtime.TokenBatch;
import org.milab.util.UserError;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;

/**
 * After an export, runs the capture graph and the plain-Java reference forward pass on one short prompt
 * and compares their final logits, so a broken export is caught before any experiment uses it.
 */
public final class SelfCheck {
    public static final double TOLERANCE = 1e-3;

    public record Result(int[] prompt, double maxAbsLogitDiff, double tolerance) {}

    private SelfCheck() {}

    /**
     * Every weight is finite, else the checkpoint (not the exporter) is bad: one NaN or infinity spreads to every
     * logit, and the self-check would then blame the graphs. Checked before anything is written.
     */
    public static void requireFinite(Checkpoint ckpt) {
        for (String name : new java.util.TreeSet<>(ckpt.names())) {
            java.nio.FloatBuffer b = ckpt.floats(name).duplicate();
            b.rewind();
            for (int i = 0; b.hasRemaining(); i++) {
                float x = b.get();
                if (!Float.isFinite(x))
                    throw new UserError("This is a bad checkpoint: tensor " + name + " holds " + x + " at element " + i
                            + " (of " + b.capacity() + "); trained weights are finite, so the file is damaged or was saved "
                            + "from a diverged training run. Nothing was exported.",
                            "Use an intact checkpoint (download it again, or re-save it from a run whose loss was finite).");
            }
        }
    }

    public static Result run(Checkpoint ckpt, Path graphDir) {
        int v = ckpt.config().vocabSize();
        int[] ids = {v - 1, 3 % v, 5 % v, 7 % v, 3 % v, 5 % v};
        double[] expected = new ReferenceGpt2(ckpt).run(ids).finalLogits();
        float[] got;
        try (ModelSessions s = ModelSessions.open(graphDir, Device.CPU, 0);
             Feeds f = new Feeds(s.env()).batch(TokenBatch.of(List.of(ids)))) {
            got = f.run(s.session(GraphVariant.CAPTURE), Set.of(HookNames.LOGITS_FINAL)).get(HookNames.LOGITS_FINAL).data();
        } catch (OrtException e) {
            throw new UserError("The exported capture graph in " + graphDir + " does not run: " + e.getMessage(),
                    "Re-run the export; report a bug if it persists.", e);
        }
        double max = 0;
        for (int i = 0; i < v; i++) max = Math.max(max, Math.abs(got[i] - expected[i]));
        if (!(max <= TOLERANCE))
            throw new UserError("Self-check failed: the exported graph's logits differ from the reference forward pass by "
                    + max + " (tolerance " + TOLERANCE + ").", "This is an exporter bug; keep the checkpoint and report it.");
        return new Result(ids, max, TOLERANCE);
    }
}
