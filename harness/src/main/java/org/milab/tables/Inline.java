package org.milab.tables;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * In a JSON tree ({@link RecordSchema#tree}), this record-typed component's own entries are written in its
 * place, at the level of its siblings (a table's provenance carries the model's provenance fields flat). In a
 * table row ({@link RecordSchema}) its record's columns likewise keep their own names, without the component's
 * (a group of columns kept in one record: v2/verdicts' scores, or a result row widened by two columns).
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.RECORD_COMPONENT)
public @interface Inline {}
