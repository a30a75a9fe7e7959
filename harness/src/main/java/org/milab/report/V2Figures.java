package org.milab.report;

import org.milab.graph.Head;
import org.milab.protocol.v2.V2Protocol;
import org.milab.protocol.v2.V2Verdicts;
import org.milab.report.Charts.Cell;
import org.milab.report.Charts.Scale;
import org.milab.stage.HeadVerdict;
import org.milab.stage.HeadVerdict.Score;
import org.milab.stage.ProtocolVerdict;
import org.milab.stage.RunFolder;
import org.milab.stats.Num;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Protocol v2's figures, chosen per question rather than per column: the deciding causal evidence (one
 * heatmap, effect / gap with its CI), the significance of each head after correction (-log10 p with the
 * threshold marked), then every other non-constant score, one colour scale per quantity shared by all its
 * panels. Constant columns (the same value for every head, e.g. {@code gap}) get no figure: they say
 * nothing per head, and the caption lists them with their value.
 */
final class V2Figures {
    static final String SECTION = "Protocol v2: every score";
    /** The deciding evidence: mean ablation effect / gap, the necessity test every head gets. */
    static final String DECIDING = "mean_ablation_norm";
    /** The same test in logits, drawn instead when no head has an effect / gap (the gap is too small or of the wrong sign). */
    static final String DECIDING_RAW = "mean_ablation_drop";
    /** An attention probe that gives v2's roles, on the first screen beside the causal evidence. */
    record RoleScore(String column, String title, String measures) {}

    static final List<RoleScore> ROLE_SCORES = List.of(
            new RoleScore("induction_excess", "Induction attention (induction_excess)",
                    "attention to the token after the current token's earlier copy, minus the same on a non-repeating control"),
            new RoleScore("previous_excess", "Previous-token attention (previous_excess)", "attention to the previous token, minus uniform attention"));
    /** -log10 p is drawn up to this; smaller p (down to 0 in float) are clamped and shown as "< 1e-16". */
    static final double MAX_LOG10 = 16;

    private V2Figures() {}

    /** The quantities that share a colour scale: name-pattern -> (title, scale), first match wins. */
    enum Quantity {
        NORMALIZED("effect / gap"),
        ATTENTION("attention"),
        LOGITS("logit diff"),
        P("-log10 p"),
        OTHER("value");

        final String title;

        Quantity(String title) {
            this.title = title;
        }

        static Quantity of(String column) {
            if (column.startsWith("p_")) return P;
            if (column.endsWith("_norm")) return NORMALIZED;
            if (column.endsWith("_excess") || column.equals("bos_attention") || column.equals("copy_fraction")
                    || column.equals("copy_chance")) return ATTENTION;
            if (column.endsWith("_drop") || column.endsWith("_recovery") || column.equals("gap")) return LOGITS;
            return OTHER;
        }
    }

    static double alpha(RunFolder run) {
        double a = run.json(V2Verdicts.DIR + "/protocol.json").path("thresholds").path("alpha").asDouble(Double.NaN);
        return Double.isFinite(a) && a > 0 ? a : V2Protocol.THRESHOLDS.alpha();
    }

    /**
     * The figures that answer the v2 question, for the page's first screen: the deciding causal evidence (effect /
     * gap; in logits when no head has one), its significance, and the attention probes that give the roles.
     */
    static List<Figure> answer(RunFolder run, ProtocolVerdict v2, List<Head> grid, String section) {
        List<Figure> out = new ArrayList<>();
        List<Cell> deciding = cells(v2, DECIDING), raw = cells(v2, DECIDING_RAW);
        if (!deciding.isEmpty())
            out.add(Charts.headHeatmap("v2-deciding", section, "Deciding evidence: mean-ablation effect / gap",
                    "LD drop when the head's hook_z is mean-ablated, over the clean-corrupt gap (" + RunFolder.link(V2Verdicts.VERDICTS)
                            + "); -1..1 like every normalized effect here. Faded, dot: 95% CI contains 0.",
                    deciding, grid, Quantity.NORMALIZED.title, EffectFigures.NORMALIZED, null));
        else if (!raw.isEmpty()) {
            double maxAbs = raw.stream().mapToDouble(c -> Math.abs(c.value())).max().orElse(1);
            String gap = cells(v2, "gap").stream().findFirst().map(c -> "the clean-corrupt gap is " + Num.sig(c.value()))
                    .orElse("no clean-corrupt gap");
            out.add(Charts.headHeatmap("v2-deciding", section, "Deciding evidence: mean-ablation LD drop (logits)",
                    "No head has an effect / gap (" + gap + ": nothing to divide by), so the raw LD drop when hook_z is mean-ablated ("
                            + RunFolder.link(V2Verdicts.VERDICTS) + "), +-" + Num.sig(maxAbs) + ". Faded, dot: 95% CI contains 0.",
                    raw, grid, Quantity.LOGITS.title, Scale.diverging(maxAbs), null));
        }
        significance(run, v2, grid, "p_adjusted_min", section).ifPresent(out::add);
        for (RoleScore r : ROLE_SCORES) {
            List<Cell> cells = cells(v2, r.column());
            if (cells.size() > 1 && cells.stream().anyMatch(c -> !c.value().equals(cells.get(0).value())))
                out.add(Charts.headHeatmap("v2-heatmap-" + r.column(), section, r.title(), "v2's probe: " + r.measures() + " ("
                                + RunFolder.link(V2Verdicts.VERDICTS) + "); -1..1 like every attention score. Faded, dot: 95% CI contains 0.",
                        cells, grid, Quantity.ATTENTION.title, Scale.diverging(1.0), null));
        }
        return out;
    }

    /** Every other score column with a figure worth drawing. */
    static Result rest(RunFolder run, ProtocolVerdict v2, List<Head> grid) {
        List<String> columns = new ArrayList<>();
        for (HeadVerdict h : v2.heads()) for (Score s : h.scores()) if (!columns.contains(s.name())) columns.add(s.name());
        Map<Quantity, Double> maxAbs = new LinkedHashMap<>();
        for (String c : columns)
            for (Cell cell : cells(v2, c)) maxAbs.merge(Quantity.of(c), Math.abs(cell.value()), Math::max);
        List<Figure> out = new ArrayList<>();
        List<String> constant = new ArrayList<>(), empty = new ArrayList<>();
        // drawn on the first screen (answer): the deciding evidence (in logits when nothing has an effect / gap) and the role probes
        boolean rawDecides = cells(v2, DECIDING).isEmpty();
        for (String c : columns) {
            if (c.equals(DECIDING) || c.equals("p_adjusted_min") || (rawDecides && c.equals(DECIDING_RAW))) continue;
            List<Cell> cells = cells(v2, c);
            if (cells.isEmpty()) {
                empty.add(c);
                continue;
            }
            double v0 = cells.get(0).value();
            if (cells.size() > 1 && cells.stream().allMatch(x -> x.value() == v0)) {
                constant.add("`" + c + "` = " + Num.sig(v0));
                continue;
            }
            if (ROLE_SCORES.stream().anyMatch(r -> r.column().equals(c))) continue;
            Quantity q = Quantity.of(c);
            if (q == Quantity.P) {
                significance(run, v2, grid, c, SECTION).ifPresent(out::add);
                continue;
            }
            Scale scale = switch (q) {
                case NORMALIZED -> EffectFigures.NORMALIZED;
                case ATTENTION -> Scale.diverging(1.0);
                default -> Scale.diverging(maxAbs.getOrDefault(q, 1.0));
            };
            String scaleText = switch (q) {
                case NORMALIZED -> EffectFigures.SHARED_SCALE;
                case ATTENTION -> "one scale for every attention score: -1 to 1";
                case LOGITS -> "one scale for every raw logit difference of this table: +-" + Num.sig(maxAbs.get(q));
                default -> "its own scale, +-" + Num.sig(maxAbs.get(q));
            };
            boolean ci = cells.stream().anyMatch(x -> x.ciLow() != null);
            out.add(Charts.headHeatmap("v2-heatmap-" + c, SECTION, "v2: " + c,
                    "Per head, from " + RunFolder.link(V2Verdicts.VERDICTS) + " (" + scaleText + "). "
                            + (ci ? "Faded cells with a dot: the 95% bootstrap CI contains 0." : "No CI for this score."),
                    cells, grid, q.title, scale, null));
        }
        StringBuilder note = new StringBuilder();
        if (!constant.isEmpty()) note.append("No figure for constant columns (the same for every head): ").append(String.join(", ", constant)).append(". ");
        if (!empty.isEmpty()) note.append("No figure for columns without any value: `").append(String.join("`, `", empty)).append("`.");
        return new Result(out, note.length() == 0 ? null : note.toString().trim());
    }

    record Result(List<Figure> figures, String note) {}

    /** A p-value column on a -log10 scale (0 .. 16, clamped) with the heads below alpha starred. */
    static Optional<Figure> significance(RunFolder run, ProtocolVerdict v2, List<Head> grid, String column, String section) {
        double alpha = alpha(run);
        List<Cell> cells = new ArrayList<>();
        for (HeadVerdict h : v2.heads())
            for (Score s : h.scores())
                if (s.name().equals(column) && s.value() != null && !s.value().isNaN()) {
                    double p = s.value();
                    double lg = p <= 0 ? MAX_LOG10 : Math.min(MAX_LOG10, -Math.log10(p));
                    cells.add(new Cell(h.head(), lg, EffectFigures.extra("p", Num.p(p), "significant", p < alpha, "role", h.role(),
                            "verdict", h.status())));
                }
        if (cells.isEmpty()) return Optional.empty();
        String id = column.equals("p_adjusted_min") ? "v2-significance" : "v2-heatmap-" + column;
        return Optional.of(Charts.headHeatmap(id, section, "Significance: " + column + " (-log10)",
                "Holm-adjusted p (" + RunFolder.link(V2Verdicts.VERDICTS) + ") as -log10 p, 0 to "
                        + (int) MAX_LOG10 + " (p < 1e-16 drawn as 16). Star: p < alpha = " + Num.sig(alpha)
                        + " (-log10 = " + Num.sig(-Math.log10(alpha)) + ").",
                cells, grid, Quantity.P.title, Scale.sequential(MAX_LOG10, "purples"), "significant"));
    }

    /** One score column's finite values, with their CIs. */
    static List<Cell> cells(ProtocolVerdict v2, String column) {
        List<Cell> out = new ArrayList<>();
        for (HeadVerdict h : v2.heads())
            for (Score s : h.scores())
                if (s.name().equals(column) && s.value() != null && Double.isFinite(s.value()))
                    out.add(new Cell(h.head(), s.value(), s.ciLow(), s.ciHigh(), EffectFigures.extra("role", h.role(), "verdict", h.status())));
        return out;
    }

    /** The number that decided a head's verdict, for the one-line evidence table: by role, else the necessity test. */
    static Optional<Score> decidingScore(HeadVerdict h) {
        List<String> order = "previous_token".equals(h.role())
                ? List.of("composition_norm", DECIDING, "resample_ablation_norm", "denoising_norm", "leave_one_out_norm")
                : List.of(DECIDING, "denoising_norm", "resample_ablation_norm", "leave_one_out_norm", "composition_norm");
        for (String name : order)
            for (Score s : h.scores()) if (s.name().equals(name) && s.value() != null && Double.isFinite(s.value())) return Optional.of(s);
        return h.scores().stream().filter(s -> s.value() != null && Double.isFinite(s.value()) && !s.name().startsWith("p_")).findFirst();
    }
}
