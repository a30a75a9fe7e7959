package org.milab.planted;

import org.milab.planted.GroundTruth.Role;
import org.milab.util.UserError;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Which head of the planted model plays which role: the number of layers, the previous-token head, the
 * induction head, an optional backup induction head with a weaker OV, an optional negative head (induction
 * attention whose OV LOWERS the attended token: anti-induction / copy suppression), and the three decoys.
 * Every other head is a random noise head. Written as a spec string, e.g.
 * {@code layers=3,prev=L1H5,induction=L2H6,backup=L2H3:0.5,negative=L2H1:0.3,duplicate=L1H2,frequency=L2H0,sink=L0H3},
 * or named by a preset ({@link #PRESETS}).
 *
 * <p>Constraints (each violation is a {@link UserError}):
 * <ul>
 *   <li>{@value #MIN_LAYERS} to {@value #MAX_LAYERS} layers of {@value PlantedInductionModel#N_HEAD} heads;
 *   <li>the heads that write the answer into the output subspace (induction, backup, negative, frequency) sit in the
 *       last layer: nothing after them may read a residual whose output entries they changed, because every
 *       LayerNorm in front of a block assumes a fixed count of non-zero entries;
 *   <li>the previous-token head sits in an earlier layer than the induction heads (their keys read its
 *       output, K-composition). LayerNorm k of layer l is 2 (token, position) plus 1 when the previous-token
 *       head is in a layer before l; the unembedding's k is 4;
 *   <li>every role is a different head; the backup's OV gain is in (0, 1) (the main head's is 1); the negative
 *       head's suppression gain is in (0, 1) too and below the main head's plus the backup's, so the answer
 *       still wins (its OV writes minus that gain);
 *   <li>a reactive backup ({@code reactive=LxHy:gain}, gain in (0, 1]) sits in the last layer with the main induction
 *       head in the layer before (its query reads what the main head wrote; LayerNorm k of the last layer then
 *       counts the answer too) and comes alone: no backup or negative head beside it.
 * </ul>
 * The duplicate-token head and the sink read only the token and position subspaces and write nothing, so
 * they may sit in any layer.
 *
 * @param name          the preset name, or {@link #CUSTOM} for a spec string that matches no preset
 * @param layers        number of transformer blocks
 * @param previousToken the previous-token head
 * @param induction     the main induction head (the answer head)
 * @param backup        the backup induction head, or null
 * @param negative      the negative head and its suppression gain, or null
 * @param reactive      the REACTIVE backup induction head and its OV gain, or null: a head in the last layer whose
 *                      query reads the answer the main induction head (then in the layer before) has written, so it
 *                      copies the answer only when the main head's output is absent (a hydra / backup name mover)
 * @param duplicate     the duplicate-token head with a null OV (attention decoy)
 * @param frequency     the uniform frequency head (frequency-trap decoy)
 * @param sink          the BOS attention sink
 */
public record PlantedLayout(String name, int layers, At previousToken, At induction, Backup backup, Backup negative,
                            Backup reactive, At duplicate, At frequency, At sink) {
    public static final int MIN_LAYERS = 2, MAX_LAYERS = 4;
    public static final String DEFAULT = "default", CUSTOM = "custom";
    /** A model name of this form is generated: planted-induction is the default preset, planted-{preset} the others. */
    public static final String MODEL_PREFIX = "planted-";
    /** Gain of a backup head whose spec gives none ({@code backup=L1H5}). */
    public static final double DEFAULT_BACKUP_GAIN = 0.5;
    /** Suppression gain of a negative head whose spec gives none ({@code negative=L1H4}). */
    public static final double DEFAULT_NEGATIVE_GAIN = 0.3;
    /** OV gain of a reactive backup head whose spec gives none ({@code reactive=L2H5}). */
    public static final double DEFAULT_REACTIVE_GAIN = 0.5;

    /** Named layouts. {@code default} is the original planted model, weight for weight. */
    public static final Map<String, String> PRESETS = presets();

    private static Map<String, String> presets() {
        Map<String, String> p = new LinkedHashMap<>();
        p.put(DEFAULT, "layers=2,prev=L0H1,induction=L1H2,duplicate=L1H0,frequency=L1H1,sink=L0H3");
        p.put("backup", "layers=2,prev=L0H1,induction=L1H2,backup=L1H5:0.5,duplicate=L1H0,frequency=L1H1,sink=L0H3");
        p.put("deep3", "layers=3,prev=L1H5,induction=L2H6,backup=L2H3:0.5,duplicate=L1H2,frequency=L2H0,sink=L0H3");
        p.put("negative", "layers=2,prev=L0H1,induction=L1H2,negative=L1H4:0.3,duplicate=L1H0,frequency=L1H1,sink=L0H3");
        p.put("negative-backup", "layers=3,prev=L0H6,induction=L2H2,backup=L2H7:0.5,negative=L2H4:0.3,duplicate=L1H0,"
                + "frequency=L2H1,sink=L0H3");
        p.put("reactive-backup", "layers=3,prev=L0H1,induction=L1H2,reactive=L2H5:0.15,duplicate=L1H0,frequency=L2H1,sink=L0H3");
        return java.util.Collections.unmodifiableMap(p);
    }

    /** A head position, written {@code L{layer}H{head}}. */
    public record At(int layer, int head) {
        public String label() {
            return "L" + layer + "H" + head;
        }

        @Override
        public String toString() {
            return label();
        }
    }

    /** A head with an OV gain relative to the main induction head's: the backup's, or the negative head's suppression. */
    public record Backup(At at, double gain) {}

    private static final String FIX = "Write the layout as a preset name (" + String.join(", ", PRESETS.keySet())
            + ") or as key=value pairs, e.g. '" + PRESETS.get("deep3") + "'.";

    public PlantedLayout {
        if (layers < MIN_LAYERS || layers > MAX_LAYERS)
            throw bad("has " + layers + " layers", "Use " + MIN_LAYERS + " to " + MAX_LAYERS + " layers.");
        Map<At, String> used = new LinkedHashMap<>();
        claim(used, "prev", previousToken, layers);
        claim(used, "induction", induction, layers);
        if (backup != null) {
            claim(used, "backup", backup.at(), layers);
            if (!(backup.gain() > 0 && backup.gain() < 1))
                throw bad("gives the backup head OV gain " + backup.gain(),
                        "A backup head is weaker than the main one: use a gain in (0, 1), e.g. " + DEFAULT_BACKUP_GAIN + ".");
        }
        if (negative != null) {
            claim(used, "negative", negative.at(), layers);
            double positive = 1 + (backup == null ? 0 : backup.gain());
            if (!(negative.gain() > 0 && negative.gain() < 1 && negative.gain() < positive - 0.5))
                throw bad("gives the negative head suppression gain " + negative.gain(),
                        "Use a gain in (0, 1) at least 0.5 below the induction heads' total (" + positive + "), e.g. "
                                + DEFAULT_NEGATIVE_GAIN + ", so the answer still wins.");
        }
        if (reactive != null) {
            claim(used, "reactive", reactive.at(), layers);
            if (backup != null || negative != null)
                throw bad("combines a reactive backup head with a backup or negative head",
                        "Use reactive alone: its main induction head sits a layer before the other answer writers.");
            if (!(reactive.gain() > 0 && reactive.gain() <= 1))
                throw bad("gives the reactive backup head OV gain " + reactive.gain(),
                        "Use a gain in (0, 1], e.g. " + DEFAULT_REACTIVE_GAIN + ".");
            if (reactive.at().layer() != layers - 1 || induction.layer() != layers - 2)
                throw bad("puts the reactive backup head at " + reactive.at() + " and the induction head at " + induction,
                        "The reactive backup reads what the induction head wrote: put it in the last layer, L" + (layers - 1)
                                + ", and the induction head in the layer before, L" + (layers - 2) + ".");
        }
        claim(used, "duplicate", duplicate, layers);
        claim(used, "frequency", frequency, layers);
        claim(used, "sink", sink, layers);
        int last = layers - 1;
        List<At> writers = new ArrayList<>(List.of(frequency));
        if (reactive == null) writers.add(0, induction);
        else writers.add(reactive.at());
        if (backup != null) writers.add(backup.at());
        if (negative != null) writers.add(negative.at());
        for (At writer : writers)
            if (writer.layer() != last)
                throw bad("puts answer-writing head " + writer + " (" + used.get(writer) + ") in layer " + writer.layer(),
                        "Induction, backup, negative and frequency heads write the output subspace and must sit in the last layer, L" + last + ".");
        if (previousToken.layer() >= induction.layer())
            throw bad("puts the previous-token head " + previousToken + " in the induction heads' layer or later",
                    "Put prev in a layer before L" + induction.layer() + ": the induction heads' keys read its output.");
    }

    private static void claim(Map<At, String> used, String key, At at, int layers) {
        if (at == null) throw bad("has no " + key + " head", "Give " + key + "=L{layer}H{head}.");
        if (at.layer() < 0 || at.layer() >= layers || at.head() < 0 || at.head() >= PlantedInductionModel.N_HEAD)
            throw bad("puts " + key + " at " + at + ", outside " + layers + " layers x " + PlantedInductionModel.N_HEAD + " heads",
                    "Use layers 0.." + (layers - 1) + " and heads 0.." + (PlantedInductionModel.N_HEAD - 1) + ".");
        String other = used.putIfAbsent(at, key);
        if (other != null)
            throw bad("gives head " + at + " two roles (" + other + " and " + key + ")", "Give every role its own head.");
    }

    private static UserError bad(String problem, String fix) {
        return new UserError("The planted layout " + problem + ".", fix);
    }

    public static PlantedLayout defaults() {
        return preset(DEFAULT);
    }

    public static PlantedLayout preset(String name) {
        String spec = PRESETS.get(name);
        if (spec == null)
            throw new UserError("There is no planted layout preset '" + name + "'.", FIX);
        return parseSpec(name, spec);
    }

    /**
     * A preset name or a spec string. Keys: layers, prev, induction, backup (optional, {@code LxHy:gain},
     * gain {@value #DEFAULT_BACKUP_GAIN} when omitted), negative (optional, {@code LxHy:gain}, suppression gain
     * {@value #DEFAULT_NEGATIVE_GAIN} when omitted), duplicate, frequency, sink; all but backup and negative required.
     * A spec string equal to a preset (in any key order) takes the preset's name.
     */
    public static PlantedLayout parse(String text) {
        String t = text == null ? "" : text.strip();
        if (PRESETS.containsKey(t)) return preset(t);
        if (!t.contains("="))
            throw new UserError("'" + text + "' is neither a planted layout preset nor a key=value spec.", FIX);
        PlantedLayout custom = parseSpec(CUSTOM, t);
        for (String preset : PRESETS.keySet())
            if (preset(preset).spec().equals(custom.spec())) return preset(preset);
        return custom;
    }

    private static final Pattern HEAD = Pattern.compile("L(\\d+)H(\\d+)");
    private static final Pattern BACKUP = Pattern.compile("(L\\d+H\\d+)(?::([0-9.eE+-]+))?");
    private static final List<String> KEYS = List.of("layers", "prev", "induction", "backup", "negative", "reactive",
            "duplicate", "frequency", "sink");
    private static final List<String> OPTIONAL = List.of("backup", "negative", "reactive");

    private static PlantedLayout parseSpec(String name, String spec) {
        Map<String, String> kv = new LinkedHashMap<>();
        for (String part : spec.split(",")) {
            String p = part.strip();
            int eq = p.indexOf('=');
            if (eq <= 0) throw new UserError("Planted layout part '" + p + "' is not key=value.", FIX);
            String key = p.substring(0, eq).strip().toLowerCase(Locale.ROOT), value = p.substring(eq + 1).strip();
            if (!KEYS.contains(key))
                throw new UserError("Planted layout key '" + key + "' is unknown.", "Use the keys " + String.join(", ", KEYS) + ".");
            if (kv.put(key, value) != null) throw new UserError("Planted layout key '" + key + "' is given twice.", FIX);
        }
        for (String key : KEYS)
            if (!OPTIONAL.contains(key) && !kv.containsKey(key))
                throw new UserError("The planted layout has no '" + key + "'.", FIX);
        int layers;
        try {
            layers = Integer.parseInt(kv.get("layers"));
        } catch (NumberFormatException e) {
            throw new UserError("Planted layout layers='" + kv.get("layers") + "' is not a whole number.", FIX);
        }
        Backup backup = gained(kv, "backup", DEFAULT_BACKUP_GAIN), negative = gained(kv, "negative", DEFAULT_NEGATIVE_GAIN);
        Backup reactive = gained(kv, "reactive", DEFAULT_REACTIVE_GAIN);
        return new PlantedLayout(name, layers, head("prev", kv.get("prev")), head("induction", kv.get("induction")),
                backup, negative, reactive, head("duplicate", kv.get("duplicate")), head("frequency", kv.get("frequency")),
                head("sink", kv.get("sink")));
    }

    /** An optional {@code key=LxHy[:gain]} entry, or null when absent. */
    private static Backup gained(Map<String, String> kv, String key, double defaultGain) {
        if (!kv.containsKey(key)) return null;
        Matcher m = BACKUP.matcher(kv.get(key));
        String example = "Write e.g. " + key + "=L1H5:" + defaultGain + ".";
        if (!m.matches())
            throw new UserError("Planted layout " + key + "='" + kv.get(key) + "' is not L{layer}H{head}[:gain].", example);
        double gain;
        try {
            gain = m.group(2) == null ? defaultGain : Double.parseDouble(m.group(2));
        } catch (NumberFormatException e) {
            throw new UserError("Planted layout " + key + " gain '" + m.group(2) + "' is not a number.", example);
        }
        return new Backup(head(key, m.group(1)), gain);
    }

    private static At head(String key, String text) {
        Matcher m = HEAD.matcher(text);
        if (!m.matches())
            throw new UserError("Planted layout " + key + "='" + text + "' is not a head such as L1H2.", FIX);
        try {
            return new At(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)));
        } catch (NumberFormatException e) {
            throw new UserError("Planted layout " + key + "='" + text + "' has an out-of-range number.", FIX);
        }
    }

    /**
     * The layout {@code make export MODEL=<modelId> [--planted-layout <option>]} builds. planted-induction
     * takes any layout (default: the default preset); planted-{preset} is that preset (an option must agree);
     * any other planted-{name} needs the option.
     */
    public static PlantedLayout forModel(String modelId, String option) {
        if (!isPlanted(modelId))
            throw new IllegalArgumentException(modelId + " is not a planted model name");
        PlantedLayout given = option == null || option.isBlank() ? null : parse(option);
        if (modelId.equals(PlantedInductionModel.MODEL_ID)) return given != null ? given : defaults();
        String named = modelId.substring(MODEL_PREFIX.length());
        if (PRESETS.containsKey(named)) {
            if (given != null && !given.name().equals(named))
                throw new UserError("MODEL=" + modelId + " names the '" + named + "' preset but --planted-layout gives "
                        + given.spec() + ".", "Drop --planted-layout, or choose another MODEL name such as planted-mine.");
            return preset(named);
        }
        if (given == null)
            throw new UserError("MODEL=" + modelId + " is not a planted preset (" + String.join(", ", presetModelIds())
                    + ") and no --planted-layout was given.", "Add ARGS=\"--planted-layout '<preset or spec>'\". " + FIX);
        return given;
    }

    /** Names under which {@code make export} generates a planted model instead of reading weights. */
    public static boolean isPlanted(String modelId) {
        return modelId.startsWith(MODEL_PREFIX);
    }

    /** planted-induction, planted-backup, planted-deep3, ... */
    public static List<String> presetModelIds() {
        return PRESETS.keySet().stream().map(p -> preset(p).modelId()).toList();
    }

    /** The model name a preset exports under by default: planted-induction for the default, planted-{name} otherwise. */
    public String modelId() {
        return name.equals(DEFAULT) ? PlantedInductionModel.MODEL_ID : MODEL_PREFIX + name;
    }

    /** The canonical spec string (fixed key order); parsing it gives this layout back. */
    public String spec() {
        StringBuilder s = new StringBuilder("layers=" + layers + ",prev=" + previousToken + ",induction=" + induction);
        if (backup != null) s.append(",backup=").append(backup.at()).append(':').append(backup.gain());
        if (negative != null) s.append(",negative=").append(negative.at()).append(':').append(negative.gain());
        if (reactive != null) s.append(",reactive=").append(reactive.at()).append(':').append(reactive.gain());
        return s.append(",duplicate=").append(duplicate).append(",frequency=").append(frequency).append(",sink=")
                .append(sink).toString();
    }

    /** The role of head {@code at}: one of the planted roles, else {@link Role#NOISE}. */
    public Role role(At at) {
        if (at.equals(previousToken)) return Role.PREVIOUS_TOKEN;
        if (at.equals(induction)) return Role.INDUCTION;
        if (backup != null && at.equals(backup.at())) return Role.BACKUP_INDUCTION;
        if (reactive != null && at.equals(reactive.at())) return Role.BACKUP_INDUCTION;
        if (negative != null && at.equals(negative.at())) return Role.NEGATIVE_COPY;
        if (at.equals(duplicate)) return Role.DUPLICATE_TOKEN_NULL_OV;
        if (at.equals(frequency)) return Role.FREQUENCY;
        if (at.equals(sink)) return Role.ATTENTION_SINK;
        return Role.NOISE;
    }

    /**
     * Non-zero residual entries entering layer {@code layer}: token and position, plus the previous token once
     * written, plus the answer once the main induction head has written it (only with a reactive backup, whose
     * layer reads it; without a repeat the entry is absent and the LN scale rises by sqrt(4/3), see the mechanism).
     */
    public int layerNormK(int layer) {
        return 2 + (previousToken.layer() < layer ? 1 : 0) + (induction.layer() < layer ? 1 : 0);
    }

    /** {@link #layerNormK} of every layer, in order. */
    public List<Integer> layerNormKs() {
        List<Integer> k = new ArrayList<>();
        for (int l = 0; l < layers; l++) k.add(layerNormK(l));
        return List.copyOf(k);
    }
}
