package org.milab.util;

/**
 * An error caused by the user's input or environment (missing weights, bad config value, a target that
 * is not one token, CUDA absent...). The CLI prints {@link #getMessage()} as one paragraph, without a
 * stack trace, and exits non-zero. The message always says what failed and how to fix it.
 */
public class UserError extends RuntimeException {
    private final String fix;

    public UserError(String problem, String fix) {
        this(problem, fix, null);
    }

    public UserError(String problem, String fix, Throwable cause) {
        super(problem.strip() + (fix == null || fix.isBlank() ? "" : " Fix: " + fix.strip()), cause);
        this.fix = fix;
    }

    public String fix() {
        return fix;
    }
}
