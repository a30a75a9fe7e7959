package org.milab.tables;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * How the columns of this record are named when it is a component of a table row ({@link RecordSchema} flattens a
 * record-typed component into its record's columns, in place): {@link Order#OUTER_INNER} joins the outer
 * component's column name before each inner one ({@code induction_excess} + {@code ci_low} ->
 * {@code induction_excess_ci_low}, the default when a record has no annotation), {@link Order#INNER_OUTER} after it
 * ({@code p_raw} + {@code mean_ablation} -> {@code p_raw_mean_ablation}). A component marked {@link OuterName}
 * takes the outer name alone.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
public @interface Flattened {
    Order value();

    enum Order { OUTER_INNER, INNER_OUTER }
}
