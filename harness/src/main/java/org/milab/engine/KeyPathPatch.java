package org.milab.engine;

import org.milab.graph.HookNames;
import org.milab.model.Checkpoint;
import org.milab.model.Gpt2Tensors;
import org.milab.model.ModelConfig;
import org.milab.runtime.ModelSessions;

import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.milab.graph.Head;

/**
 * Path patching from a sender head into ONE receiver head's keys (K-composition): the receiver's keys are
 * recomputed as if the sender's output had been replaced, while every other path (the sender's direct
 * effect, the receiver's queries and values, every other head) sees the clean run. Residual streams are
 * additive, so the sender changes the residual by exactly {@code (z_new - z_clean) W_O[sender]} (b_O is shared by
 * all heads and cancels). As in Wang et al.'s path patching (IOI), the attention heads in between are frozen and
 * the MLPs in between are RECOMPUTED: the MLP of the sender's layer and of every layer before the receiver's sees
 * the changed residual, and its change is carried on. In a trained model the previous-token signal can reach the
 * induction keys through MLP0; a path with frozen MLPs would miss it. The keys then go into a
 * {@link org.milab.graph.PatchSite#HOOK_K} patch row.
 *
 * <p>Double precision: the (d_model x d_head) products per position on the host, the MLP passes in {@link Gpt2Mlp}.
 */
public final class KeyPathPatch implements AutoCloseable {
    private final ModelConfig c;
    private final Checkpoint weights;
    private final ModelSessions sessions;
    private final Gpt2Mlp[] mlps;

    /** With the MLP passes in ONNX Runtime's double kernels under {@code sessions}' options (null: plain Java). */
    public KeyPathPatch(Checkpoint weights, ModelSessions sessions) {
        this.weights = weights;
        this.sessions = sessions;
        this.c = weights.config();
        this.mlps = new Gpt2Mlp[c.nLayer()];
    }

    /** Releases the MLP sessions. */
    @Override
    public void close() {
        for (Gpt2Mlp m : mlps) if (m != null) m.close();
    }

    /** The hooks a clean capture must hold for {@link #receiverKeys}: the residual before and after each recomputed MLP's attention. */
    public static List<String> hooksNeeded(Head sender, Head receiver) {
        List<String> out = new ArrayList<>(List.of(HookNames.hookZ(sender.layer()), HookNames.hookResidPre(receiver.layer())));
        for (int l = sender.layer(); l < receiver.layer(); l++) {
            out.add(HookNames.hookResidPre(l));
            out.add(HookNames.hookAttnOut(l));
        }
        return out;
    }

    Checkpoint weights() {
        return weights;
    }

    private Gpt2Mlp mlp(int layer) {
        if (mlps[layer] == null) mlps[layer] = new Gpt2Mlp(weights, layer, sessions);
        return mlps[layer];
    }

    /**
     * Receiver keys at every position of {@code clean}'s prompt when the sender's z is {@code senderZ[pos]}
     * (raw frame) on the path into the receiver's keys.
     *
     * @param clean   capture holding {@link #hooksNeeded}
     * @param senderZ replacement z of the sender per position, {@code [length][d_head]}
     */
    public List<SitePatch> receiverKeys(Capture clean, Head sender, float[][] senderZ, Head receiver) {
        return receiverKeys(clean, sender, senderZ, List.of(receiver)).get(receiver);
    }

    /**
     * {@link #receiverKeys(Capture, Head, float[][], Head)} for several receivers of one sender at once: the sender's
     * change is carried through each MLP once and read off at every receiver's layer (an MLP pass is the costly part
     * on GPT-2-sized models). Gives exactly the numbers of one receiver at a time.
     */
    public Map<Head, List<SitePatch>> receiverKeys(Capture clean, Head sender, float[][] senderZ, List<Head> receivers) {
        for (Head receiver : receivers)
            if (sender.layer() >= receiver.layer())
                throw new IllegalArgumentException("sender " + sender + " must sit in an earlier layer than receiver " + receiver);
        int d = c.dModel(), T = clean.prompt().length();
        int top = receivers.stream().mapToInt(Head::layer).max().orElse(sender.layer());
        double[][][] carried = carried(clean, sender, senderZ, top);
        Map<Head, List<SitePatch>> out = new LinkedHashMap<>();
        for (Head r : receivers) out.put(r, new ArrayList<>(T));
        for (int t = 0; t < T; t++)
            for (int l = sender.layer() + 1; l <= top; l++)
                for (Head r : receivers) {
                    if (r.layer() != l) continue;
                    float[] resid = clean.vector(HookNames.hookResidPre(l), t);
                    double[] x = carried[l][t].clone();
                    for (int i = 0; i < d; i++) x[i] += resid[i];
                    out.get(r).add(new SitePatch(l, t, r.head(), keys(x, r)));
                }
        return out;
    }

    /** The last {@link #carried} call's arguments and result: the key and the query/value paths of one sender share it. */
    private record Carried(Capture clean, Head sender, float[][] senderZ, int top, double[][][] at) {}

    private Carried lastCarried;

    /**
     * The sender's change of the residual stream at every position entering each layer {@code l} from the sender's
     * layer + 1 to {@code top} ({@code [l][t]}), carried through the MLPs in between ({@link #carryThroughMlps}), every
     * position of a layer in one batched MLP pass. The same numbers as one position at a time. The last result is
     * kept for the same capture, sender, replacement array and top (not thread-safe, like the MLP cache).
     */
    double[][][] carried(Capture clean, Head sender, float[][] senderZ, int top) {
        Carried last = lastCarried;
        if (last != null && last.clean() == clean && last.sender().equals(sender) && last.senderZ() == senderZ && last.top() == top)
            return last.at();
        int T = clean.prompt().length();
        if (senderZ.length != T) throw new IllegalArgumentException("senderZ has " + senderZ.length + " positions, prompt " + T);
        FloatBuffer wo = weights.floats(Gpt2Tensors.projW(sender.layer()));
        double[][] delta = new double[T][];
        for (int t = 0; t < T; t++) delta[t] = residualDelta(wo, sender.head(), senderZ[t], clean.z(sender.layer(), t, sender.head()));
        double[][][] at = new double[top + 1][][];
        for (int l = sender.layer() + 1; l <= top; l++) {
            carryThroughMlp(clean, l - 1, delta);
            at[l] = new double[T][];
            for (int t = 0; t < T; t++) at[l][t] = delta[t].clone();
        }
        lastCarried = new Carried(clean, sender, senderZ, top, at);
        return at;
    }

    /** The receiver's key at one position from its layer input x: ln_1, then the head's W_K columns and b_K. */
    float[] keys(double[] x, Head receiver) {
        double[] k = project(x, receiver, 1);
        float[] out = new float[k.length];
        for (int j = 0; j < k.length; j++) out[j] = (float) k[j];
        return out;
    }

    /**
     * The receiver's query ({@code part} 0), key (1) or value (2) at one position from its layer input x: ln_1, then
     * the head's columns of c_attn and their bias, in double.
     */
    double[] project(double[] x, Head receiver, int part) {
        int d = c.dModel(), dh = c.dHead(), l = receiver.layer();
        FloatBuffer lnW = weights.floats(Gpt2Tensors.ln1W(l)), lnB = weights.floats(Gpt2Tensors.ln1B(l));
        FloatBuffer wa = weights.floats(Gpt2Tensors.attnW(l)), ba = weights.floats(Gpt2Tensors.attnB(l));
        int col = part * d + receiver.head() * dh;
        double[] a = layerNorm(x, lnW, lnB);
        // row by row of c_attn.weight ([d, 3d]), so the reads are contiguous; each out[j] still sums bias, then
        // a[0] w[0][j], a[1] w[1][j], ... in that order
        double[] out = new double[dh];
        for (int j = 0; j < dh; j++) out[j] = ba.get(col + j);
        for (int i = 0; i < d; i++) {
            double ai = a[i];
            int row = i * 3 * d + col;
            for (int j = 0; j < dh; j++) out[j] += ai * wa.get(row + j);
        }
        return out;
    }

    /** The receiver layer's input at position t on the path: clean resid_pre + the sender's change carried through the MLPs. */
    double[] receiverInput(Capture clean, Head sender, FloatBuffer wo, float[] senderZ, Head receiver, int t) {
        float[] resid = clean.vector(HookNames.hookResidPre(receiver.layer()), t);
        double[] x = residualDelta(wo, sender.head(), senderZ, clean.z(sender.layer(), t, sender.head()));
        carryThroughMlps(clean, t, sender.layer(), receiver.layer(), x);
        for (int i = 0; i < x.length; i++) x[i] += resid[i];
        return x;
    }

    /**
     * Adds to {@code delta} (the sender's change of the residual) the change of every MLP from the sender's layer to
     * the one before the receiver's: MLP_l(mid + delta) - MLP_l(mid), mid = resid_pre + attn_out of the clean run (the
     * layer's heads frozen). A zero delta adds exactly zero; both terms are computed here, in the same precision.
     */
    void carryThroughMlps(Capture clean, int t, int from, int to, double[] delta) {
        for (int l = from; l < to; l++) carryThroughMlp(clean, l, new double[][]{delta}, t);
    }

    /** One layer of {@link #carryThroughMlps} for every position at once ({@code delta[t]}, changed in place). */
    private void carryThroughMlp(Capture clean, int layer, double[][] delta) {
        carryThroughMlp(clean, layer, delta, 0);
    }

    /**
     * One layer of {@link #carryThroughMlps} for the positions {@code first}, {@code first + 1}, ... of {@code delta}
     * (changed in place), in one batched MLP pass over the positions whose change is not zero.
     */
    private void carryThroughMlp(Capture clean, int layer, double[][] delta, int first) {
        int d = c.dModel();
        List<Integer> moved = new ArrayList<>();
        for (int t = 0; t < delta.length; t++) {
            boolean any = false;
            for (double v : delta[t]) any |= v != 0;
            if (any) moved.add(t);
        }
        if (moved.isEmpty()) return;
        int n = moved.size();
        double[][] in = new double[2 * n][d];
        for (int m = 0; m < n; m++) {
            int t = moved.get(m);
            float[] pre = clean.vector(HookNames.hookResidPre(layer), first + t), attn = clean.vector(HookNames.hookAttnOut(layer), first + t);
            for (int i = 0; i < d; i++) {
                in[n + m][i] = (double) pre[i] + attn[i];
                in[m][i] = in[n + m][i] + delta[t][i];
            }
        }
        double[][] out = mlp(layer).out(in);
        for (int m = 0; m < n; m++) {
            double[] dt = delta[moved.get(m)], a = out[m], b = out[n + m];
            for (int i = 0; i < d; i++) dt[i] += a[i] - b[i];
        }
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
