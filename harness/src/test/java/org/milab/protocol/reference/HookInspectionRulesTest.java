package org.milab.protocol.reference;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** Shape metadata and patch-site resolution for every branch of the reference's rule. */
class HookInspectionRulesTest {
    static final String Z = "blocks.3.attn.hook_z", RESULT = "blocks.3.attn.hook_result", OUT = "blocks.3.hook_attn_out",
            PATTERN = "blocks.3.attn.hook_pattern";

    static HookInspectionStage.HookRow row(String hook, Long... shape) {
        return HookInspectionStage.describe(hook, shape.length == 0 ? null : List.of(shape), null, List.of());
    }

    @Test
    void describeGivesTheReferenceAxesPerHookKind() {
        HookInspectionStage.HookRow z = row(Z, 1L, 8L, 12L, 64L);
        assertThat(z.canIndexHeadDimension()).isTrue();
        assertThat(List.of(z.headDimensionAxis(), z.seqAxis(), z.dHeadOrHiddenAxis())).containsExactly(2, 1, 3);
        HookInspectionStage.HookRow out = row(OUT, 1L, 8L, 768L);
        assertThat(out.canIndexHeadDimension()).isFalse();
        assertThat(out.headDimensionAxis()).isNull();
        assertThat(List.of(out.seqAxis(), out.dHeadOrHiddenAxis())).containsExactly(1, 2);
        HookInspectionStage.HookRow p = row(PATTERN, 1L, 12L, 8L, 8L);
        assertThat(List.of(p.headDimensionAxis(), p.seqAxis(), p.dHeadOrHiddenAxis())).containsExactly(1, 2, 3);
        assertThat(row(RESULT, 1L, 8L, 12L, 768L).interpretation()).isEqualTo("attention head result output");
        HookInspectionStage.HookRow odd = row(Z, 8L, 12L, 64L);
        assertThat(odd.existsOrCapturable()).isTrue();
        assertThat(odd.canIndexHeadDimension()).isFalse();
        assertThat(odd.notes()).isEqualTo("Unexpected shape [8, 12, 64] for " + Z + ".");
        HookInspectionStage.HookRow missing = row(RESULT);
        assertThat(missing.existsOrCapturable()).isFalse();
        assertThat(missing.interpretation()).isEqualTo("not captured");
        assertThat(missing.notes()).contains("Not in the capture graph");
        assertThat(row(Z).notes()).isEqualTo("Hook was not captured for this model/run.");
    }

    @Test
    void resolutionPrefersHookZThenHookResultThenAttnOut() {
        List<HookInspectionStage.HookRow> all = new ArrayList<>(List.of(row(Z, 1L, 8L, 12L, 64L),
                row(RESULT, 1L, 8L, 12L, 768L), row(OUT, 1L, 8L, 768L), row(PATTERN, 1L, 12L, 8L, 8L)));
        HookInspectionStage.PatchSiteResolution z = HookInspectionStage.resolve(all, 3, "hook_z");
        assertThat(z).isEqualTo(new HookInspectionStage.PatchSiteResolution(Z, true, 2, 1, 3, "single_head_z"));
        assertThat(HookInspectionStage.resolve(all, 3, "hook_result"))
                .isEqualTo(new HookInspectionStage.PatchSiteResolution(RESULT, true, 2, 1, 3, "single_head_result"));
        List<HookInspectionStage.HookRow> noZ = List.of(row(Z), row(RESULT, 1L, 8L, 12L, 768L), row(OUT, 1L, 8L, 768L));
        assertThat(HookInspectionStage.resolve(noZ, 3, "hook_z").actualPatchScope()).isEqualTo("single_head_result");
        // ours: no hook_result; a hook_z that cannot be indexed by head falls through to the layer output
        List<HookInspectionStage.HookRow> onlyOut = List.of(row(Z, 8L, 12L, 64L), row(RESULT), row(OUT, 1L, 8L, 768L));
        assertThat(HookInspectionStage.resolve(onlyOut, 3, "hook_z"))
                .isEqualTo(new HookInspectionStage.PatchSiteResolution(OUT, false, null, 1, 2, "full_attn_out_layer"));
        assertThat(HookInspectionStage.resolve(List.of(row(Z), row(RESULT), row(OUT)), 3, "hook_z"))
                .isEqualTo(new HookInspectionStage.PatchSiteResolution("", false, null, null, null, "unsupported"));
        assertThat(HookInspectionStage.resolve(all, 4, "hook_z").actualPatchScope()).isEqualTo("unsupported"); // other layer
    }
}
