package org.milab.circuit;

import org.milab.model.Checkpoint;
import org.milab.model.Gpt2Tensors;
import org.milab.model.ModelConfig;
import org.milab.model.ReferenceGpt2;

/**
 * An independent edge-patched GPT-2 forward pass in plain Java (double accumulation, loops): the corrupt run's
 * node outputs come from {@link ReferenceGpt2}; then every head's q/k/v input, every MLP input and the logits
 * input is summed edge by edge, taking the corrupt output where the mask is 0 and this run's where it is 1.
 * Shares no code with the ONNX graph builder; meant for tiny models in tests.
 */
final class EdgeReference {
    private final ModelConfig c;
    private final Checkpoint ckpt;
    private final ReferenceGpt2 plain;

    EdgeReference(Checkpoint ckpt) {
        this.ckpt = ckpt;
        this.c = ckpt.config();
        this.plain = new ReferenceGpt2(ckpt);
    }

    /** Upstream node outputs [node][pos][d] of the plain run of {@code ids}. */
    double[][][] nodeOutputs(int[] ids) {
        ReferenceGpt2.Trace t = plain.run(ids);
        int T = ids.length, d = c.dModel(), H = c.nHead(), dh = c.dHead();
        double[][][] out = new double[1 + c.nLayer() * (H + 1)][T][d];
        out[0] = t.residPre()[0];
        for (int l = 0; l < c.nLayer(); l++) {
            float[] wo = ckpt.array(Gpt2Tensors.projW(l));
            for (int h = 0; h < H; h++)
                for (int p = 0; p < T; p++)
                    for (int i = 0; i < dh; i++)
                        for (int o = 0; o < d; o++) out[1 + l * (H + 1) + h][p][o] += t.z()[l][p][h][i] * wo[(h * dh + i) * d + o];
            for (int p = 0; p < T; p++)
                for (int o = 0; o < d; o++)
                    out[1 + l * (H + 1) + H][p][o] = t.residPost()[l][p][o] - t.residPre()[l][p][o] - t.attnOut()[l][p][o];
        }
        return out;
    }

    /** Centred final-position logits of {@code clean} with the given per-edge mask ({@link CircuitEdges} order). */
    double[] logits(int[] clean, int[] corrupt, double[] mask, CircuitEdges edges) {
        double[][][] cor = nodeOutputs(corrupt);
        int T = clean.length, d = c.dModel(), H = c.nHead(), dh = c.dHead(), L = c.nLayer();
        double[][][] out = new double[cor.length][][];
        float[] wte = ckpt.array(Gpt2Tensors.WTE), wpe = ckpt.array(Gpt2Tensors.WPE);
        out[0] = new double[T][d];
        for (int p = 0; p < T; p++) for (int i = 0; i < d; i++) out[0][p][i] = (double) wte[clean[p] * d + i] + wpe[p * d + i];
        double[] bias = new double[d];
        int e = 0;
        for (int l = 0; l < L; l++) {
            int n = 1 + l * (H + 1);
            float[] w = ckpt.array(Gpt2Tensors.attnW(l)), b = ckpt.array(Gpt2Tensors.attnB(l)), wo = ckpt.array(Gpt2Tensors.projW(l));
            double[][][][] qkv = new double[3][H][T][dh];
            for (int which = 0; which < 3; which++)
                for (int h = 0; h < H; h++) {
                    double[][] in = sum(out, cor, mask, e, n, T, bias);
                    e += n;
                    for (int p = 0; p < T; p++) {
                        double[] x = layerNorm(in[p], ckpt.array(Gpt2Tensors.ln1W(l)), ckpt.array(Gpt2Tensors.ln1B(l)));
                        for (int j = 0; j < dh; j++) {
                            int col = which * d + h * dh + j;
                            double acc = b[col];
                            for (int r = 0; r < d; r++) acc += x[r] * w[r * 3 * d + col];
                            qkv[which][h][p][j] = acc;
                        }
                    }
                }
            for (int h = 0; h < H; h++) {
                double[][] head = new double[T][d];
                for (int q = 0; q < T; q++) {
                    double[] s = new double[q + 1];
                    double max = Double.NEGATIVE_INFINITY, z = 0;
                    for (int k = 0; k <= q; k++) {
                        for (int j = 0; j < dh; j++) s[k] += qkv[0][h][q][j] * qkv[1][h][k][j];
                        s[k] /= Math.sqrt(dh);
                        max = Math.max(max, s[k]);
                    }
                    for (int k = 0; k <= q; k++) z += s[k] = Math.exp(s[k] - max);
                    for (int j = 0; j < dh; j++) {
                        double zj = 0;
                        for (int k = 0; k <= q; k++) zj += s[k] / z * qkv[2][h][k][j];
                        for (int o = 0; o < d; o++) head[q][o] += zj * wo[(h * dh + j) * d + o];
                    }
                }
                out[n + h] = head;
            }
            float[] bo = ckpt.array(Gpt2Tensors.projB(l));
            for (int i = 0; i < d; i++) bias[i] += bo[i];
            double[][] in = sum(out, cor, mask, e, n + H, T, bias);
            e += n + H;
            double[][] mlp = new double[T][];
            for (int p = 0; p < T; p++) {
                double[] x = layerNorm(in[p], ckpt.array(Gpt2Tensors.ln2W(l)), ckpt.array(Gpt2Tensors.ln2B(l)));
                double[] hid = affine(x, ckpt.array(Gpt2Tensors.fcW(l)), ckpt.array(Gpt2Tensors.fcB(l)), c.dMlp());
                for (int i = 0; i < hid.length; i++)
                    hid[i] = 0.5 * hid[i] * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (hid[i] + 0.044715 * Math.pow(hid[i], 3))));
                mlp[p] = affine(hid, ckpt.array(Gpt2Tensors.mlpProjW(l)), ckpt.array(Gpt2Tensors.mlpProjB(l)), d);
            }
            out[n + H] = mlp;
        }
        double[][] fin = sum(out, cor, mask, e, out.length, T, bias);
        double[] x = layerNorm(fin[T - 1], ckpt.array(Gpt2Tensors.LN_F_W), ckpt.array(Gpt2Tensors.LN_F_B));
        float[] u = ckpt.array(c.tiedEmbeddings() ? Gpt2Tensors.WTE : Gpt2Tensors.LM_HEAD);
        double[] logits = new double[c.vocabSize()];
        double mean = 0;
        for (int v = 0; v < logits.length; v++) {
            for (int i = 0; i < d; i++) logits[v] += x[i] * u[v * d + i];
            mean += logits[v] / logits.length;
        }
        for (int v = 0; v < logits.length; v++) logits[v] -= mean;
        return logits;
    }

    /** sum over the first n upstream nodes of mask * this run + (1 - mask) * corrupt, plus the b_O so far. */
    private static double[][] sum(double[][][] out, double[][][] cor, double[] mask, int first, int n, int T, double[] bias) {
        int d = bias.length;
        double[][] in = new double[T][d];
        for (int p = 0; p < T; p++) {
            System.arraycopy(bias, 0, in[p], 0, d);
            for (int u = 0; u < n; u++) {
                double m = mask[first + u];
                for (int i = 0; i < d; i++) in[p][i] += m * out[u][p][i] + (1 - m) * cor[u][p][i];
            }
        }
        return in;
    }

    private double[] layerNorm(double[] x, float[] w, float[] b) {
        double mean = 0, var = 0;
        for (double v : x) mean += v / x.length;
        for (double v : x) var += (v - mean) * (v - mean) / x.length;
        double inv = 1 / Math.sqrt(var + c.layerNormEpsilon());
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) y[i] = (x[i] - mean) * inv * w[i] + b[i];
        return y;
    }

    private static double[] affine(double[] x, float[] w, float[] b, int outDim) {
        double[] y = new double[outDim];
        for (int o = 0; o < outDim; o++) y[o] = b[o];
        for (int i = 0; i < x.length; i++) for (int o = 0; o < outDim; o++) y[o] += x[i] * w[i * outDim + o];
        return y;
    }
}
