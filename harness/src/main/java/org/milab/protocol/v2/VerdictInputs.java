package org.milab.protocol.v2;

import org.milab.graph.Head;
import org.milab.stage.StageContext;
import org.milab.tables.Table;

import java.util.Map;

/**
 * The per-prompt tables v2's decisions are computed from, as written by the earlier v2 stages; {@code stopped}: the
 * heads the sequential design stopped for futility, with the pairs they stopped at ({@link Sequential}).
 */
public record VerdictInputs(Table attention, Table copying, Table baselines, Table ablations, Table patches,
                            Table groups, Table composition, Map<Head, Integer> stopped) {
    public VerdictInputs {
        stopped = Map.copyOf(stopped);
    }

    /** Inputs of a run where every head got every pair. */
    public VerdictInputs(Table attention, Table copying, Table baselines, Table ablations, Table patches, Table groups,
                         Table composition) {
        this(attention, copying, baselines, ablations, patches, groups, composition, Map.of());
    }

    public static VerdictInputs read(StageContext ctx) {
        String d = ProtocolStage.DIR;
        return new VerdictInputs(ctx.read(d, null, AttentionProbeStage.TABLE), ctx.read(d, null, CopyingStage.TABLE),
                ctx.read(d, null, CausalStage.BASELINES), ctx.read(d, null, CausalStage.ABLATIONS),
                ctx.read(d, null, CausalStage.PATCHES), ctx.read(d, null, GroupAblationStage.TABLE),
                keysOnly(ctx.read(d, null, CompositionStage.TABLE)),
                // a run registered before the sequential design has no such table: nothing stopped
                ctx.has(d, null, Sequential.TABLE) ? Sequential.stopped(ctx.read(d, null, Sequential.TABLE)) : Map.of());
    }

    /** The composition rows a verdict reads: the path into the receiver's keys (queries and values are reported only). */
    static Table keysOnly(Table composition) {
        return composition.filter(r -> CompositionStage.K.equals(r.getString("kind")));
    }

    /** Roles from every probe of every seed: what group ablation and composition are run on. */
    public static Map<Head, Roles.HeadRole> pooledRoles(StageContext ctx, ProtocolStage.Registered reg) {
        return Roles.assign(ctx.read(ProtocolStage.DIR, null, AttentionProbeStage.TABLE),
                ctx.read(ProtocolStage.DIR, null, CopyingStage.TABLE), reg.protocol().thresholds(), r -> true);
    }
}
