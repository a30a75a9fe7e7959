package org.milab.archclean.run;

import org.milab.archclean.engine.Engine;

/** The clean fixture's upper layer, using the lower one (the allowed direction). */
public class Run {
    public final Engine engine = new Engine();
}
