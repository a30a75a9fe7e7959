package org.milab.protocol.v2;

import org.milab.graph.Head;
import org.milab.protocol.reference.CharacterizationConsolidationStage;
import org.milab.protocol.reference.HeldoutCandidateStage;
import org.milab.protocol.reference.HeldoutConsolidationStage;
import org.milab.protocol.reference.SweepConsolidationStage;
import org.milab.stage.StageContext;
import org.milab.tables.RecordSchema;
import org.milab.tables.Table;
import org.milab.tables.TableBuilder;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Both protocols side by side, one row per head: the reference protocol's sweep status (S12), whether S13
 * registered it, its held-out status (S14) and characterization status (S16), beside v2's role and verdict
 * (and the planted truth where there is one). Reads the finished tables of both; writes
 * {@code v2/protocol_comparison.arrow} and {@code .md}.
 */
public final class ProtocolComparisonStage {
    public static final String TABLE = "protocol_comparison";
    static final String NOT_SWEPT = "not_swept", NOT_REGISTERED = "not_registered";

    /** One row of {@code v2/protocol_comparison}: both protocols' outcome for a head. */
    record ComparisonRow(int layer, int head, String headId, String referenceSweepStatus, String referenceCandidateId,
                         String referenceHeldoutStatus, String referenceCharacterizationStatus, String v2Role,
                         String v2Verdict, String v2Reason, String truthRole) {}

    private static final RecordSchema<ComparisonRow> COMPARISON_ROWS = RecordSchema.of(ComparisonRow.class);

    public void run(StageContext ctx) {
        Table v2 = ctx.read(ProtocolStage.DIR, null, VerdictStage.VERDICTS);
        Map<Head, String> sweep = byHead(ctx, SweepConsolidationStage.DIR, SweepConsolidationStage.TABLE, "replication_status");
        Map<Head, String> registered = byHead(ctx, HeldoutCandidateStage.DIR, HeldoutCandidateStage.TABLE, "candidate_id");
        Map<Head, String> heldout = byHead(ctx, HeldoutConsolidationStage.DIR, HeldoutConsolidationStage.BY_CANDIDATE,
                "heldout_replication_status");
        Map<Head, String> charact = byHead(ctx, CharacterizationConsolidationStage.DIR,
                CharacterizationConsolidationStage.BY_CANDIDATE, "final_characterization_status");
        TableBuilder b = COMPARISON_ROWS.builder(TABLE, "layer", "head")
                .metadata(ProtocolStage.SHA_METADATA, v2.metadata().getOrDefault(ProtocolStage.SHA_METADATA, ""));
        StringBuilder md = new StringBuilder("# Reference protocol vs protocol v2, per head\n\n")
                .append("| head | reference S12 sweep | S13 registered | S14 held-out | S16 characterization | v2 role | v2 verdict | truth |\n")
                .append("|---|---|---|---|---|---|---|---|\n");
        for (Table.Row r : v2.rows()) {
            Head h = Roles.head(r);
            String s = sweep.getOrDefault(h, NOT_SWEPT), c = registered.get(h);
            String ho = c == null ? NOT_REGISTERED : heldout.getOrDefault(h, "not_scored"),
                    ch = c == null ? NOT_REGISTERED : charact.getOrDefault(h, "not_run");
            COMPARISON_ROWS.add(b, new ComparisonRow(h.layer(), h.head(), h.label(), s, c, ho, ch, r.getString("role"),
                    r.getString("verdict"), r.getString("reason"), r.getString("truth_role")));
            md.append("| ").append(h).append(" | ").append(s).append(" | ").append(c == null ? "no" : c).append(" | ").append(ho)
                    .append(" | ").append(ch).append(" | ").append(r.getString("role")).append(" | **")
                    .append(r.getString("verdict")).append("** | ").append(Optional.ofNullable(r.getString("truth_role")).orElse("-"))
                    .append(" |\n");
        }
        Table t = ctx.write(ProtocolStage.DIR, null, b);
        ctx.writeText(ProtocolStage.DIR, null, TABLE + ".md", md.toString());
        ctx.summarize("- protocol comparison (reference vs v2, " + t.rowCount() + " heads): `v2/" + TABLE + ".md`");
    }

    /** A status column of a reference table by head; empty when that stage did not run in this run. */
    private static Map<Head, String> byHead(StageContext ctx, String dir, String table, String column) {
        Map<Head, String> out = new HashMap<>();
        if (!ctx.has(dir, null, table)) return out;
        for (Table.Row r : ctx.read(dir, null, table).rows()) out.putIfAbsent(Roles.head(r), r.getString(column));
        return out;
    }
}
