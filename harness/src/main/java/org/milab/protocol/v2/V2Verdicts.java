package org.milab.protocol.v2;

import org.milab.graph.Head;
import org.milab.stage.HeadVerdict.Outcome;
import org.milab.stage.HeadVerdict.Score;
import org.milab.tables.Column;
import org.milab.tables.ColumnType;
import org.milab.tables.Table;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

import static org.milab.stage.RunFolder.dbl;
import static org.milab.stage.RunFolder.lng;
import static org.milab.stage.RunFolder.str;
import org.milab.stage.RunFolder;
import org.milab.stage.HeadVerdict;
import org.milab.stage.ProtocolVerdict;

/**
 * Protocol v2's answer, read from {@code v2/verdicts.arrow}: one row per head with its {@code role},
 * {@code verdict} (confirmed / rejected / inconclusive), the scores that decided it (each score column
 * {@code x} with {@code x_ci_low}/{@code x_ci_high} when it has a bootstrap CI) and a {@code reason}.
 * Columns are read by name; extra columns are ignored, so schema additions do not break the report.
 */
public final class V2Verdicts {
    public static final String DIR = "v2";
    public static final String VERDICTS = DIR + "/verdicts";
    public static final String CIRCUIT = DIR + "/circuit.json";
    static final String CI_LOW = "_ci_low", CI_HIGH = "_ci_high";

    private V2Verdicts() {}

    public static Optional<ProtocolVerdict> read(RunFolder run) {
        Optional<Table> t = run.table(VERDICTS);
        if (t.isEmpty()) return Optional.empty();
        List<String> scoreColumns = scoreColumns(t.get());
        List<HeadVerdict> heads = new ArrayList<>();
        List<ProtocolVerdict.Pass> passes = new ArrayList<>();
        for (Table.Row r : t.get().rows()) {
            Head h = head(r);
            String verdict = String.valueOf(str(r, "verdict")).toLowerCase(Locale.ROOT);
            String role = str(r, "role");
            Outcome o = switch (verdict) {
                case "confirmed" -> Outcome.KEPT;
                case "rejected" -> Outcome.REJECTED;
                default -> Outcome.INCONCLUSIVE;
            };
            if (o == Outcome.KEPT) passes.add(new ProtocolVerdict.Pass(h, "v2", "confirmed as " + role));
            List<Score> scores = new ArrayList<>();
            for (String c : scoreColumns) scores.add(new Score(c, dbl(r, c), dbl(r, c + CI_LOW), dbl(r, c + CI_HIGH)));
            String reason = str(r, "reason");
            heads.add(new HeadVerdict(h, role, o, "v2", verdict, reason == null ? "" : reason, RunFolder.link(VERDICTS), scores));
        }
        heads.sort(java.util.Comparator.comparing(HeadVerdict::head));
        long confirmed = heads.stream().filter(v -> v.outcome() == Outcome.KEPT).count();
        long rejected = heads.stream().filter(v -> v.outcome() == Outcome.REJECTED).count();
        long inconclusive = heads.size() - confirmed - rejected;
        String headline = confirmed + " confirmed, " + rejected + " rejected, " + inconclusive + " inconclusive of " + heads.size()
                + " heads ([v2 verdicts](" + RunFolder.link(VERDICTS) + ")" + (run.has(CIRCUIT) ? ", [circuit](" + CIRCUIT + ")" : "") + ")";
        return Optional.of(new ProtocolVerdict("v2", "protocol v2", null, List.copyOf(heads), List.copyOf(passes), headline));
    }

    /** Numeric columns that are scores: every FLOAT64 column except the CI bounds and the coordinates. */
    static List<String> scoreColumns(Table t) {
        List<String> out = new ArrayList<>();
        for (Column c : t.columns()) {
            String n = c.name();
            if (c.type() != ColumnType.FLOAT64 || n.endsWith(CI_LOW) || n.endsWith(CI_HIGH)) continue;
            out.add(n);
        }
        return out;
    }

    static Head head(Table.Row r) {
        Long l = lng(r, "layer"), h = lng(r, "head");
        if (l != null && h != null) return new Head(l.intValue(), h.intValue());
        return Head.parse(String.valueOf(str(r, "head_id")));
    }
}
