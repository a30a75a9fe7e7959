package org.milab.protocol.reference;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/** The reference's layer selections. */
public final class Layers {
    private Layers() {}

    /**
     * {@code auto_even_6}: round(i * (L - 1) / 5) for i = 0..5 with Python's round-half-even, duplicates
     * removed: [0, 2, 4, 7, 9, 11] for GPT-2 small, [0, 1] for a two-layer model.
     */
    public static List<Integer> autoEven6(int nLayer) {
        Set<Integer> out = new LinkedHashSet<>();
        for (int i = 0; i <= 5; i++) out.add((int) Math.rint(i * (nLayer - 1) / 5.0));
        return new ArrayList<>(out);
    }
}
