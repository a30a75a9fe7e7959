package org.milab.lab;

import org.milab.util.UserError;

import java.util.Map;
import java.util.ServiceLoader;
import org.milab.lab.EngineFactory;

/**
 * An engine other than the local one, found on the classpath by name (META-INF/services), so the core
 * build needs none of its dependencies: the spark module provides {@code spark}.
 */
public interface EngineProvider {
    String LOCAL = "local";

    /** The name runs choose it by ({@code --engine}, the Makefile's {@code ENGINE=}). */
    String name();

    /** @param options engine options by name (e.g. {@code master}); unknown ones are an error */
    EngineFactory factory(Map<String, String> options);

    /** The factory of the engine called {@code name}, or a UserError naming what to do when it is absent. */
    static EngineFactory find(String name, Map<String, String> options) {
        if (LOCAL.equals(name)) return EngineFactory.LOCAL;
        StringBuilder known = new StringBuilder(LOCAL);
        for (EngineProvider p : ServiceLoader.load(EngineProvider.class)) {
            if (p.name().equals(name)) return p.factory(options);
            known.append(", ").append(p.name());
        }
        throw new UserError("Engine '" + name + "' is not available in this build (available: " + known + ").",
                "ENGINE=spark needs the spark module on the classpath: use 'make run-heldout ENGINE=spark "
                        + "SPARK_MASTER=local[2]', or spark-submit the jar built by 'make spark-jar'.");
    }
}
