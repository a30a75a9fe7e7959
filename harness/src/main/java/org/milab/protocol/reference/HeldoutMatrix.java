package org.milab.protocol.reference;

import org.milab.graph.Head;
import org.milab.protocol.reference.HeadPatching;
import org.milab.protocol.reference.Intervention;
import org.milab.protocol.reference.PositionLabel;

import org.milab.prompts.ExampleSelection;
import org.milab.prompts.HeldoutPrompts;
import org.milab.prompts.PromptRecord;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

/** The reference's held-out job matrix for one seed (over its 16 GPT-2 heads, or any heads): the benchmark workload. */
public final class HeldoutMatrix {
    /** The reference's pre-registered held-out heads (spec S13), in candidate order. */
    public static final List<Head> REFERENCE_HEADS = List.of(new Head(7, 7), new Head(9, 11), new Head(7, 11), new Head(7, 0),
            new Head(0, 8), new Head(0, 1), new Head(0, 5), new Head(0, 10), new Head(11, 8), new Head(0, 4),
            new Head(9, 5), new Head(11, 0), new Head(4, 1), new Head(4, 9), new Head(11, 9), new Head(11, 7));

    private HeldoutMatrix() {}

    public static List<HeadPatching.Job> jobs(int seed) {
        return jobs(seed, REFERENCE_HEADS);
    }

    /** Every scored held-out record x {@code heads} x the three interventions x final and previous-occurrence positions. */
    public static List<HeadPatching.Job> jobs(int seed, List<Head> heads) {
        List<PromptRecord> records = HeldoutPrompts.generate(seed, 24);
        Map<String, PromptRecord> byId = records.stream().collect(Collectors.toMap(PromptRecord::exampleId, Function.identity()));
        List<PromptRecord> selected = ExampleSelection.select(records, ExampleSelection.HELDOUT_FAMILIES, 12, seed);
        List<HeadPatching.Job> jobs = new ArrayList<>();
        for (int c = 0; c < heads.size(); c++)
            for (PromptRecord r : selected)
                for (Intervention iv : Intervention.values())
                    for (PositionLabel p : List.of(PositionLabel.FINAL, PositionLabel.PREVIOUS_OCCURRENCE))
                        jobs.add(new HeadPatching.Job(r, byId.get(r.pairedPositiveExampleId()),
                                String.format("heldout_cand_%03d", c), heads.get(c), iv, p));
        return jobs;
    }

    public static int candidateIndex(HeadPatching.Job j) {
        return Integer.parseInt(j.candidateId().substring("heldout_cand_".length()));
    }
}
