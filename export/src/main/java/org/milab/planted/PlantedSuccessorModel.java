package org.milab.planted;

import org.milab.model.Gpt2Tensors;
import org.milab.model.InMemoryCheckpoint;
import org.milab.model.ModelConfig;
import org.milab.planted.GroundTruth.HeadTruth;
import org.milab.planted.GroundTruth.Role;
import org.milab.util.UserError;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * A second planted behaviour, "successor of the induced token", whose circuit crosses two heads and an MLP: an
 * induction layout ({@link PlantedLayout}) with every copying head's output (the induction head's and a parallel
 * backup's) moved from the output subspace to an intermediate one ({@link #MID}), and the last layer's MLP (widened
 * to {@value #N_INNER} neurons) mapping the intermediate one-hot of token t to the output one-hot of
 * {@link #successor}(t). So on {@code r + r[:-1]} the model predicts {@code successor(r[n-1])}. Circuit: input ->
 * previous-token head &lt;v&gt;, previous-token head -> each copying head &lt;k&gt;, input -> each copying head
 * &lt;v&gt;, each copying head -> m{last}, m{last} -> logits.
 *
 * <p>Neuron t reads MID + t with weight {@link #FC_WEIGHT} and bias {@link #FC_BIAS}: after ln_2 a designed entry is
 * about 19.6 (four entries of EMBED in the residual), so the neuron is at about +9.6 when token t was copied and
 * about -10 (GELU ~ 0) otherwise; it writes {@link #PROJ_GAIN} x that into OUT + successor(t), about one EMBED. With
 * a backup of gain g the copied entry is (1 + g) EMBED, about 25.7 after ln_2 for g = 0.5: the neuron fires harder
 * and the answer still wins.
 *
 * <p>Layouts with a negative or a reactive backup head are refused ({@link #requireSupported}): their mechanisms read
 * or subtract the answer in the output subspace, and moving that to {@link #MID} is a different construction.
 *
 * <p>Model names: {@code planted-successor} takes any supported {@code --planted-layout} (default: the default
 * layout), {@code planted-successor-<preset>} is that preset, any other {@code planted-successor-<name>} needs the
 * option ({@link #layoutForModel}), mirroring {@link PlantedLayout#forModel} for the induction behaviour.
 */
public final class PlantedSuccessorModel {
    private PlantedSuccessorModel() {}

    public static final String MODEL_ID = "planted-successor";
    /** Intermediate subspace the copying heads write to (empty in the induction model). */
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

    /** True for the names the successor behaviour exports under: planted-successor and planted-successor-{name}. */
    public static boolean isSuccessorModel(String modelId) {
        return modelId.equals(MODEL_ID) || modelId.startsWith(MODEL_ID + "-");
    }

    /** The model name a layout exports under by default: planted-successor for the default, planted-successor-{name} otherwise. */
    public static String modelId(PlantedLayout layout) {
        return layout.name().equals(PlantedLayout.DEFAULT) ? MODEL_ID : MODEL_ID + "-" + layout.name();
    }

    /**
     * The layout {@code make export MODEL=<modelId> [--planted-layout <option>]} builds for the successor behaviour:
     * planted-successor takes any supported layout (default: the default preset); planted-successor-{preset} is that
     * preset (an option must agree); any other planted-successor-{name} needs the option.
     */
    public static PlantedLayout layoutForModel(String modelId, String option) {
        if (!isSuccessorModel(modelId)) throw new IllegalArgumentException(modelId + " is not a planted-successor model name");
        PlantedLayout given = option == null || option.isBlank() ? null : PlantedLayout.parse(option);
        PlantedLayout layout;
        if (modelId.equals(MODEL_ID)) layout = given != null ? given : PlantedLayout.defaults();
        else {
            String named = modelId.substring(MODEL_ID.length() + 1);
            if (PlantedLayout.PRESETS.containsKey(named)) {
                if (given != null && !given.name().equals(named))
                    throw new UserError("MODEL=" + modelId + " names the '" + named + "' preset but --planted-layout gives "
                            + given.spec() + ".", "Drop --planted-layout, or choose another MODEL name such as " + MODEL_ID + "-mine.");
                layout = PlantedLayout.preset(named);
            } else if (given == null)
                throw new UserError("MODEL=" + modelId + " is not " + MODEL_ID + " or " + MODEL_ID + "-<preset> and no "
                        + "--planted-layout was given.", "Add ARGS=\"--planted-layout '<preset or spec>'\" (presets: "
                        + String.join(", ", PlantedLayout.PRESETS.keySet().stream().filter(p -> supported(PlantedLayout.preset(p))).toList()) + ").");
            else layout = given;
        }
        requireSupported(layout, modelId);
        return layout;
    }

    /** True for the layouts the successor construction covers: no negative and no reactive backup head. */
    public static boolean supported(PlantedLayout layout) {
        return layout.negative() == null && layout.reactive() == null;
    }

    /** Refuses a layout the successor construction does not cover (a negative or a reactive backup head). */
    public static void requireSupported(PlantedLayout layout, String modelId) {
        String head = layout.negative() != null ? "a negative head (negative=" + layout.negative().at() + ")"
                : layout.reactive() != null ? "a reactive backup head (reactive=" + layout.reactive().at() + ")" : null;
        if (head != null)
            throw new UserError("MODEL=" + modelId + ": the successor behaviour is not built on layouts with " + head
                    + "; layout '" + layout.name() + "' has one.",
                    "Use a layout with prev, induction, an optional parallel backup and the decoys (presets default, "
                            + "backup, deep3, or such a spec), or MODEL=planted-induction for the induction behaviour.");
    }

    /** The default layout with this seed and noise (bit-identical to {@code build(new PlantedSpec(seed, noiseStd))}). */
    public static Planted build(long seed, double noiseStd) {
        return build(new PlantedSpec(seed, noiseStd));
    }

    /** The successor behaviour on {@code spec}'s layout, exported under {@link #modelId(PlantedLayout)}. */
    public static Planted build(PlantedSpec spec) {
        requireSupported(spec.layout(), modelId(spec.layout()));
        long seed = spec.seed();
        double noiseStd = spec.noiseStd();
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
        // every copying head writes the copied token to MID instead of OUT: swap the two output column blocks
        int dh = cfg.dHead();
        for (HeadTruth h : EdgeTruth.copiers(base.groundTruth())) {
            float[] proj = w.get(Gpt2Tensors.projW(h.layer()));
            for (int r = h.head() * dh; r < (h.head() + 1) * dh; r++)
                for (int j = 0; j < dh; j++) {
                    int a = r * d + PlantedInductionModel.OUT + j, b = r * d + MID + j;
                    float tmp = proj[a];
                    proj[a] = proj[b];
                    proj[b] = tmp;
                }
        }
        GroundTruth truth = base.groundTruth().withModel(modelId(spec.layout()));
        return new Planted(spec, new InMemoryCheckpoint(cfg, w), base.vocabulary(), base.tokenizerJson(), truth);
    }

    /**
     * Nodes and edges of the successor circuit (MIB naming) on the ground truth's layout, for the manifest; grading
     * only. Every copying head (induction, parallel backup) contributes prev -> it &lt;k&gt;, input -> it &lt;v&gt;
     * and it -> m{last}.
     */
    public static Map<String, Object> edgeTruth(GroundTruth t) {
        String prev = EdgeTruth.name(t.head(Role.PREVIOUS_TOKEN)), mlp = "m" + (t.layers() - 1);
        List<String> copiers = EdgeTruth.copiers(t).stream().map(EdgeTruth::name).toList();
        List<String> edges = new ArrayList<>(List.of("input->" + prev + "<v>"));
        for (String c : copiers) edges.addAll(List.of(prev + "->" + c + "<k>", "input->" + c + "<v>", c + "->" + mlp));
        edges.add(mlp + "->logits");
        List<String> nodes = new ArrayList<>(EdgeTruth.nodes(t));
        nodes.add(nodes.size() - 1, mlp);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("behaviour", "successor of the induced token: on r + r[:-1] the answer is successor(r[n-1]) = the next token id; "
                + String.join(" and ", copiers) + (copiers.size() == 1 ? " copies" : " copy") + " r[n-1] into an intermediate subspace, " + mlp
                + " maps it to its successor's output direction");
        m.put("nodes", nodes);
        m.put("edges", edges);
        m.put("edges_note", "edges carrying the clean/corrupt difference of the built-in successor task (clean r + r[:-1], "
                + "corrupt s + r[:-1]); structural_only_edges belong to the mechanism but carry identical values in both prompts");
        m.put("structural_only_edges", new ArrayList<>(EdgeTruth.structuralOnly(t)));
        return m;
    }
}
