package org.milab.protocol.v2;

/**
 * The attention probe of Olsson et al.: repeat = BOS + r + r (r = n distinct pool tokens), and its
 * non-repeating control BOS + s (s = 2n distinct pool tokens, same length), which gives every attention
 * score its chance baseline measured the same way.
 */
public record AttentionProbe(String id, int seed, int index, int n, int[] repeat, int[] control) {
    public AttentionProbe {
        repeat = repeat.clone();
        control = control.clone();
    }

    @Override
    public int[] repeat() {
        return repeat.clone();
    }

    @Override
    public int[] control() {
        return control.clone();
    }
}
