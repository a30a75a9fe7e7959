package org.milab.runtime;

import java.io.IOException;
import java.io.InputStream;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.CodeSource;
import java.util.Enumeration;
import java.util.Locale;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * Prepares ONNX Runtime's native side before it loads, once per JVM.
 * <ul>
 *   <li>Telemetry off: ONNX Runtime 1.29's Linux and macOS builds upload usage events to Microsoft (six to eight
 *   DNS lookups of mobile.events.data.microsoft.com per run-heldout, seen with strace), and only the environment
 *   variable {@code ORT_DISABLE_TELEMETRY=1}, read when the library initializes, stops all of it; the Java API's
 *   {@code setTelemetry(false)} ({@link ModelSessions#environment()}) comes too late for the start-up event. So the
 *   variable is put into this process's environment (libc {@code setenv} through JNA) unless the user set it.</li>
 *   <li>The shared libraries are extracted once per version into a cache folder ({@code $MILAB_CACHE_DIR/native/},
 *   default {@code ~/.cache/milab/native/}) and loaded from there ({@code onnxruntime.native.path}), instead of
 *   being copied into a new {@code onnxruntime-java*} temp folder by every JVM, which a killed JVM leaves behind
 *   with the 28.6 MB library in it.</li>
 * </ul>
 * DJL's tracking is switched off in {@code Tokenizer}.
 */
public final class NativeLibraries {
    public static final String CACHE_ENV = "MILAB_CACHE_DIR";
    public static final String ORT_TELEMETRY_ENV = "ORT_DISABLE_TELEMETRY";
    private static final String ORT_PATH = "onnxruntime.native.path";
    private static boolean prepared;

    private NativeLibraries() {}

    /** Idempotent; must run before the first ONNX Runtime or DJL class initializes. */
    public static synchronized void prepare() {
        if (prepared) return;
        prepared = true;
        disableTelemetry();
        if (System.getProperty(ORT_PATH) != null) return; // the user chose where the libraries are
        try {
            Path dir = extractOrt();
            if (dir != null) System.setProperty(ORT_PATH, dir.toString());
        } catch (IOException | RuntimeException e) {
            System.err.println("note: ONNX Runtime's native libraries could not be cached (" + e.getMessage()
                    + "); ONNX Runtime extracts them into the temp folder instead");
        }
    }

    /** Whether ORT_DISABLE_TELEMETRY is set in the native environment ONNX Runtime reads. */
    public static boolean telemetryDisabledInEnvironment() {
        return "1".equals(LibC.get(ORT_TELEMETRY_ENV));
    }

    private static void disableTelemetry() {
        if (System.getenv(ORT_TELEMETRY_ENV) != null) return; // the user's explicit choice
        try {
            LibC.set(ORT_TELEMETRY_ENV, "1");
        } catch (LinkageError | RuntimeException e) {
            // no libc here (Windows): ONNX Runtime's Windows telemetry is ETW, switched off by setTelemetry(false)
        }
    }

    /** The C library's environment functions, which ONNX Runtime's getenv reads (Java's System.getenv is a copy). */
    private static final class LibC {
        interface C extends com.sun.jna.Library {
            int setenv(String name, String value, int overwrite);

            String getenv(String name);
        }

        private static C c;

        private static synchronized C c() {
            if (c == null) c = com.sun.jna.Native.load("c", C.class);
            return c;
        }

        static void set(String name, String value) {
            if (c().setenv(name, value, 1) != 0) throw new IllegalStateException("setenv " + name + " failed");
        }

        static String get(String name) {
            try {
                return c().getenv(name);
            } catch (LinkageError | RuntimeException e) {
                return System.getenv(name);
            }
        }
    }

    /** The cache root: $MILAB_CACHE_DIR, else $XDG_CACHE_HOME/milab, else ~/.cache/milab. */
    public static Path cacheRoot() {
        String env = System.getenv(CACHE_ENV);
        if (env != null && !env.isBlank()) return Path.of(env);
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return base.resolve("milab");
    }

    /**
     * Copies the jar's {@code ai/onnxruntime/native/<os-arch>/} libraries into a folder named after the jar
     * (artifact, version, size), unless they are there already with the right sizes; null when ONNX Runtime is
     * not loaded from a jar (then it finds its libraries itself).
     */
    private static Path extractOrt() throws IOException {
        CodeSource src = ai.onnxruntime.OrtEnvironment.class.getProtectionDomain().getCodeSource(); // no class init
        if (src == null || src.getLocation() == null) return null;
        Path jar;
        try {
            jar = Path.of(src.getLocation().toURI());
        } catch (URISyntaxException | IllegalArgumentException e) {
            return null;
        }
        if (!Files.isRegularFile(jar)) return null;
        String platform = platform();
        String prefix = "ai/onnxruntime/native/" + platform + "/";
        Path dir = cacheRoot().resolve("native").resolve(jar.getFileName().toString().replaceAll("\\.jar$", "")
                + "-" + Files.size(jar) + "-" + platform);
        try (ZipFile zip = new ZipFile(jar.toFile())) {
            int found = 0;
            for (Enumeration<? extends ZipEntry> en = zip.entries(); en.hasMoreElements(); ) {
                ZipEntry e = en.nextElement();
                String name = e.getName();
                if (e.isDirectory() || !name.startsWith(prefix) || name.substring(prefix.length()).contains("/")) continue;
                found++;
                Path target = dir.resolve(name.substring(prefix.length()));
                if (Files.isRegularFile(target) && Files.size(target) == e.getSize()) continue;
                Files.createDirectories(dir);
                Path tmp = Files.createTempFile(dir, "." + target.getFileName(), ".tmp");
                try (InputStream in = zip.getInputStream(e)) {
                    Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
                    Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                } finally {
                    Files.deleteIfExists(tmp);
                }
            }
            return found == 0 ? null : dir;
        }
    }

    /** ONNX Runtime's name for this platform's resource folder (linux-x64, osx-aarch64, win-x64...). */
    static String platform() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        String o = os.contains("mac") || os.contains("darwin") ? "osx" : os.contains("win") ? "win" : "linux";
        String a = arch.startsWith("amd64") || arch.startsWith("x86_64") ? "x64" : arch.startsWith("aarch64") ? "aarch64" : arch;
        return o + "-" + a;
    }
}
