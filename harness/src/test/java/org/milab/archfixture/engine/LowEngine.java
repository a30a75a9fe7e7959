package org.milab.archfixture.engine;

import org.milab.archfixture.run.HighRun;

/** Planted violation: a lower layer (engine) uses a higher one (run), closing a cycle. */
public class LowEngine {
    public String name(HighRun run) {
        return "engine of " + run;
    }
}
