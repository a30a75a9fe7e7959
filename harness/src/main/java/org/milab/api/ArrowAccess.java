package org.milab.api;

import org.milab.util.UserError;

/**
 * Apache Arrow reads and writes off-heap buffers through {@code java.nio} internals, which JDK 17 closes unless
 * the JVM starts with {@code --add-opens=java.base/java.nio=ALL-UNNAMED}. Arrow's own failure is an
 * initializer error deep in its memory classes; this turns it into one message naming the flag.
 */
final class ArrowAccess {
    static final String FLAG = "--add-opens=java.base/java.nio=ALL-UNNAMED";

    private ArrowAccess() {}

    static void run(Runnable arrowWork) {
        try {
            arrowWork.run();
        } catch (RuntimeException | LinkageError e) {
            if (nioOpen() || e instanceof UserError) throw e;
            throw new UserError("Apache Arrow cannot reach java.nio's buffers on this JVM (Java "
                    + Runtime.version().feature() + " without " + FLAG + "): " + e, "Start the JVM with " + FLAG
                    + " (java " + FLAG + " ..., MAVEN_OPTS or surefire's argLine, JShell -R" + FLAG + ").", e);
        }
    }

    /** Whether java.nio is open to this (unnamed) module, i.e. whether the flag was given. */
    static boolean nioOpen() {
        return java.nio.Buffer.class.getModule().isOpen("java.nio", ArrowAccess.class.getModule());
    }
}
