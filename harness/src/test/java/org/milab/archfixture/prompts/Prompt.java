package org.milab.archfixture.prompts;

import org.milab.archfixture.stats.Stat;

/** Planted violation: prompts and stats are siblings in one layer; prompts uses stats. */
public class Prompt {
    public final Stat stat = new Stat();
}
