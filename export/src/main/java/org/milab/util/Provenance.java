package org.milab.util;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/** Facts about the code and machine that produced an artefact. */
public final class Provenance {
    private Provenance() {}

    /** The code's git commit, suffixed {@code -dirty} when the work tree has uncommitted changes. */
    public static String gitCommit(Path dir) {
        String head = git(dir, "rev-parse", "HEAD");
        if (head == null) return "unknown (not a git checkout)";
        String status = git(dir, "status", "--porcelain", "--untracked-files=no");
        return status == null || status.isBlank() ? head : head + "-dirty";
    }

    public static String javaVersion() {
        return System.getProperty("java.vm.name") + " " + System.getProperty("java.runtime.version");
    }

    public static String machine() {
        return System.getProperty("os.name") + " " + System.getProperty("os.arch") + ", "
                + Runtime.getRuntime().availableProcessors() + " cores";
    }

    private static String git(Path dir, String... args) {
        String[] cmd = new String[args.length + 3];
        cmd[0] = "git";
        cmd[1] = "-C";
        cmd[2] = dir.toAbsolutePath().toString();
        System.arraycopy(args, 0, cmd, 3, args.length);
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0) return null;
            return out;
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }
}
