package org.milab.stage;

import org.milab.graph.Head;

import java.util.List;
import org.milab.stage.HeadVerdict;

/**
 * One protocol's answer for a run.
 *
 * @param id         "reference" or "v2"
 * @param title      how people call it
 * @param targetRole the role every head was tested for, or null when each verdict names its own role
 * @param heads      one verdict per head the protocol decided on
 * @param passes     every stage each head got through, so a report can say which decoy fooled which stage
 * @param headline   counts and context for the opening line (already rounded), with table links
 */
public record ProtocolVerdict(String id, String title, String targetRole, List<HeadVerdict> heads, List<Pass> passes,
                              String headline) {

    /** A head got through a stage: it was selected, replicated, registered or confirmed there. */
    public record Pass(Head head, String stage, String what) {}

    public List<HeadVerdict> with(HeadVerdict.Outcome o) {
        return heads.stream().filter(v -> v.outcome() == o).toList();
    }

    public List<Pass> passesOf(Head h) {
        return passes.stream().filter(p -> p.head().equals(h)).toList();
    }

    public java.util.Optional<HeadVerdict> of(Head h) {
        return heads.stream().filter(v -> v.head().equals(h)).findFirst();
    }
}
