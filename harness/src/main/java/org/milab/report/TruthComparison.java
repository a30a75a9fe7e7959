package org.milab.report;

import org.milab.graph.Head;
import org.milab.stage.HeadVerdict.Outcome;
import org.milab.report.Truth.TruthHead;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.milab.stage.HeadVerdict;
import org.milab.stage.ProtocolVerdict;
import org.milab.stats.Num;

/**
 * A protocol's verdicts graded against a ground truth. Claims are the heads it kept with a role other
 * than "other"; targets are the truth heads with the role it tests for (the reference tests only
 * induction), or every in-circuit head when each verdict names its own role (v2). A claim is correct when
 * the truth gives that head the claimed role.
 *
 * @param missed targets no correct claim names, with the verdict that lost them (empty when never tested)
 * @param fooled heads the truth does not count as targets that still got through at least one stage
 */
public record TruthComparison(List<HeadVerdict> claims, List<HeadVerdict> correct, List<TruthHead> targets,
                              List<TruthHead> found, List<Missed> missed, List<Fooled> fooled) {

    public record Missed(TruthHead truth, Optional<HeadVerdict> verdict) {}

    public record Fooled(TruthHead truth, List<ProtocolVerdict.Pass> passes) {}

    public static TruthComparison of(ProtocolVerdict p, Truth truth) {
        List<HeadVerdict> claims = p.heads().stream().filter(v -> v.outcome() == Outcome.KEPT)
                .filter(v -> v.role() != null && !v.role().isBlank() && !v.role().equalsIgnoreCase("other")).toList();
        List<HeadVerdict> correct = claims.stream()
                .filter(v -> truth.of(v.head()).map(t -> t.matches(v.role())).orElse(false)).toList();
        List<TruthHead> targets = p.targetRole() != null
                ? truth.heads().stream().filter(t -> t.matches(p.targetRole())).toList()
                : truth.inCircuit();
        List<TruthHead> found = new ArrayList<>();
        List<Missed> missed = new ArrayList<>();
        for (TruthHead t : targets) {
            if (correct.stream().anyMatch(v -> v.head().equals(t.head()))) found.add(t);
            else missed.add(new Missed(t, p.of(t.head())));
        }
        List<Fooled> fooled = new ArrayList<>();
        for (TruthHead t : truth.heads()) {
            if (targets.contains(t)) continue;
            List<ProtocolVerdict.Pass> passes = p.passesOf(t.head());
            if (!passes.isEmpty()) fooled.add(new Fooled(t, passes));
        }
        // a claimed role the truth contradicts on a target head (e.g. the induction head called previous-token)
        for (HeadVerdict v : claims) {
            Head h = v.head();
            if (!correct.contains(v) && targets.stream().anyMatch(t -> t.head().equals(h)))
                truth.of(h).ifPresent(t -> fooled.add(new Fooled(t, p.passesOf(h))));
        }
        return new TruthComparison(claims, correct, targets, List.copyOf(found), List.copyOf(missed), List.copyOf(fooled));
    }

    /** "2/2" or "n/a (no head kept)". */
    public String precision() {
        return claims.isEmpty() ? "n/a (no head kept)" : Num.ratio(correct.size(), claims.size());
    }

    public String recall() {
        return targets.isEmpty() ? "n/a (the truth has no such head)" : Num.ratio(found.size(), targets.size());
    }
}
