package org.milab.util;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * The column (or JSON key) a record component becomes when it is not the component's name in snake_case
 * ({@code tables.RecordSchema.snakeCase}): the one place where a written name and the Java name differ, kept for
 * names a file format already fixed (e.g. run_manifest.json's {@code "model"} for {@code RunConfig.modelId}, the
 * reference's {@code is_positive_induction_example} for {@code PromptRecord.positiveInductionExample}). It sits in the
 * bottom layer so that a record below {@code tables} (a {@code prompts.PromptRecord}) can carry it too.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.RECORD_COMPONENT)
public @interface ColumnName {
    String value();
}
