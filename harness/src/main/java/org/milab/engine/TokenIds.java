package org.milab.engine;

import java.util.Arrays;

/** A tokenized prompt (BOS included) with value equality, so identical prompts share one cache entry. */
public record TokenIds(int[] ids) {
    public TokenIds {
        ids = ids.clone();
    }

    public int length() {
        return ids.length;
    }

    @Override
    public int[] ids() {
        return ids.clone();
    }

    int[] raw() {
        return ids;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TokenIds t && Arrays.equals(ids, t.ids);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(ids);
    }

    @Override
    public String toString() {
        return Arrays.toString(ids);
    }
}
