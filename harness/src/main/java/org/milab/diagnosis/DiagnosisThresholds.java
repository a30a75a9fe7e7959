package org.milab.diagnosis;

/**
 * The declared thresholds that turn the diagnosis' measurements into classes (fixed before any zoo model was
 * diagnosed; never tuned to a model). Effects are mean-ablation increases of the second-copy loss, as a
 * fraction of the model's induction gap (mean first-copy loss minus mean second-copy loss), judged by their
 * bootstrap CI over sequences.
 *
 * @param prefixMatching   prefix-matching score at or above which a head attends like an induction head
 * @param previousToken    previous-token score at or above which a head attends like a previous-token head
 * @param attentionNone    below this, a score counts as absent (for "clearly not")
 * @param effectFraction   an ablation effect counts when its CI excludes +-this fraction of the gap
 */
public record DiagnosisThresholds(double prefixMatching, double previousToken, double attentionNone,
                                  double effectFraction) {
    public static final DiagnosisThresholds DEFAULT = new DiagnosisThresholds(0.3, 0.4, 0.15, 0.05);
}
