package org.milab.tables;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * In a JSON tree ({@link RecordSchema#tree}), an extra key written just before this component, holding the value
 * of another component of the same record: for a file format that repeats one value under a second name
 * (run_manifest.json's {@code sweep_seeds} is {@code RunConfig.controlSeeds}, as the reference recorded it).
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.RECORD_COMPONENT)
public @interface PrecededBy {
    /** The extra key. */
    String key();

    /** The Java name of the component whose value it holds. */
    String component();
}
