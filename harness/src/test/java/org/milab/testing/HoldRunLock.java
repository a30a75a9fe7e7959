package org.milab.testing;

import org.milab.run.RunDir;

import java.nio.file.Path;

/** A child process that holds a run's lock until its standard input closes: a second, live writer. */
public final class HoldRunLock {
    private HoldRunLock() {}

    public static void main(String[] args) throws Exception {
        try (RunDir f = RunDir.acquire(Path.of(args[0]), args[1], false)) {
            System.out.println("locked " + f.id());
            System.out.flush();
            while (System.in.read() != -1) {
                // hold until the parent closes our stdin (or kills us)
            }
        }
    }
}
