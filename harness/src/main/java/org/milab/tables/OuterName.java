package org.milab.tables;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * In a record flattened into a table row ({@link Flattened}), this component's column is named by the outer
 * component alone: the estimate of a score is {@code induction_excess}, beside {@code induction_excess_ci_low}.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.RECORD_COMPONENT)
public @interface OuterName {}
