package org.milab.stage;

import org.milab.graph.Head;

import java.util.List;
import org.milab.stats.Num;

/**
 * What one protocol concluded about one head.
 *
 * @param role    the role the protocol tested the head for ("induction", "previous_token", ...)
 * @param stage   the stage that decided it ("S16", "S12", "v2")
 * @param status  the protocol's own status string, verbatim
 * @param reason  the numbers behind the decision, rounded for people
 * @param table   the table (relative to the run, with extension) that holds the deciding row
 * @param scores  the scores that decided it, with their CIs where the protocol computes them
 */
public record HeadVerdict(Head head, String role, Outcome outcome, String stage, String status, String reason,
                          String table, List<Score> scores) {

    public enum Outcome {
        KEPT("kept"), PARTLY("survived partly"), REJECTED("rejected"), INCONCLUSIVE("inconclusive");

        private final String label;

        Outcome(String label) {
            this.label = label;
        }

        public String label() {
            return label;
        }
    }

    /** A named score; {@code ciLow}/{@code ciHigh} are null when the protocol computes no interval. */
    public record Score(String name, Double value, Double ciLow, Double ciHigh) {
        public boolean hasCi() {
            return ciLow != null && ciHigh != null;
        }

        /** True when the interval contains 0 (the effect is not distinguishable from none). */
        public boolean ciContainsZero() {
            return hasCi() && ciLow <= 0 && ciHigh >= 0;
        }

        public String text() {
            return hasCi() ? Num.sig(value) + " [" + Num.sig(ciLow) + ", " + Num.sig(ciHigh) + "]" : Num.sig(value);
        }
    }
}
