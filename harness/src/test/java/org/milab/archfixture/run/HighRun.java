package org.milab.archfixture.run;

import org.milab.archfixture.engine.LowEngine;

/** The allowed direction (run uses engine); with LowEngine it forms a cycle. */
public class HighRun {
    public final LowEngine engine = new LowEngine();
}
