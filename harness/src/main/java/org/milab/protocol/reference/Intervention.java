package org.milab.protocol.reference;

/** The head-level interventions of the reference, by their table names. */
public enum Intervention {
    CLEAN_TO_CORRUPT("head_clean_to_corrupt_patch"),
    ZERO_ABLATION("head_zero_ablation"),
    MEAN_ABLATION("head_mean_ablation");

    private final String id;

    Intervention(String id) {
        this.id = id;
    }

    public String id() {
        return id;
    }
}
