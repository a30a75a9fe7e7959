package org.milab.runtime;

import org.milab.util.UserError;

import java.util.Locale;

/** Where ONNX Runtime runs: {@code auto} tries CUDA and falls back to CPU, recording why. */
public enum Device {
    CPU, CUDA, AUTO;

    public static Device parse(String s) {
        try {
            return valueOf(s.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException | NullPointerException e) {
            throw new UserError("Unknown device '" + s + "'.", "Use one of cpu, cuda, auto (e.g. DEVICE=cpu).");
        }
    }

    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }
}
