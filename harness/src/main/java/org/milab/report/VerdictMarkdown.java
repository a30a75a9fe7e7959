package org.milab.report;

import org.milab.stage.HeadVerdict.Outcome;
import org.milab.report.TruthComparison.Fooled;
import org.milab.report.TruthComparison.Missed;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import org.milab.stage.RunFolder;
import org.milab.stage.HeadVerdict;
import org.milab.stage.ProtocolVerdict;
import org.milab.protocol.v2.V2Verdicts;

/**
 * The answer first: the opening lines of summary.md and of the terminal output say, per protocol, which
 * heads it kept, its counts per status, and how that compares with the ground truth; then one Markdown
 * table per protocol with every head's verdict. Numbers have 4 significant digits; each line links the
 * table behind it.
 */
public final class VerdictMarkdown {
    private VerdictMarkdown() {}

    /** At most 12 lines: a title, then per protocol its verdict, its truth comparison and its decoys; then the circuit's. */
    public static List<String> opening(RunVerdict v) {
        List<String> out = new ArrayList<>();
        out.add("# Verdict: run " + v.runId() + " on `" + v.model() + "`");
        out.add("");
        if (v.reference().isEmpty()) out.add("- **reference protocol**: not in this run (no S12 sweep table).");
        v.reference().ifPresent(p -> out.addAll(protocolLines(p, v.truth())));
        if (v.v2().isEmpty()) out.add("- **protocol v2**: not in this run (no `" + RunFolder.link(V2Verdicts.VERDICTS) + "`).");
        v.v2().ifPresent(p -> out.addAll(protocolLines(p, v.truth())));
        v.circuit().ifPresent(c -> out.addAll(c.lines()));
        if (!v.truth().known()) out.add("- ground truth: none for this model (" + v.truth().note() + ").");
        return out;
    }

    private static List<String> protocolLines(ProtocolVerdict p, Truth truth) {
        List<String> out = new ArrayList<>();
        List<HeadVerdict> kept = p.with(Outcome.KEPT), partly = p.with(Outcome.PARTLY);
        out.add("- **" + p.title() + "** kept " + heads(kept) + (partly.isEmpty() ? "" : "; survived partly " + heads(partly))
                + ". " + p.headline() + ".");
        if (!truth.known()) return out;
        TruthComparison c = TruthComparison.of(p, truth);
        StringBuilder line = new StringBuilder("  - vs ground truth: precision " + c.precision() + ", recall " + c.recall());
        if (!c.missed().isEmpty())
            line.append("; missed ").append(c.missed().stream().map(VerdictMarkdown::missed).collect(Collectors.joining("; ")));
        out.add(line.append('.').toString());
        out.add("  - decoys that fooled a stage: " + (c.fooled().isEmpty() ? "none"
                : c.fooled().stream().map(VerdictMarkdown::fooled).collect(Collectors.joining("; "))) + ".");
        return out;
    }

    private static String heads(List<HeadVerdict> vs) {
        if (vs.isEmpty()) return "no head";
        return vs.stream().map(v -> v.head().label() + (v.role() == null ? "" : " (" + v.role() + ")")).collect(Collectors.joining(", "));
    }

    private static String missed(Missed m) {
        String who = m.truth().head().label() + " (" + m.truth().roleKey() + ")";
        return m.verdict().map(v -> who + ", lost at " + v.stage() + " `" + v.status() + "`: " + v.reason())
                .orElse(who + ", never tested");
    }

    private static String fooled(Fooled f) {
        return f.truth().head().label() + " (" + f.truth().roleKey() + "): "
                + f.passes().stream().map(ProtocolVerdict.Pass::stage).distinct().collect(Collectors.joining(", "));
    }

    /** One table per protocol: every head, its outcome, the deciding stage and status, why, and the truth. */
    public static String details(RunVerdict v) {
        StringBuilder sb = new StringBuilder();
        for (ProtocolVerdict p : v.protocols()) {
            sb.append("\n## ").append(p.title()).append(": every head\n\n");
            sb.append("| head | role tested | outcome | decided at | status | why |").append(v.truth().known() ? " truth |" : "")
                    .append(" table |\n|---|---|---|---|---|---|").append(v.truth().known() ? "---|" : "").append("---|\n");
            for (HeadVerdict h : p.heads()) {
                sb.append("| ").append(h.head().label()).append(" | ").append(cell(h.role())).append(" | ").append(h.outcome().label())
                        .append(" | ").append(h.stage()).append(" | `").append(cell(h.status())).append("` | ").append(cell(h.reason()))
                        .append(" |");
                if (v.truth().known()) sb.append(' ').append(v.truth().of(h.head()).map(Truth.TruthHead::describe).orElse("")).append(" |");
                sb.append(" [").append(h.table().substring(h.table().lastIndexOf('/') + 1)).append("](").append(h.table()).append(") |\n");
            }
            List<ProtocolVerdict.Pass> passes = p.passes();
            if (!passes.isEmpty()) {
                sb.append("\nStages each head got through:\n\n");
                passes.stream().collect(Collectors.groupingBy(ProtocolVerdict.Pass::head, java.util.TreeMap::new, Collectors.toList()))
                        .forEach((h, ps) -> sb.append("- ").append(h.label()).append(": ")
                                .append(ps.stream().map(x -> x.stage() + " " + x.what()).collect(Collectors.joining("; "))).append('\n'));
            }
        }
        if (v.truth().known()) sb.append("\nGround truth from `").append(v.truth().note()).append("`.\n");
        return sb.toString();
    }

    static String cell(String s) {
        return s == null ? "" : s.replace("\n", " ").replace("|", "\\|");
    }
}
