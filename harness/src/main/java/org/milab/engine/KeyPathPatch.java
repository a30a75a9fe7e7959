package org.milab.engine;

import org.milab.graph.HookNames;
import org.milab.model.Checkpoint;
import org.milab.model.Gpt2Tensors;
import org.milab.model.ModelConfig;

import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import org.milab.graph.Head;

/**
 * Path patching from a sender head into ONE receiver head's keys (K-composition): the receiver's keys are
 * recomputed as if the sender's output had been replaced, while every other path (the sender's direct
 * effect, the receiver's queries and values, every other head) sees the clean run. Residual streams are
 * additive, so the receiver's layer input changes by exactly {@code (z_new - z_clean) W_O[sender]}
 * (b_O is shared by all heads and cancels); layers in between are frozen, which is what "path" means.
 * The keys then go into a {@link org.milab.graph.PatchSite#HOOK_K} patch row.
 *
 * <p>Double precision on the host: a few (d_model x d_head) products per position, negligible next to
 * a forward pass.
 */
public final class KeyPathPatch {
    private final ModelConfig c;
    private final Checkpoint weights;

    public KeyPathPatch(Checkpoint weights) {
        this.weights = weights;
        this.c = weights.config();
    }

    /** The hooks a clean capture must hold for {@link #receiverKeys}. */
    public static List<String> hooksNeeded(Head sender, Head receiver) {
        return List.of(HookNames.hookZ(sender.layer()), HookNames.hookResidPre(receiver.layer()));
    }

    /**
     * Receiver keys at every position of {@code clean}'s prompt when the sender's z is {@code senderZ[pos]}
     * (raw frame) on the path into the receiver's keys.
     *
     * @param clean   capture holding {@link #hooksNeeded}
     * @param senderZ replacement z of the sender per position, {@code [length][d_head]}
     */
    public List<SitePatch> receiverKeys(Capture clean, Head sender, float[][] senderZ, Head receiver) {
        if (sender.layer() >= receiver.layer())
            throw new IllegalArgumentException("sender " + sender + " must sit in an earlier layer than receiver " + receiver);
        int d = c.dModel(), dh = c.dHead(), T = clean.prompt().length();
        if (senderZ.length != T) throw new IllegalArgumentException("senderZ has " + senderZ.length + " positions, prompt " + T);
        FloatBuffer wo = weights.floats(Gpt2Tensors.projW(sender.layer()));
        FloatBuffer lnW = weights.floats(Gpt2Tensors.ln1W(receiver.layer())), lnB = weights.floats(Gpt2Tensors.ln1B(receiver.layer()));
        FloatBuffer wa = weights.floats(Gpt2Tensors.attnW(receiver.layer())), ba = weights.floats(Gpt2Tensors.attnB(receiver.layer()));
        int kCol = d + receiver.head() * dh;
        List<SitePatch> out = new ArrayList<>(T);
        for (int t = 0; t < T; t++) {
            float[] resid = clean.vector(HookNames.hookResidPre(receiver.layer()), t);
            float[] zc = clean.z(sender.layer(), t, sender.head());
            double[] x = residualDelta(wo, sender.head(), senderZ[t], zc);
            for (int i = 0; i < d; i++) x[i] += resid[i];
            double[] a = layerNorm(x, lnW, lnB);
            float[] k = new float[dh];
            for (int j = 0; j < dh; j++) {
                double acc = ba.get(kCol + j);
                for (int i = 0; i < d; i++) acc += a[i] * wa.get(i * 3 * d + kCol + j); // c_attn.weight is [d, 3d]
                k[j] = (float) acc;
            }
            out.add(new SitePatch(receiver.layer(), t, receiver.head(), k));
        }
        return out;
    }

    /** {@code (zNew - zClean) W_O[head]}: how the head's contribution to the residual stream changes. */
    double[] residualDelta(FloatBuffer wo, int head, float[] zNew, float[] zClean) {
        int d = c.dModel(), dh = c.dHead();
        double[] x = new double[d];
        for (int j = 0; j < dh; j++) {
            double dz = (double) zNew[j] - zClean[j];
            if (dz == 0) continue;
            int row = (head * dh + j) * d; // c_proj.weight is [d_model(in), d_model(out)]
            for (int i = 0; i < d; i++) x[i] += dz * wo.get(row + i);
        }
        return x;
    }

    /** As {@link #residualDelta(FloatBuffer, int, float[], float[])} for a head given by layer. */
    double[] residualDelta(Head head, float[] zNew, float[] zClean) {
        return residualDelta(weights.floats(Gpt2Tensors.projW(head.layer())), head.head(), zNew, zClean);
    }

    private double[] layerNorm(double[] x, FloatBuffer w, FloatBuffer b) {
        int d = x.length;
        double mean = 0, var = 0;
        for (double v : x) mean += v;
        mean /= d;
        for (double v : x) var += (v - mean) * (v - mean);
        var /= d;
        double inv = 1 / Math.sqrt(var + c.layerNormEpsilon());
        double[] out = new double[d];
        for (int i = 0; i < d; i++) out[i] = (x[i] - mean) * inv * w.get(i) + b.get(i);
        return out;
    }
}
