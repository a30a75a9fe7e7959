package org.milab.planted;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Locale;
import org.milab.util.Json;

/**
 * What the planted model is built to do, head by head: the answer key a mechanistic-interpretability
 * pipeline is graded against. Serialises to {@code ground_truth.json} and renders {@code MODEL.md}.
 *
 * @param model      the lab's model id
 * @param seed       {@link PlantedSpec#seed()}
 * @param noiseStd   {@link PlantedSpec#noiseStd()}
 * @param answerHead the main induction head, whose final-position {@code hook_z} carries the answer (with the
 *                   backup head's, when there is one)
 * @param constants  the construction's numbers
 * @param heads      every head of the model, in (layer, head) order
 * @param preset     the layout's preset name, or "custom" (see {@link PlantedLayout})
 * @param layout     the layout's canonical spec string ({@link PlantedLayout#spec()})
 * @param layers     number of layers
 */
public record GroundTruth(String model, long seed, double noiseStd, String answerHead, Constants constants,
                          List<HeadTruth> heads, String preset, String layout, int layers) {

    public enum Role {
        PREVIOUS_TOKEN, ATTENTION_SINK, INDUCTION, DUPLICATE_TOKEN_NULL_OV, FREQUENCY, NOISE,
        /** An induction head like {@link #INDUCTION} whose OV writes the answer with a gain below 1. */
        BACKUP_INDUCTION,
        /**
         * Induction attention like {@link #INDUCTION}, but its OV writes MINUS the attended token with a gain below
         * 1: it lowers the answer (anti-induction / copy suppression); part of the circuit, working against it.
         */
        NEGATIVE_COPY
    }

    /**
     * @param name      "L{layer}H{head}", as the reference reports heads
     * @param inCircuit true when the induction answer flows through this head
     * @param fools     the false-positive test this head is built to trip, or "" for circuit heads
     * @param mechanism how the weights make it behave
     * @param ovGain    what a fully attended token's designed OV path writes, in units of the embedding scale:
     *                  1 for the previous-token and main induction heads, the backup's gain (below 1), minus the
     *                  negative head's suppression gain, the
     *                  frequency head's total mass; 0 for the null-OV heads and the noise heads (random OV)
     */
    public record HeadTruth(int layer, int head, String name, Role role, boolean inCircuit, String fools,
                            String mechanism, double ovGain) {}

    /**
     * Residual layout and the constants of the construction (see {@link PlantedInductionModel}).
     * {@code layerNormK} holds, per layer, the number of non-zero residual entries its first LayerNorm is
     * built for (the unembedding's ln_f: 4).
     */
    public record Constants(int dModel, int nHead, int dHead, int nLayer, int nPositions, int vocabSize,
                            int tokenOffset, int previousTokenOffset, int outputOffset, int positionOffset,
                            double embedScale, double previousTokenScore, double sinkScore, double matchScore,
                            double bosDefaultScore, double nullValueGain, double frequencyGain,
                            double unembedGain, double noiseHeadQkStd, double noiseHeadOvStd,
                            List<Integer> layerNormK) {}

    private static final ObjectMapper MAPPER = Json.MAPPER;

    public List<HeadTruth> heads(Role role) {
        return heads.stream().filter(h -> h.role() == role).toList();
    }

    /** The single head with {@code role}; fails when there is not exactly one. */
    public HeadTruth head(Role role) {
        List<HeadTruth> found = heads(role);
        if (found.size() != 1) throw new IllegalStateException(found.size() + " heads with role " + role);
        return found.get(0);
    }

    /** The backup induction head, when the layout has one. */
    public Optional<HeadTruth> backup() {
        List<HeadTruth> found = heads(Role.BACKUP_INDUCTION);
        if (found.size() > 1) throw new IllegalStateException(found.size() + " backup induction heads");
        return found.stream().findFirst();
    }

    /** The same truth under another model name (the folder a layout is exported to). */
    public GroundTruth withModel(String id) {
        return new GroundTruth(id, seed, noiseStd, answerHead, constants, heads, preset, layout, layers);
    }

    public String toJson() {
        try {
            return MAPPER.writeValueAsString(this) + "\n";
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("Cannot serialise the ground truth", e);
        }
    }

    public static GroundTruth fromJson(String json) {
        try {
            return MAPPER.readValue(json, GroundTruth.class);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("Not a planted-model ground truth: " + e.getOriginalMessage(), e);
        }
    }

    /** The {@code MODEL.md} text: what the model is, its layout, its heads and what a pipeline should find. */
    public String toMarkdown() {
        Constants c = constants;
        HeadTruth prev = head(Role.PREVIOUS_TOKEN), induction = head(Role.INDUCTION), dup = head(Role.DUPLICATE_TOKEN_NULL_OV);
        HeadTruth freq = head(Role.FREQUENCY), sink = head(Role.ATTENTION_SINK);
        Optional<HeadTruth> backup = backup();
        String writers = induction.name() + (backup.map(b -> ", " + b.name()).orElse("")) + " (induction) and "
                + freq.name() + " (frequency); read by `lm_head`";
        StringBuilder md = new StringBuilder();
        md.append("# ").append(model).append(": a hand-built induction circuit\n\n")
          .append("A GPT-2-architecture checkpoint whose weights were written by hand, not trained, so that its\n")
          .append("induction circuit is known exactly. It is a positive control for pipelines that patch single\n")
          .append("heads' `hook_z`: a sound pipeline must find **").append(answerHead).append("**")
          .append(backup.map(b -> " and its weaker backup **" + b.name() + "**").orElse(""))
          .append(" and must not be\nfooled by the decoy heads below.\n\n")
          .append("Layout `").append(preset).append("`: `").append(layout).append("`.\n")
          .append(String.format(Locale.ROOT, "Seed %d, weight noise std %s (a seeded Gaussian added to every weight, "
                  + "including the zeros).%n%n", seed, fmt(noiseStd)))
          .append("## Shape\n\n")
          .append(String.format(Locale.ROOT, "%d layers, %d heads of width %d, d_model %d, %d positions, %d word-level "
                  + "tokens (every word of the reference prompt families, `<unk>`, `<|endoftext|>` as BOS). MLPs are "
                  + "zero; the unembedding `lm_head.weight` is untied (`tie_word_embeddings: false`).%n%n",
                  c.nLayer(), c.nHead(), c.dHead(), c.dModel(), c.nPositions(), c.vocabSize()))
          .append("## Residual stream\n\n")
          .append("| dims | content | written by |\n|---|---|---|\n")
          .append(row(c.tokenOffset(), c.vocabSize(), "one-hot of the current token", "`wte` (value " + fmt(c.embedScale()) + ")"))
          .append(row(c.previousTokenOffset(), c.vocabSize(), "one-hot of the previous token", prev.name() + " (previous-token head)"))
          .append(row(c.outputOffset(), c.vocabSize(), "one-hot of the predicted token", writers))
          .append(row(c.positionOffset(), c.nPositions(), "one-hot of the position", "`wpe` (value " + fmt(c.embedScale()) + ")"))
          .append("\nEvery LayerNorm sees a vector with k equal non-zero entries (").append(kList())
          .append("),\nso with weight 1 and bias sqrt(k/(d-k)) it is exactly a fixed rescaling there:\n")
          .append("LN(x) = G_k * x / embed with G_k = d / sqrt(k (d-k)) (").append(gains())
          .append("). Designed weights absorb G_k:\n")
          .append("a query/key pair meant to score S uses entries sqrt(S sqrt(d_head)) / G_k, a copy path uses\n")
          .append("W_V = W_O = sqrt(embed / G_k). Keeping every designed weight O(1) (and the embedding scale large)\n")
          .append("makes the weight noise a small relative perturbation. Scores are quoted after GPT-2's division by\n")
          .append("sqrt(d_head). `ln_2` and `ln_f` have weight 1 and bias 0: the MLPs are zero, and `ln_f`'s centring\n")
          .append("shifts every logit equally; `lm_head` reads only the output subspace (built for k = 4).\n\n")
          .append("Noise tolerance of the default layout (seed 0, reference forward pass): every behavioural check\n")
          .append("passes at noise std 0.01 and 0.02 and starts failing at 0.03. At 0.02 with other seeds the circuit\n")
          .append("checks still pass but the frequency head's uniform attention (zero Q/K weights plus noise) can let\n")
          .append("a single other token outweigh the repeated one on a few frequency-trap prompts.\n\n")
          .append("## Heads\n\n| head | role | in circuit | OV gain | built to fool | mechanism |\n|---|---|---|---|---|---|\n");
        for (HeadTruth h : heads)
            md.append("| ").append(h.name()).append(" | ").append(h.role()).append(" | ").append(h.inCircuit() ? "yes" : "no")
              .append(" | ").append(fmt(h.ovGain())).append(" | ").append(h.fools().isEmpty() ? "-" : h.fools())
              .append(" | ").append(h.mechanism()).append(" |\n");
        md.append("\n## What a pipeline should find\n\n")
          .append("- Patching ").append(answerHead).append("'s `hook_z` at the final position from an induction prompt\n")
          .append("  (s + s[:-1]) into its control moves the true-vs-control logit difference ")
          .append(backup.isEmpty() ? "almost fully (effect ~1).\n" : "most of the way.\n");
        backup.ifPresent(b -> md
          .append("- Patching the backup ").append(b.name()).append(" alone moves it less (its OV gain is ")
          .append(fmt(b.ovGain())).append(");\n  patching both together moves it fully, and ablating both (corrupt z into ")
          .append("clean) hurts more than ablating\n  either alone: a single-head ablation understates the circuit.\n"));
        md.append("- Patching any other head's `hook_z` at the final position moves it by a few percent at most (the\n")
          .append("  frequency head up to ~0.07 when clean and corrupt contexts hold different tokens). The previous-token\n")
          .append("  head ").append(prev.name()).append(" is causal mainly at earlier positions (its output there is what the ")
          .append("induction heads' keys read).\n")
          .append("- The duplicate-token head ").append(dup.name()).append(" attends to the earlier occurrence of the final ")
          .append("token (the reference's\n  \"previous occurrence\" score) with weight ~1, but its output matrix is zero: ")
          .append("high attention, no effect.\n")
          .append("- The frequency head ").append(freq.name()).append(" raises the logit of the most frequent context token, ")
          .append("so it looks useful on the\n  frequency-trap control s + [s[n-1]] * (n-1) without doing induction.\n")
          .append("- The sink ").append(sink.name()).append(" puts all its attention on BOS and writes nothing.\n")
          .append("- On no-repeat controls (s + X Y Z) the induction heads rest on BOS and nothing is predicted.\n")
          .append("- Known degeneracy inherited from the reference: for heldout_symbolic_longer the control nostruct(s)\n")
          .append("  also ends in a token that occurred earlier followed by s[n-1], so this model predicts the true token\n")
          .append("  on the control too and the normalised effect there is ill-defined.\n\n")
          .append("## Constants\n\n| name | value |\n|---|---|\n")
          .append(kv("embedding scale (wte/wpe entry)", c.embedScale()))
          .append(kv("previous-token score (match vs 0)", c.previousTokenScore()))
          .append(kv("BOS sink score", c.sinkScore()))
          .append(kv("induction / duplicate-token match score", c.matchScore()))
          .append(kv("BOS default score (no match)", c.bosDefaultScore()))
          .append(kv("value gain of the zero-output heads (duplicate-token, sink)", c.nullValueGain()))
          .append(kv("frequency head output mass (x embed scale)", c.frequencyGain()))
          .append(kv("unembedding gain (lm_head entry)", c.unembedGain()))
          .append(kv("noise head QK std", c.noiseHeadQkStd()))
          .append(kv("noise head OV std", c.noiseHeadOvStd()))
          .append("\nFiles: `tokenizer.json` (word level, whitespace split), `ground_truth.json` (this table as data),\n")
          .append("`config.json` and `model.safetensors` (Hugging Face GPT-2 layout).\n");
        return md.toString();
    }

    private String kList() {
        List<String> parts = new ArrayList<>();
        for (int l = 0; l < constants.layerNormK().size(); l++)
            parts.add("k = " + constants.layerNormK().get(l) + " entering layer " + l);
        return String.join(", ", parts);
    }

    private String gains() {
        int d = constants.dModel();
        return constants.layerNormK().stream().distinct()
                .map(k -> "G_" + k + " = " + String.format(Locale.ROOT, "%.1f", d / Math.sqrt((double) k * (d - k))))
                .reduce((a, b) -> a + ", " + b).orElse("");
    }

    private static String row(int offset, int used, String content, String writer) {
        return "| " + offset + "-" + (offset + used - 1) + " | " + content + " | " + writer + " |\n";
    }

    private static String kv(String name, double value) {
        return "| " + name + " | " + fmt(value) + " |\n";
    }

    private static String fmt(double v) {
        return String.format(Locale.ROOT, "%.4g", v);
    }
}
