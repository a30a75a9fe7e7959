package org.milab.planted;

import org.milab.model.Gpt2Tensors;
import org.milab.model.InMemoryCheckpoint;
import org.milab.model.ModelConfig;
import org.milab.planted.GroundTruth.HeadTruth;
import org.milab.planted.GroundTruth.Role;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * A second planted behaviour, "successor of the induced token", whose circuit crosses two heads and an MLP: the
 * default induction layout with the induction head's output moved from the output subspace to an intermediate one
 * ({@link #MID}), and the last layer's MLP (widened to {@value #N_INNER} neurons) mapping the intermediate one-hot
 * of token t to the output one-hot of {@link #successor}(t). So on {@code r + r[:-1]} the model predicts
 * {@code successor(r[n-1])}. Circuit: input -> previous-token head &lt;v&gt;, previous-token head -> induction head
 * &lt;k&gt;, input -> induction head &lt;v&gt;, induction head -> m{last}, m{last} -> logits.
 *
 * <p>Neuron t reads MID + t with weight {@link #FC_WEIGHT} and bias {@link #FC_BIAS}: after ln_2 a designed entry is
 * about 19.6 (four entries of EMBED in the residual), so the neuron is at about +9.6 when token t was copied and
 * about -10 (GELU ~ 0) otherwise; it writes {@link #PROJ_GAIN} x that into OUT + successor(t), about one EMBED.
 */
public final class PlantedSuccessorModel {
    private PlantedSuccessorModel() {}

    public static final String MODEL_ID = "planted-successor";
    /** Intermediate subspace the induction head writes to (empty in the induction model). */
    public static final int MID = 768;
    public static final int N_INNER = PlantedInductionModel.MAX_VOCAB;
    static final double FC_WEIGHT = 1, FC_BIAS = -10, PROJ_GAIN = PlantedInductionModel.EMBED / 9.6;

    /** The successor of an ordinary token id: the next id ({@link #hasSuccessor} says for which ids there is one). */
    public static int successor(int id) {
        return id + 1;
    }

    /** True for ids whose successor is an ordinary word (not the last word, not unk or BOS). */
    public static boolean hasSuccessor(int id, int vocabSize) {
        return id >= 0 && id + 1 < vocabSize - 2; // the vocabulary ends with <unk>, BOS
    }

    public static Planted build(long seed, double noiseStd) {
        PlantedSpec spec = new PlantedSpec(PlantedLayout.defaults(), seed, noiseStd);
        Planted base = PlantedInductionModel.build(spec);
        InMemoryCheckpoint ck = base.checkpoint();
        ModelConfig c0 = ck.config();
        ModelConfig cfg = new ModelConfig(c0.nLayer(), c0.nHead(), c0.dModel(), c0.vocabSize(), c0.nPositions(),
                c0.layerNormEpsilon(), c0.activation(), c0.tiedEmbeddings(), N_INNER);
        int d = cfg.dModel(), v = cfg.vocabSize(), last = cfg.nLayer() - 1;
        Map<String, float[]> w = new LinkedHashMap<>();
        for (String name : Gpt2Tensors.expectedShapes(cfg).keySet()) w.put(name, ck.array(name));
        Random noise = new Random(seed * 0x9E3779B97F4A7C15L + 3);
        for (int l = 0; l < cfg.nLayer(); l++) { // the widened MLPs: designed in the last layer, noise everywhere
            float[] fcW = new float[d * N_INNER], fcB = new float[N_INNER], pW = new float[N_INNER * d], pB = new float[d];
            if (l == last)
                for (int t = 0; t < v; t++) {
                    if (!hasSuccessor(t, v)) continue;
                    fcW[(MID + t) * N_INNER + t] = (float) FC_WEIGHT;
                    fcB[t] = (float) FC_BIAS;
                    pW[t * d + PlantedInductionModel.OUT + successor(t)] = (float) PROJ_GAIN;
                }
            for (float[] a : List.of(fcW, fcB, pW, pB))
                for (int i = 0; i < a.length; i++) a[i] = (float) (a[i] + noiseStd * noise.nextGaussian());
            w.put(Gpt2Tensors.fcW(l), fcW);
            w.put(Gpt2Tensors.fcB(l), fcB);
            w.put(Gpt2Tensors.mlpProjW(l), pW);
            w.put(Gpt2Tensors.mlpProjB(l), pB);
        }
        // the induction head writes the copied token to MID instead of OUT: swap the two output column blocks
        HeadTruth ind = base.groundTruth().head(Role.INDUCTION);
        float[] proj = w.get(Gpt2Tensors.projW(ind.layer()));
        int dh = cfg.dHead();
        for (int r = ind.head() * dh; r < (ind.head() + 1) * dh; r++)
            for (int j = 0; j < dh; j++) {
                int a = r * d + PlantedInductionModel.OUT + j, b = r * d + MID + j;
                float tmp = proj[a];
                proj[a] = proj[b];
                proj[b] = tmp;
            }
        GroundTruth truth = base.groundTruth().withModel(MODEL_ID);
        return new Planted(spec, new InMemoryCheckpoint(cfg, w), base.vocabulary(), base.tokenizerJson(), truth);
    }

    /** Nodes and edges of the successor circuit (MIB naming), for the manifest; grading only. */
    public static Map<String, Object> edgeTruth(GroundTruth t) {
        String prev = EdgeTruth.name(t.head(Role.PREVIOUS_TOKEN)), ind = EdgeTruth.name(t.head(Role.INDUCTION));
        String mlp = "m" + (t.layers() - 1);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("behaviour", "successor of the induced token: on r + r[:-1] the answer is successor(r[n-1]) = the next token id; "
                + ind + " copies r[n-1] into an intermediate subspace, " + mlp + " maps it to its successor's output direction");
        m.put("nodes", List.of("input", prev, ind, mlp, "logits"));
        m.put("edges", List.of("input->" + prev + "<v>", prev + "->" + ind + "<k>", "input->" + ind + "<v>", ind + "->" + mlp,
                mlp + "->logits"));
        m.put("edges_note", "edges carrying the clean/corrupt difference of the built-in successor task (clean r + r[:-1], "
                + "corrupt s + r[:-1]); structural_only_edges belong to the mechanism but carry identical values in both prompts");
        m.put("structural_only_edges", new ArrayList<>(EdgeTruth.structuralOnly(t)));
        return m;
    }
}
