package org.milab.diagnosis;

/** What the diagnosis says of one head; only the first four are "clear" claims a protocol is judged against. */
public enum HeadClass {
    /** prefix-matching score >= threshold and the ablation raises the second-copy loss (CI low > effect fraction). */
    INDUCTION,
    /** previous-token score >= threshold and the ablation raises the second-copy loss (CI low > effect fraction). */
    PREVIOUS_TOKEN,
    /** prefix-matching score >= threshold and the ablation LOWERS the second-copy loss (CI high < -effect fraction). */
    NEGATIVE,
    /** every attention score below the "none" threshold and the ablation effect's CI inside +-effect fraction. */
    NOT_INVOLVED,
    /** anything else: mixed or partial evidence; a protocol may say what it likes about such a head. */
    UNCLEAR;

    public String label() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }

    public boolean clear() {
        return this != UNCLEAR;
    }
}
