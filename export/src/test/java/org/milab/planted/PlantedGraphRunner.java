package org.milab.planted;

import ai.onnxruntime.OrtException;
import org.milab.graph.GraphVariant;
import org.milab.graph.HookNames;
import org.milab.model.ModelConfig;
import org.milab.model.ReferenceGpt2;
import org.milab.model.ReferenceGpt2.Patches;
import org.milab.model.ReferenceGpt2.Trace;
import org.milab.runtime.Device;
import org.milab.runtime.Feeds;
import org.milab.runtime.ModelSessions;
import org.milab.runtime.TokenBatch;

import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A {@link PlantedChecks.Runner} on the exported ONNX graphs: the capture graph when unpatched (z, pattern,
 * final logits), patch_z + unembed when patched (final logits only, which is all the checks read there).
 */
final class PlantedGraphRunner implements PlantedChecks.Runner, AutoCloseable {
    private final ModelSessions sessions;
    private final ModelConfig config;

    PlantedGraphRunner(Path graphDir, ModelConfig config) {
        this.sessions = ModelSessions.open(graphDir, Device.CPU, 2);
        this.config = config;
    }

    ModelSessions sessions() {
        return sessions;
    }

    @Override
    public Trace run(int[] ids, Patches patches) {
        if (!patches.attnOut().isEmpty()) throw new UnsupportedOperationException("attn_out patches are not used here");
        try (Feeds f = new Feeds(sessions.env()).batch(TokenBatch.of(List.of(ids)))) {
            return patches.z().isEmpty() ? capture(f, ids.length) : patched(f, ids.length, patches);
        } catch (OrtException e) {
            throw new IllegalStateException(e);
        }
    }

    private Trace capture(Feeds f, int T) throws OrtException {
        int L = config.nLayer(), H = config.nHead(), dh = config.dHead();
        Set<String> fetch = new LinkedHashSet<>();
        for (int l = 0; l < L; l++) {
            fetch.add(HookNames.hookZ(l));
            fetch.add(HookNames.hookPattern(l));
        }
        fetch.add(HookNames.LOGITS_FINAL);
        Map<String, Feeds.Output> out = f.run(sessions.session(GraphVariant.CAPTURE), fetch);
        double[][][][] z = new double[L][T][H][dh], pattern = new double[L][H][T][T];
        for (int l = 0; l < L; l++)
            for (int p = 0; p < T; p++)
                for (int h = 0; h < H; h++) {
                    for (int i = 0; i < dh; i++) z[l][p][h][i] = out.get(HookNames.hookZ(l)).at(0, p, h, i);
                    for (int k = 0; k < T; k++) pattern[l][h][p][k] = out.get(HookNames.hookPattern(l)).at(0, h, p, k);
                }
        return PlantedChecks.partialTrace(z, pattern, toDouble(out.get(HookNames.LOGITS_FINAL).data()));
    }

    private Trace patched(Feeds f, int T, Patches patches) throws OrtException {
        int L = config.nLayer(), H = config.nHead(), dh = config.dHead();
        f.longs(HookNames.METRIC_TOKEN_IDS, new long[]{0}, 1, 1);
        for (int l = 0; l < L; l++) {
            float[] mask = new float[T * H], value = new float[T * H * dh];
            for (ReferenceGpt2.ZPatch p : patches.z()) {
                if (p.layer() != l) continue;
                mask[p.position() * H + p.head()] = 1f;
                System.arraycopy(p.value(), 0, value, (p.position() * H + p.head()) * dh, dh);
            }
            f.floats(HookNames.patchMask(HookNames.hookZ(l)), mask, 1, T, H);
            f.floats(HookNames.patchValue(HookNames.hookZ(l)), value, 1, T, H, dh);
        }
        float[] resid = f.run(sessions.session(GraphVariant.PATCH_Z), Set.of(HookNames.RESID_FINAL))
                .get(HookNames.RESID_FINAL).data();
        try (Feeds u = new Feeds(sessions.env()).floats(HookNames.UNEMBED_RESID, resid, 1, config.dModel())) {
            double[] logits = toDouble(u.run(sessions.session(GraphVariant.UNEMBED), Set.of(HookNames.UNEMBED_LOGITS))
                    .get(HookNames.UNEMBED_LOGITS).data());
            // only the final logits are read from patched runs; z keeps the length
            return PlantedChecks.partialTrace(new double[1][T][0][0], null, logits);
        }
    }

    private static double[] toDouble(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) d[i] = a[i];
        return d;
    }

    @Override
    public void close() {
        sessions.close();
    }
}
