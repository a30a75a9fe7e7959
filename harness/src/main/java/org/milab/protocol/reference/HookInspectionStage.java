package org.milab.protocol.reference;

import org.milab.graph.Head;
import org.milab.tables.RecordSchema;

import org.milab.stage.StageContext;

import ai.onnxruntime.OrtException;
import com.fasterxml.jackson.databind.JsonNode;
import org.milab.graph.GraphVariant;
import org.milab.graph.HookNames;
import org.milab.runtime.Feeds;
import org.milab.runtime.TokenBatch;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.milab.util.Json;

/**
 * S10 hook inspection: for the auto_even_6 layers, which per-head hooks the exported graphs expose (read
 * from the capture manifest's outputs and every variant's patch inputs) and the shapes one real capture of
 * "A B C D A B C" gives; then the reference's patch-site resolution (hook_z first, then hook_result, else the
 * layer-level attn_out). Our graphs have no hook_result, so the resolution is single_head_z wherever hook_z
 * exists. Writes hook_inspection/head_hook_inspection.json and .md.
 */
public final class HookInspectionStage {
    public static final String STAGE = "hook_inspection";
    public static final String PROMPT = "A B C D A B C";

    /** One inspected hook, in the reference's fields plus what the manifests say about it. */
    public record HookRow(String hookName, boolean existsOrCapturable, List<Long> tensorShape, String interpretation,
                          boolean canIndexHeadDimension, Integer headDimensionAxis, Integer seqAxis,
                          Integer dHeadOrHiddenAxis, String notes, List<Object> manifestAxes, List<String> patchableIn) {}

    /** The reference's HeadPatchSite. */
    public record PatchSiteResolution(String hookName, boolean headSpecificPossible, Integer headAxis, Integer seqAxis,
                                      Integer featureAxis, String actualPatchScope) {}

    public static String hookResult(int layer) {
        return "blocks." + layer + ".attn.hook_result";
    }

    /** z, result, attn_out, pattern: the reference's candidate hooks of a layer, in its order. */
    static List<String> candidateHooks(int layer) {
        return List.of(HookNames.hookZ(layer), hookResult(layer), HookNames.hookAttnOut(layer), HookNames.hookPattern(layer));
    }

    /** Inspects, writes the report and returns the per-layer patch-site resolutions. */
    public List<PatchSiteResolution> run(StageContext ctx) {
        long t0 = System.nanoTime();
        List<Integer> layers = Layers.autoEven6(ctx.model().config().nLayer());
        JsonNode capture = ctx.model().manifest(GraphVariant.CAPTURE);
        Set<String> capturable = new LinkedHashSet<>();
        for (int l : layers)
            for (String h : candidateHooks(l))
                if (manifestEntry(capture.path("outputs"), h) != null) capturable.add(h);
        int[] ids = ctx.tokens(PROMPT).ids();
        Map<String, List<Long>> shapes = captureShapes(ctx, ids, capturable);
        List<HookRow> rows = new ArrayList<>();
        for (int l : layers)
            for (String h : candidateHooks(l)) {
                JsonNode declared = manifestEntry(capture.path("outputs"), h);
                List<Object> axes = declared == null ? null : Json.MAPPER.convertValue(declared.path("shape"), List.class);
                rows.add(describe(h, shapes.get(h), axes, patchableIn(ctx, h)));
            }
        List<PatchSiteResolution> resolutions = layers.stream().map(l -> resolve(rows, l, "hook_z")).toList();
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("run_id", ctx.config().runId());
        report.put("model", ctx.model().id());
        report.put("prompt", PROMPT);
        report.put("prompt_token_ids", ids);
        report.put("layers", layers);
        report.put("hook_inspections", rows.stream().map(RecordSchema.of(HookRow.class)::toMap).toList());
        report.put("head_patch_site_resolutions", resolutions.stream().map(RecordSchema.of(PatchSiteResolution.class)::toMap).toList());
        report.put("model_provenance", ctx.model().provenance());
        ctx.writeJson(STAGE, null, "head_hook_inspection.json", report);
        ctx.writeText(STAGE, null, "head_hook_inspection.md", markdown(ctx.model().id(), layers, rows, resolutions));
        ctx.summarize("- hook inspection: patch sites " + resolutions.stream()
                .map(r -> r.actualPatchScope()).distinct().toList() + " on layers " + layers);
        ctx.recordTiming(STAGE, (System.nanoTime() - t0) / 1e9);
        return resolutions;
    }

    /** One capture-graph call on a single unpadded row: the raw output shapes, batch axis included. */
    private static Map<String, List<Long>> captureShapes(StageContext ctx, int[] ids, Set<String> hooks) {
        Map<String, List<Long>> out = new LinkedHashMap<>();
        if (hooks.isEmpty()) return out;
        try (Feeds f = new Feeds(ctx.model().sessions().env()).batch(TokenBatch.of(List.of(ids)))) {
            f.run(ctx.model().sessions().session(GraphVariant.CAPTURE), hooks)
                    .forEach((name, o) -> out.put(name, Arrays.stream(o.shape()).boxed().toList()));
        } catch (OrtException e) {
            throw new IllegalStateException("hook inspection capture failed: " + e.getMessage(), e);
        }
        return out;
    }

    /** Graph variants whose manifest lists a patch input for {@code hook}. */
    private static List<String> patchableIn(StageContext ctx, String hook) {
        List<String> out = new ArrayList<>();
        for (GraphVariant v : GraphVariant.values())
            if (manifestEntry(ctx.model().manifest(v).path("inputs"), HookNames.patchMask(hook)) != null) out.add(v.id());
        return out;
    }

    private static JsonNode manifestEntry(JsonNode ios, String name) {
        for (JsonNode io : ios) if (name.equals(io.path("name").asText())) return io;
        return null;
    }

    /** The reference's describe_hook_tensor + shape_metadata_for_hook; a null shape means not captured. */
    static HookRow describe(String hook, List<Long> shape, List<Object> manifestAxes, List<String> patchableIn) {
        if (shape == null) {
            String notes = hook.endsWith(".attn.hook_result")
                    ? "Not in the capture graph this protocol reads (per-head outputs after W_O; only the hooked "
                    + "variant has it, see patchable_in); head-specific patching uses hook_z."
                    : "Hook was not captured for this model/run.";
            return new HookRow(hook, false, null, "not captured", false, null, null, null, notes, manifestAxes, patchableIn);
        }
        int rank = shape.size();
        if (hook.endsWith(".attn.hook_z") && rank == 4)
            return new HookRow(hook, true, shape, "attention head z output", true, 2, 1, 3,
                    "Preferred head-specific patch site.", manifestAxes, patchableIn);
        if (hook.endsWith(".attn.hook_result") && rank == 4)
            return new HookRow(hook, true, shape, "attention head result output", true, 2, 1, 3,
                    "Head-specific fallback patch site.", manifestAxes, patchableIn);
        if (hook.endsWith(".hook_attn_out") && rank == 3)
            return new HookRow(hook, true, shape, "full attention layer output after heads are combined", false, null, 1, 2,
                    "Layer-level fallback only; not head-specific.", manifestAxes, patchableIn);
        if (hook.endsWith(".attn.hook_pattern") && rank == 4)
            return new HookRow(hook, true, shape, "attention pattern", true, 1, 2, 3,
                    "Descriptive pattern hook, not an output patch site.", manifestAxes, patchableIn);
        return new HookRow(hook, true, shape, "unsupported or unexpected hook shape", false, null, null, null,
                "Unexpected shape " + shape + " for " + hook + ".", manifestAxes, patchableIn);
    }

    /**
     * The reference's resolve_head_patch_site_from_metadata: the preferred head hook (hook_z, or hook_result
     * when {@code preferred} is "hook_result") then the other, if captured and head-indexable; else the
     * layer-level attn_out; else unsupported.
     */
    static PatchSiteResolution resolve(List<HookRow> rows, int layer, String preferred) {
        Map<String, HookRow> byName = new LinkedHashMap<>();
        for (HookRow r : rows) byName.put(r.hookName(), r);
        List<String> order = "hook_result".equals(preferred)
                ? List.of(hookResult(layer), HookNames.hookZ(layer)) : List.of(HookNames.hookZ(layer), hookResult(layer));
        for (String name : order) {
            HookRow r = byName.get(name);
            if (r != null && r.existsOrCapturable() && r.canIndexHeadDimension())
                return new PatchSiteResolution(name, true, r.headDimensionAxis(), r.seqAxis(), r.dHeadOrHiddenAxis(),
                        name.endsWith(".attn.hook_z") ? "single_head_z" : "single_head_result");
        }
        HookRow attnOut = byName.get(HookNames.hookAttnOut(layer));
        if (attnOut != null && attnOut.existsOrCapturable())
            return new PatchSiteResolution(attnOut.hookName(), false, null, attnOut.seqAxis(), attnOut.dHeadOrHiddenAxis(),
                    "full_attn_out_layer");
        return new PatchSiteResolution("", false, null, null, null, "unsupported");
    }

    static String markdown(String model, List<Integer> layers, List<HookRow> rows, List<PatchSiteResolution> sites) {
        List<String> lines = new ArrayList<>(List.of("# Head Hook Inspection", "", "Model: `" + model + "`",
                "Prompt: `" + PROMPT + "`", "Layers: `" + layers + "`", "", "## Patch Site Resolution", ""));
        for (PatchSiteResolution s : sites)
            lines.add("- `" + (s.hookName().isEmpty() ? "unsupported" : s.hookName()) + "`: head_specific="
                    + (s.headSpecificPossible() ? "True" : "False") + ", scope=`" + s.actualPatchScope() + "`");
        lines.addAll(List.of("", "## Inspected Hooks", ""));
        for (HookRow r : rows)
            lines.add("- `" + r.hookName() + "`: captured=" + (r.existsOrCapturable() ? "True" : "False") + ", shape="
                    + (r.tensorShape() == null ? "None" : r.tensorShape()) + ", head_axis=" + none(r.headDimensionAxis())
                    + ", seq_axis=" + none(r.seqAxis()) + ", patchable_in=" + r.patchableIn() + ", notes=" + r.notes());
        lines.addAll(List.of("", "hook_result does not exist in these graphs: per-head patching goes through hook_z "
                + "(the reference also resolved every layer to hook_z, scope single_head_z)."));
        return String.join("\n", lines) + "\n";
    }

    private static String none(Integer v) {
        return v == null ? "None" : v.toString();
    }
}
