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
        super(oneParagraph(problem) + (fix == null || fix.isBlank() ? "" : " Fix: " + oneParagraph(fix)), cause);
        this.fix = fix;
    }

    /** Library messages quoted in a problem (Jackson's "at [Source: ...]" lines) stay on the message's one line. */
    private static String oneParagraph(String s) {
        return s.strip().replaceAll("\\s*\\R\\s*", " ");
    }

    public String fix() {
        return fix;
    }
}
