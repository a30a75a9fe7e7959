package org.milab.stage;

import org.milab.tables.PrecededBy;
import org.milab.util.ColumnName;
import org.milab.tables.RecordSchema;
import org.milab.util.UserError;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Every knob of a run, recorded in run_manifest.json. Defaults are the reference protocol's counts
 * (section 7 of the spec, including its CLI defaults that its configs never recorded).
 *
 * @param controlSeeds        controls runs (S3, S5, S6; S8-S11 use them as source runs)
 * @param controlsPerFamily   examples per control-set family (32)
 * @param layerPatchSeeds     S8/S9 seeds (the reference logged seeds 0 and 1)
 * @param layerPatchPerFamily S9 examples per family (8)
 * @param maxCandidates       S9 --max-candidates (12)
 * @param sweepPerFamily      S11 examples per family (8); sweep seeds are the control seeds
 * @param heldoutSeeds        S14 seeds (10, 11, 12)
 * @param heldoutGenerated    held-out prompts generated per family (24)
 * @param heldoutScored       held-out prompts scored per family (12)
 * @param topKHeads           S6 top_k_heads (20)
 * @param candidateFile       a pre-registered candidate set to use instead of deriving one, or null
 * @param zeroAblationFrame   "transformer_lens" (the reference's meaning) or "raw"
 * @param characterizationSeeds     S16 seeds (20, 21, 22)
 * @param characterizationGenerated characterization prompts generated per family (12)
 * @param characterizationScored    characterization prompts scored per family (4)
 */
public record RunConfig(@ColumnName("model") String modelId, String runId, List<Integer> controlSeeds, int controlsPerFamily,
                        List<Integer> layerPatchSeeds, int layerPatchPerFamily, int maxCandidates,
                        @PrecededBy(key = "sweep_seeds", component = "controlSeeds") int sweepPerFamily,
                        List<Integer> heldoutSeeds, @ColumnName("heldout_generated_per_family") int heldoutGenerated,
                        @ColumnName("heldout_scored_per_family") int heldoutScored,
                        int topKHeads, Path candidateFile, String zeroAblationFrame, List<Integer> characterizationSeeds,
                        @ColumnName("characterization_generated_per_family") int characterizationGenerated,
                        @ColumnName("characterization_scored_per_family") int characterizationScored) {

    /** The held-out chain's config with the reference's characterization defaults. */
    public RunConfig(String modelId, String runId, List<Integer> controlSeeds, int controlsPerFamily,
                     List<Integer> layerPatchSeeds, int layerPatchPerFamily, int maxCandidates,
                     int sweepPerFamily, List<Integer> heldoutSeeds, int heldoutGenerated, int heldoutScored,
                     int topKHeads, Path candidateFile, String zeroAblationFrame) {
        this(modelId, runId, controlSeeds, controlsPerFamily, layerPatchSeeds, layerPatchPerFamily, maxCandidates,
                sweepPerFamily, heldoutSeeds, heldoutGenerated, heldoutScored, topKHeads, candidateFile,
                zeroAblationFrame, List.of(20, 21, 22), 12, 4);
    }

    public static final String FRAME_TL = "transformer_lens";
    public static final String FRAME_RAW = "raw";

    public RunConfig {
        controlSeeds = List.copyOf(controlSeeds);
        characterizationSeeds = List.copyOf(characterizationSeeds);
        requirePositive("characterization prompts per family", characterizationGenerated);
        requirePositive("characterization scored per family", characterizationScored);
        if (characterizationScored > characterizationGenerated)
            throw new UserError("Characterization scored per family (" + characterizationScored + ") exceeds prompts "
                    + "generated (" + characterizationGenerated + ").", "Lower the scored count or raise the generated count.");
        layerPatchSeeds = List.copyOf(layerPatchSeeds);
        heldoutSeeds = List.copyOf(heldoutSeeds);
        requirePositive("controls per family", controlsPerFamily);
        requirePositive("layer-patching examples per family", layerPatchPerFamily);
        requirePositive("max candidates", maxCandidates);
        requirePositive("sweep examples per family", sweepPerFamily);
        requirePositive("held-out prompts per family", heldoutGenerated);
        requirePositive("held-out scored per family", heldoutScored);
        requirePositive("top-k heads", topKHeads);
        if (heldoutScored > heldoutGenerated)
            throw new UserError("Held-out scored per family (" + heldoutScored + ") exceeds prompts generated ("
                    + heldoutGenerated + ").", "Lower the scored count or raise the generated count.");
        if (!FRAME_TL.equals(zeroAblationFrame) && !FRAME_RAW.equals(zeroAblationFrame))
            throw new UserError("Unknown zero-ablation frame '" + zeroAblationFrame + "'.",
                    "Use transformer_lens (the reference's meaning) or raw.");
        if (controlSeeds.isEmpty() || heldoutSeeds.isEmpty())
            throw new UserError("Seed lists must not be empty.", "Give at least one seed for each stage.");
    }

    public static RunConfig reference(String modelId, String runId) {
        return new RunConfig(modelId, runId, List.of(0, 1, 2), 32, List.of(0, 1), 8, 12, 8,
                List.of(10, 11, 12), 24, 12, 20, null, FRAME_TL);
    }

    /** The same config under another run id (a default id that was taken gets a suffix). */
    public RunConfig withRunId(String id) {
        return new RunConfig(modelId, id, controlSeeds, controlsPerFamily, layerPatchSeeds, layerPatchPerFamily,
                maxCandidates, sweepPerFamily, heldoutSeeds, heldoutGenerated, heldoutScored, topKHeads, candidateFile,
                zeroAblationFrame, characterizationSeeds, characterizationGenerated, characterizationScored);
    }

    private static void requirePositive(String what, int v) {
        if (v < 1) throw new UserError("The " + what + " must be >= 1 (got " + v + ").", "Pass a positive count.");
    }

    /**
     * The config as run_manifest.json records it (and config_sha256 hashes it): the components in order, named by
     * {@link RecordSchema} (their snake_case or {@link ColumnName}), the control seeds repeated as sweep_seeds.
     */
    public Map<String, Object> toMap() {
        return RecordSchema.treeMap(this);
    }
}
