package org.milab.engine;

import org.milab.graph.Head;
import org.milab.graph.HookNames;
import org.milab.model.Checkpoint;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Path patching from a sender head into ONE receiver head's queries (Q-composition), keys (K-composition) or values
 * (V-composition): the sender's change of the residual is carried through the MLPs in between exactly as in
 * {@link KeyPathPatch}, but only the receiver's chosen input is recomputed from it; its other inputs and every other
 * head see the clean run.
 *
 * <p>Why a hook_z patch: with keys and values clean, the receiver's output at query t is
 * {@code softmax(q_t . k / sqrt(d_head)) v}; with queries and values clean it is the same with the new keys; with
 * queries and keys clean the pattern is unchanged and the output is {@code A v}. So the receiver's new hook_z follows on
 * the host from the clean capture's keys, values and pattern, and the rest of the forward pass is an ordinary
 * {@code patch_z} row, which the engine's cached path recomputes from the receiver's block only (a patch_k row runs the
 * whole model). The new z is written as {@code z_clean + f(new input) - f(clean input)}, both f terms computed here in
 * double: a position the sender does not reach keeps the graph's own z bit for bit. {@link KeyPathPatch}'s patch_k
 * rows remain the independent check of the key path (QueryValuePathPatchTest).
 */
public final class QueryValuePathPatch {
    /** Which input of the receiver the sender's changed output is routed into. */
    public enum Input {
        QUERY(0), KEY(1), VALUE(2);

        private final int part;

        Input(int part) {
            this.part = part;
        }
    }

    private final KeyPathPatch path;
    private final Checkpoint weights;

    /** Shares {@code keys}' MLP passes: a sender's change carried for its key paths serves its query and value paths. */
    public QueryValuePathPatch(KeyPathPatch keys) {
        this.weights = keys.weights();
        this.path = keys;
    }

    /** The hooks a clean capture must hold for {@link #receiverZ}: the key path's, plus the receiver layer's z, k, v, pattern. */
    public static List<String> hooksNeeded(Head sender, Head receiver) {
        List<String> out = new ArrayList<>(KeyPathPatch.hooksNeeded(sender, receiver));
        int l = receiver.layer();
        out.addAll(List.of(HookNames.hookZ(l), HookNames.hookK(l), HookNames.hookV(l), HookNames.hookPattern(l)));
        return out;
    }

    /**
     * Each receiver's hook_z at every position >= 1 of {@code clean}'s prompt when the sender's z is
     * {@code senderZ[pos]} on the path into the receiver's {@code input} only (BOS, position 0, is never patched:
     * nothing before it can change it).
     */
    public Map<Head, List<SitePatch>> receiverZ(Capture clean, Head sender, float[][] senderZ, List<Head> receivers, Input input) {
        return receiverZ(clean, sender, senderZ, receivers).get(input);
    }

    /**
     * {@link #receiverZ(Capture, Head, float[][], List, Input)} for both inputs at once: the sender's change is carried
     * through each MLP once per position and read off at every receiver's layer (the MLP passes are the costly part
     * on GPT-2-sized models, as in {@link KeyPathPatch#receiverKeys(Capture, Head, float[][], List)}).
     */
    public Map<Input, Map<Head, List<SitePatch>>> receiverZ(Capture clean, Head sender, float[][] senderZ, List<Head> receivers) {
        for (Head r : receivers)
            if (sender.layer() >= r.layer())
                throw new IllegalArgumentException("sender " + sender + " must sit in an earlier layer than receiver " + r);
        int T = clean.prompt().length(), d = weights.config().dModel();
        int top = receivers.stream().mapToInt(Head::layer).max().orElse(sender.layer());
        double[][][] carried = path.carried(clean, sender, senderZ, top);
        // per receiver, input and position: the receiver's query / key / value, clean and on the path, recomputed here
        int inputs = Input.values().length;
        Map<Head, double[][][]> before = new LinkedHashMap<>(), after = new LinkedHashMap<>();
        for (Head r : receivers) {
            before.put(r, new double[inputs][T][]);
            after.put(r, new double[inputs][T][]);
        }
        for (int t = 0; t < T; t++) {
            for (int l = sender.layer() + 1; l <= top; l++) {
                double[] delta = carried[l][t];
                for (Head r : receivers) {
                    if (r.layer() != l) continue;
                    float[] resid = clean.vector(HookNames.hookResidPre(l), t);
                    double[] x0 = new double[d], x = new double[d];
                    for (int i = 0; i < d; i++) {
                        x0[i] = resid[i];
                        x[i] = x0[i] + delta[i];
                    }
                    boolean moved = !java.util.Arrays.equals(x, x0);
                    for (Input in : Input.values()) {
                        before.get(r)[in.ordinal()][t] = path.project(x0, r, in.part);
                        after.get(r)[in.ordinal()][t] = moved ? path.project(x, r, in.part) : before.get(r)[in.ordinal()][t];
                    }
                }
            }
        }
        Map<Input, Map<Head, List<SitePatch>>> out = new java.util.EnumMap<>(Input.class);
        for (Input in : Input.values()) {
            Map<Head, List<SitePatch>> byReceiver = new LinkedHashMap<>();
            for (Head r : receivers) {
                double[][] b = before.get(r)[in.ordinal()], a = after.get(r)[in.ordinal()];
                double[][] q = before.get(r)[Input.QUERY.ordinal()];
                List<SitePatch> z = new ArrayList<>(T - 1);
                for (int t = 1; t < T; t++) {
                    double[] change = switch (in) {
                        case QUERY -> queryChange(clean, r, t, b[t], a[t]);
                        case KEY -> keyChange(clean, r, t, q[t], b, a);
                        case VALUE -> valueChange(clean, r, t, b, a);
                    };
                    float[] zc = clean.z(r.layer(), t, r.head());
                    float[] zn = new float[zc.length];
                    for (int j = 0; j < zc.length; j++) zn[j] = change[j] == 0 ? zc[j] : (float) (zc[j] + change[j]);
                    z.add(new SitePatch(r.layer(), t, r.head(), zn));
                }
                byReceiver.put(r, z);
            }
            out.put(in, byReceiver);
        }
        return out;
    }

    /** f(q_new) - f(q_old) with f(q) = softmax_j(q . k_j / sqrt(d_head)) v_j over keys j <= t of the clean run. */
    private double[] queryChange(Capture clean, Head r, int t, double[] qOld, double[] qNew) {
        int dh = qOld.length;
        if (java.util.Arrays.equals(qOld, qNew)) return new double[dh];
        double[] a = attend(clean, r, t, qNew), b = attend(clean, r, t, qOld);
        for (int j = 0; j < dh; j++) a[j] -= b[j];
        return a;
    }

    /**
     * f(K_new) - f(K_old) with f(K) = softmax_j(q_t . k_j / sqrt(d_head)) v_j over keys j <= t, q_t the clean query
     * (recomputed here, as the keys) and v the clean run's values: zero when no key up to t moved.
     */
    private double[] keyChange(Capture clean, Head r, int t, double[] q, double[][] kOld, double[][] kNew) {
        boolean moved = false;
        for (int j = 0; j <= t; j++) moved |= kOld[j] != kNew[j];
        if (!moved) return new double[q.length];
        double[] a = attend(clean, r, t, q, j -> kNew[j]), b = attend(clean, r, t, q, j -> kOld[j]);
        for (int j = 0; j < a.length; j++) a[j] -= b[j];
        return a;
    }

    /** softmax_j(q . k_j / sqrt(d_head)) v_j over j <= t, the clean run's keys and values. */
    private double[] attend(Capture clean, Head r, int t, double[] q) {
        return attend(clean, r, t, q, j -> widen(headVector(clean, HookNames.hookK(r.layer()), j, r.head())));
    }

    private static double[] widen(float[] f) {
        double[] out = new double[f.length];
        for (int i = 0; i < f.length; i++) out[i] = f[i];
        return out;
    }

    /** softmax_j(q . key(j) / sqrt(d_head)) v_j over j <= t, the clean run's values. */
    private double[] attend(Capture clean, Head r, int t, double[] q, java.util.function.IntFunction<double[]> key) {
        int dh = q.length;
        double[] s = new double[t + 1];
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j <= t; j++) {
            double[] k = key.apply(j);
            double dot = 0;
            for (int i = 0; i < dh; i++) dot += q[i] * k[i];
            s[j] = dot / Math.sqrt(dh);
            max = Math.max(max, s[j]);
        }
        double sum = 0;
        for (int j = 0; j <= t; j++) sum += s[j] = Math.exp(s[j] - max);
        double[] z = new double[dh];
        for (int j = 0; j <= t; j++) {
            float[] v = headVector(clean, HookNames.hookV(r.layer()), j, r.head());
            for (int i = 0; i < dh; i++) z[i] += s[j] / sum * v[i];
        }
        return z;
    }

    /** sum_j A[t, j] (v_new[j] - v_old[j]) with the clean run's pattern A (queries and keys are clean). */
    private static double[] valueChange(Capture clean, Head r, int t, double[][] vOld, double[][] vNew) {
        double[] z = new double[vOld[0].length];
        for (int j = 0; j <= t; j++) {
            if (vOld[j] == vNew[j]) continue;
            double a = clean.pattern(r.layer(), r.head(), t, j);
            for (int i = 0; i < z.length; i++) z[i] += a * (vNew[j][i] - vOld[j][i]);
        }
        return z;
    }

    /** One head's d_head vector of a [pos, head, d_head] hook at one position. */
    private static float[] headVector(Capture c, String hook, int position, int head) {
        long[] s = c.shapes().get(hook);
        int heads = (int) s[1], dh = (int) s[2];
        float[] out = new float[dh];
        System.arraycopy(c.hook(hook), (position * heads + head) * dh, out, 0, dh);
        return out;
    }

}
