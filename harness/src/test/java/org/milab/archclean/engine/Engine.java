package org.milab.archclean.engine;

/** The clean fixture's lower layer. */
public class Engine {
}
