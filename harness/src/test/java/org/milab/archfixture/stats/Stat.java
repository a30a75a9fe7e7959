package org.milab.archfixture.stats;

/** The sibling that {@code Prompt} uses. */
public class Stat {
}
