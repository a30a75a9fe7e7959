package org.milab.lab;

import org.milab.lab.LabModel;
import org.milab.engine.Engine;
import org.milab.engine.InterventionEngine;

/**
 * Chooses the engine a {@link LabModel}'s stages use. {@link #LOCAL} is the in-process engine; others come
 * from an {@link EngineProvider} on the classpath.
 */
@FunctionalInterface
public interface EngineFactory {
    EngineFactory LOCAL = (model, local) -> local;

    /**
     * @param model the opened model (graphs, manifests, batch limits)
     * @param local its in-process engine, which another engine may use for what it does not distribute
     */
    Engine open(LabModel model, InterventionEngine local);
}
