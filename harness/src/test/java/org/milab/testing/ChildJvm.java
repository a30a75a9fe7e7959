package org.milab.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Starts another JVM on the test classpath: for what only a separate process shows (file locks between
 * processes, kills, a process without network).
 */
public final class ChildJvm {
    private ChildJvm() {}

    /** What a finished child printed and returned. */
    public record Result(int exit, String out, String err) {}

    /** The command line that runs {@code mainClass} with {@code args} in a fresh JVM. */
    public static List<String> command(String mainClass, List<String> args) {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx512m", "--add-opens=java.base/java.nio=ALL-UNNAMED", "-DOPT_OUT_TRACKING=true",
                "-cp", System.getProperty("java.class.path"), mainClass));
        cmd.addAll(args);
        return cmd;
    }

    public static Process start(List<String> command, Path dir) throws IOException {
        Path out = Files.createTempFile(dir, "child-", ".out"), err = Files.createTempFile(dir, "child-", ".err");
        ProcessBuilder pb = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile());
        pb.environment().put("OPT_OUT_TRACKING", "true");
        Process p = pb.start();
        OUTPUTS.put(p, new Path[]{out, err});
        return p;
    }

    private static final java.util.Map<Process, Path[]> OUTPUTS = new java.util.concurrent.ConcurrentHashMap<>();

    public static Result await(Process p, long seconds) throws IOException, InterruptedException {
        if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("child JVM did not finish in " + seconds + " s: " + p.info().commandLine().orElse(""));
        }
        Path[] files = OUTPUTS.remove(p);
        return new Result(p.exitValue(), Files.readString(files[0]), Files.readString(files[1]));
    }

    public static Result run(List<String> command, Path dir, long seconds) throws IOException, InterruptedException {
        return await(start(command, dir), seconds);
    }
}
