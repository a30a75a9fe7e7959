package org.milab.engine;

import java.util.List;

/** One patched forward pass: a prompt, its overrides, and the tokens whose final logits the metric needs. */
public record PatchRow(TokenIds prompt, List<SitePatch> overrides, int[] metricTokens) {
    public PatchRow {
        overrides = List.copyOf(overrides);
        metricTokens = metricTokens.clone();
    }
}
