package org.milab.circuit;

/**
 * One tokenized task example: clean and corrupt prompt (BOS first, equal length so positions align), the
 * answer token and the contrast token, read at the final position.
 */
public record TokenPair(int index, int[] clean, int[] corrupt, int answer, int contrast) {
    public TokenPair {
        if (clean.length != corrupt.length)
            throw new IllegalArgumentException("example " + index + ": clean has " + clean.length + " tokens, corrupt "
                    + corrupt.length + "; edge patching needs aligned positions");
    }

    public int length() {
        return clean.length;
    }
}
