package org.milab.protocol.reference;

import org.milab.stats.DenominatorFloor;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.milab.stats.Num;

/**
 * Presentation rules for counterexample reports (S15, S17 Markdown): every row shows its clean, corrupt
 * and patched scores and the raw delta beside the normalized effect, and rows whose |clean - corrupt| is
 * below {@link DenominatorFloor#VALUE} are never ranked as the strongest: a tiny denominator turns a
 * negligible move into a huge "effect" (spec 10.8), so they are listed apart as unstable.
 */
public final class Counterexamples {
    /** The declared floor on |clean - corrupt| (see {@link DenominatorFloor}). */
    public static final double DENOMINATOR_FLOOR = DenominatorFloor.VALUE;

    private static final List<String> SCORE_HEADERS = List.of("clean", "corrupt", "patched", "raw delta (patched - corrupt)",
            "clean - corrupt", "normalized effect");

    private Counterexamples() {}

    /** The sentence every counterexample report carries about its ranking. */
    public static String floorNote(String arrowFile) {
        return "Rows are ranked only where |clean - corrupt| >= " + Num.sig(DENOMINATOR_FLOOR) + " (the declared floor, logit-difference "
                + "units); rows below it are listed apart as unstable, because their normalized effect divides by almost nothing. "
                + "Scores are shown beside every effect: raw delta = patched - corrupt; normalized effect = raw delta / (clean - corrupt). "
                + "`" + arrowFile + "` keeps the reference's own selection (top rows by normalized effect, whatever the denominator).";
    }

    /**
     * A Markdown table: the given leading columns, then clean, corrupt, patched, raw delta, clean - corrupt and
     * the normalized effect, numbers to 4 significant digits.
     */
    public static String table(List<? extends Map<String, ?>> rows, List<String> leading) {
        if (rows.isEmpty()) return "No rows.";
        StringBuilder sb = new StringBuilder("| ");
        List<String> headers = new ArrayList<>(leading);
        headers.addAll(SCORE_HEADERS);
        sb.append(String.join(" | ", headers)).append(" |\n|").append("---|".repeat(headers.size()));
        for (Map<String, ?> r : rows) {
            sb.append("\n|");
            for (String c : leading) sb.append(' ').append(cell(r.get(c))).append(" |");
            Double clean = num(r.get("clean_score")), corrupt = num(r.get("corrupt_score")), patched = num(r.get("patched_score"));
            for (Double d : new Double[] {clean, corrupt, patched, diff(patched, corrupt), diff(clean, corrupt), num(r.get("effect_size"))})
                sb.append(' ').append(Num.sig(d)).append(" |");
        }
        return sb.toString();
    }

    private static Double diff(Double a, Double b) {
        return a == null || b == null ? null : a - b;
    }

    private static Double num(Object v) {
        return v instanceof Number n ? n.doubleValue() : null;
    }

    private static String cell(Object v) {
        return v == null ? "" : v.toString().replace("\n", " ").replace("|", "\\|");
    }
}
