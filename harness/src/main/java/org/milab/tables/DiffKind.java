package org.milab.tables;

import java.util.Locale;

/** What one line of a table diff says; {@link #label()} is the value of the diff table's {@code kind} column. */
public enum DiffKind {
    /** A key present only in run A (value_a holds the row's other values as JSON). */
    ONLY_IN_A,
    ONLY_IN_B,
    /** A string or bool cell changed (e.g. an intervention status). */
    STATUS_CHANGE,
    /** A list cell changed (value_a/value_b hold the lists as JSON). */
    LIST_CHANGE,
    /** A numeric cell changed by more than the tolerance; delta = b - a (NaN when exactly one side is NaN). */
    NUMERIC_DELTA,
    /** A cell is null on one side only. */
    NULL_CHANGE,
    COLUMN_ONLY_IN_A,
    COLUMN_ONLY_IN_B,
    /** A non-key column has a different type in the two tables; its values are not compared. */
    TYPE_CHANGE,
    TABLE_ONLY_IN_A,
    TABLE_ONLY_IN_B;

    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
