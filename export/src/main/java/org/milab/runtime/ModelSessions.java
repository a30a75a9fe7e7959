package org.milab.runtime;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtLoggingLevel;
import ai.onnxruntime.OrtProvider;
import ai.onnxruntime.OrtSession;
import org.milab.graph.GraphVariant;
import org.milab.util.UserError;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.Map;
import java.util.function.Consumer;

/**
 * One ONNX Runtime session per graph variant of one exported model, created on first use from the graph
 * file's path (external weights are then mapped, not copied) and reused for every later call.
 */
public final class ModelSessions implements AutoCloseable {
    private static final String CUDA_FIX = "Build and run with the CUDA profile on a machine with CUDA 12 and cuDNN 9 "
            + "(make ... DEVICE=cuda, i.e. mvn -Pcuda, which swaps in the onnxruntime_gpu artifact), "
            + "or use DEVICE=cpu / DEVICE=auto.";

    private final OrtEnvironment env;
    private final Path graphDir;
    private final ExecutionInfo execution;
    private final Map<GraphVariant, OrtSession> sessions = new EnumMap<>(GraphVariant.class);
    /** Called with a graph file before its session is created (the opener re-checks that it is still verified). */
    private volatile Consumer<Path> beforeLoad = f -> {};
    /**
     * Open sessions of per-start-layer graphs, least recently used first. Each holds its own pre-packed copy of the
     * weights of its blocks (ORT's Java API cannot share them): the session of start layer S holds n_layer - S blocks,
     * so all 12 start layers of GPT-2 small hold 78 block copies (about 2.2 GB). They stay open while their copies fit
     * in {@link #startLayerBudget} bytes; past it the least recently used close. Reopening one costs a second or
     * more (load and pre-pack), and the v2 causal step patches heads of every layer in each group, so a budget that
     * holds every start layer saves that cost on every call (measured: docs/benchmarks.md).
     */
    private final Map<String, OrtSession> resumeSessions = new java.util.LinkedHashMap<>(16, 0.75f, true); // by graph file name: variant and start layer
    /** Blocks each open per-start-layer session holds, by graph file name. */
    private final Map<String, Integer> heldBlocks = new java.util.HashMap<>();
    /** The property that sets {@link #startLayerBudget} in bytes (default: a quarter of the machine's memory). */
    public static final String BUDGET_PROPERTY = "milab.startLayerSessionBytes";
    private long startLayerBudget = Long.getLong(BUDGET_PROPERTY, defaultBudget());
    /** Bytes of one block's weights (pre-packed copy), from the model's config.json; read on first need. */
    private long blockBytes = -1;
    private final Tuning tuning;
    private boolean closed;

    /**
     * ORT session options that `make bench` measures one by one; {@link #DEFAULT} keeps what the numbers
     * justified (docs/benchmarks.md). Fixed for the life of a {@link ModelSessions}: other options mean other
     * sessions, opened with {@link #open(Path, Device, int, Tuning)}.
     *
     * @param optLevel   graph optimization level
     * @param prepack    let MLAS pre-pack constant MatMul weights (a packed copy per session)
     * @param spin       let intra-op worker threads spin while waiting for work
     * @param arena      CPU memory arena
     * @param profileDir where ORT's per-node profiler writes (benchmarks), or null: no profiling
     */
    public record Tuning(OrtSession.SessionOptions.OptLevel optLevel, boolean prepack, boolean spin, boolean arena,
                         Path profileDir) {
        public static final Tuning DEFAULT = new Tuning(OrtSession.SessionOptions.OptLevel.ALL_OPT, true, true, true);

        public Tuning(OrtSession.SessionOptions.OptLevel optLevel, boolean prepack, boolean spin, boolean arena) {
            this(optLevel, prepack, spin, arena, null);
        }

        /** These options with ORT's profiler writing into {@code dir}. */
        public Tuning profiled(Path dir) {
            return new Tuning(optLevel, prepack, spin, arena, dir);
        }

        public String describe() {
            return "opt=" + optLevel + " prepack=" + prepack + " spin=" + spin + " arena=" + arena
                    + (profileDir == null ? "" : " profiled");
        }
    }

    private ModelSessions(OrtEnvironment env, Path graphDir, ExecutionInfo execution, Tuning tuning) {
        this.env = env;
        this.graphDir = graphDir;
        this.execution = execution;
        this.tuning = tuning;
    }

    static {
        NativeLibraries.prepare(); // before any ONNX Runtime class loads its native library
    }

    private static boolean telemetryOff;

    /**
     * The process's ONNX Runtime environment, with telemetry switched off: nothing in this project may reach
     * for the network at run time (every environment the project creates comes from here).
     */
    public static synchronized OrtEnvironment environment() {
        OrtEnvironment env = OrtEnvironment.getEnvironment(OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, "milab");
        if (!telemetryOff) {
            try {
                env.setTelemetry(false);
            } catch (OrtException e) {
                throw new IllegalStateException("Cannot switch off ONNX Runtime telemetry: " + e.getMessage(), e);
            }
            telemetryOff = true;
        }
        return env;
    }

    /** Whether {@link #environment()} has switched telemetry off in this process (for tests). */
    public static synchronized boolean telemetryDisabled() {
        return telemetryOff;
    }

    /**
     * The intra-op threads a request means: {@code requested} when positive; 0 means one per processor the JVM may
     * use ({@link Runtime#availableProcessors()}, which honours container CPU limits). Never ORT's own default: on
     * 2-core AMD EPYC machines ORT counted one core and ran every session on one thread (measured: a
     * [768,768]x[768,3072] MatMul at 182 GFLOP/s against 363 with two threads; docs/benchmarks.md).
     */
    public static int intraOpThreads(int requested) {
        if (requested < 0) throw new IllegalArgumentException("intra-op threads " + requested + " (0 means every processor)");
        return requested > 0 ? requested : Runtime.getRuntime().availableProcessors();
    }

    /** Opens (lazily) the sessions of the graphs in {@code graphDir} on {@code device}. */
    public static ModelSessions open(Path graphDir, Device device, int intraOpThreads) {
        return open(graphDir, device, intraOpThreads, Tuning.DEFAULT);
    }

    /** As {@link #open(Path, Device, int)}, every session created with {@code tuning}'s options. */
    public static ModelSessions open(Path graphDir, Device device, int intraOpThreads, Tuning tuning) {
        if (!Files.isRegularFile(graphDir.resolve(GraphVariant.CAPTURE.fileName())))
            throw new UserError("No exported graphs in " + graphDir + " (capture.onnx is missing).",
                    "Run 'make export' (or 'make export MODEL=planted-induction') first.");
        OrtEnvironment env = environment();
        String artifact = OrtEnvironment.getAvailableProviders().contains(OrtProvider.CUDA)
                ? "onnxruntime_gpu" : "onnxruntime";
        String provider = "CPUExecutionProvider", fallback = null;
        if (device != Device.CPU) {
            String problem = cudaProblem(env, artifact);
            if (problem == null) {
                provider = "CUDAExecutionProvider";
            } else if (device == Device.CUDA) {
                throw new UserError("DEVICE=cuda was requested but the CUDA execution provider cannot start: "
                        + problem + ".", CUDA_FIX);
            } else {
                fallback = problem;
            }
        }
        return new ModelSessions(env, graphDir,
                new ExecutionInfo(device, provider, fallback, intraOpThreads(intraOpThreads), env.getVersion(), artifact), tuning);
    }

    /** Null when CUDA sessions can run here, else what is missing. */
    public static String cudaProblem() {
        String artifact = OrtEnvironment.getAvailableProviders().contains(OrtProvider.CUDA) ? "onnxruntime_gpu" : "onnxruntime";
        return cudaProblem(environment(), artifact);
    }

    /** Null when a CUDA session can be configured here, else what is missing. */
    private static String cudaProblem(OrtEnvironment env, String artifact) {
        if (!"onnxruntime_gpu".equals(artifact))
            return "this build has the CPU-only ONNX Runtime artifact (onnxruntime), which has no CUDA provider";
        try (OrtSession.SessionOptions o = new OrtSession.SessionOptions()) {
            o.addCUDA(0);
            return null;
        } catch (OrtException | RuntimeException | UnsatisfiedLinkError e) {
            return "ONNX Runtime could not load CUDA (" + e.getMessage() + ")";
        }
    }

    public OrtEnvironment env() {
        return env;
    }

    public Path graphDir() {
        return graphDir;
    }

    public ExecutionInfo execution() {
        return execution;
    }

    /** Sessions are created lazily: {@code check} runs on each graph file first (e.g. that it is still verified). */
    public void beforeLoad(Consumer<Path> check) {
        this.beforeLoad = check;
    }

    public synchronized OrtSession session(GraphVariant variant) {
        if (variant.perStartLayer()) throw new IllegalArgumentException(variant.id() + " needs a start layer");
        return sessions.computeIfAbsent(variant, v -> create(graphDir.resolve(v.fileName())));
    }

    /** The session of a per-start-layer variant's graph for {@code startLayer}. */
    public synchronized OrtSession session(GraphVariant variant, int startLayer) {
        String file = variant.fileName(startLayer);
        OrtSession s = resumeSessions.computeIfAbsent(file, f -> create(graphDir.resolve(f)));
        heldBlocks.computeIfAbsent(file, f -> nLayer() - startLayer);
        closePastBudget();
        return s;
    }

    /** Bytes of block weights the open per-start-layer sessions hold (an estimate: one packed copy per block). */
    public synchronized long startLayerBytes() {
        long blocks = 0;
        for (int b : heldBlocks.values()) blocks += b;
        return blocks * blockBytes();
    }

    /** Sets how many bytes of block weights the per-start-layer sessions may hold together; closes what no longer fits. */
    public synchronized void startLayerBudget(long bytes) {
        if (bytes < 0) throw new IllegalArgumentException("a budget of " + bytes + " bytes");
        startLayerBudget = bytes;
        closePastBudget();
    }

    /** Closes the least recently used per-start-layer sessions until the rest fit; never the most recent one. */
    private void closePastBudget() {
        var it = resumeSessions.entrySet().iterator();
        while (resumeSessions.size() > 1 && startLayerBytes() > startLayerBudget) {
            Map.Entry<String, OrtSession> old = it.next();
            it.remove();
            heldBlocks.remove(old.getKey());
            closeQuietly(old.getValue());
        }
    }

    public synchronized long startLayerBudget() {
        return startLayerBudget;
    }

    /** A quarter of the machine's (or container's) memory, as the JVM reports it; 4 GiB where it reports none. */
    private static long defaultBudget() {
        if (java.lang.management.ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os
                && os.getTotalMemorySize() > 0)
            return os.getTotalMemorySize() / 4;
        return 4L << 30;
    }

    /** One block's weights in bytes: c_attn, c_proj, c_fc, the MLP projection and their biases, as floats. */
    private long blockBytes() {
        if (blockBytes < 0) {
            org.milab.model.ModelConfig c = config();
            long d = c.dModel(), inner = c.nInner();
            blockBytes = 4 * (d * 3 * d + 3 * d + d * d + d + d * inner + inner + inner * d + d);
        }
        return blockBytes;
    }

    private int nLayer() {
        return config().nLayer();
    }

    private org.milab.model.ModelConfig config;

    private org.milab.model.ModelConfig config() {
        if (config == null) config = org.milab.model.ModelConfig.read(graphDir.resolve("config.json"));
        return config;
    }

    /** Whether the session of {@code startLayer} is open (so runs using it first avoid reopening others). */
    public synchronized boolean isOpen(GraphVariant variant, int startLayer) {
        return resumeSessions.containsKey(variant.fileName(startLayer));
    }

    /** Number of open per-start-layer sessions (tests). */
    public synchronized int openStartLayerSessions() {
        return resumeSessions.size();
    }

    private static void closeQuietly(OrtSession s) {
        try {
            s.close();
        } catch (OrtException ignored) {
            // releasing native memory: nothing useful to do on failure
        }
    }

    public Tuning tuning() {
        return tuning;
    }

    /** Ends profiling of every open session; returns the profile files written. */
    public synchronized java.util.List<Path> endProfiling() {
        java.util.List<Path> files = new java.util.ArrayList<>();
        java.util.List<OrtSession> open = new java.util.ArrayList<>(sessions.values());
        open.addAll(resumeSessions.values());
        for (OrtSession s : open) {
            try {
                files.add(Path.of(s.endProfiling()));
            } catch (OrtException e) {
                throw new IllegalStateException("ending the ORT profiler failed: " + e.getMessage(), e);
            }
        }
        return files;
    }

    /** A session over an in-memory model with these sessions' options (benchmark probes). */
    public synchronized OrtSession probe(byte[] model) {
        requireOpen();
        try (OrtSession.SessionOptions o = options()) {
            return env.createSession(model, o);
        } catch (OrtException e) {
            throw new IllegalStateException("ONNX Runtime could not load a probe graph: " + e.getMessage(), e);
        }
    }

    private OrtSession.SessionOptions options() throws OrtException {
        OrtSession.SessionOptions o = new OrtSession.SessionOptions();
        o.setOptimizationLevel(tuning.optLevel());
        o.setSessionLogLevel(OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR);
        if (!tuning.prepack()) o.addConfigEntry("session.disable_prepacking", "1");
        if (!tuning.spin()) o.addConfigEntry("session.intra_op.allow_spinning", "0");
        o.setCPUArenaAllocator(tuning.arena());
        o.setIntraOpNumThreads(execution.intraOpThreads()); // resolved: never left to ORT (see intraOpThreads(int))
        return o;
    }

    private OrtSession create(Path file) {
        requireOpen();
        if (!Files.isRegularFile(file))
            throw new UserError("Graph " + file + " is missing.", "Re-run 'make export' for this model.");
        beforeLoad.accept(file);
        // the session keeps what it needs of its options, so they are released as soon as it exists
        try (OrtSession.SessionOptions o = options()) {
            if (tuning.profileDir() != null)
                o.enableProfiling(tuning.profileDir().resolve(file.getFileName().toString().replace(".onnx", "")).toString());
            if (execution.provider().startsWith("CUDA")) o.addCUDA(0);
            return env.createSession(file.toString(), o);
        } catch (OrtException e) {
            throw new UserError("ONNX Runtime could not load " + file + ": " + e.getMessage(),
                    "Re-run 'make export'; if it persists, the graph and this ONNX Runtime version disagree.", e);
        }
    }

    /** Closes the open sessions (only {@link #close()}: the end). */
    private void evict() {
        java.util.List<OrtSession> open = new java.util.ArrayList<>(sessions.values());
        open.addAll(resumeSessions.values());
        resumeSessions.clear();
        heldBlocks.clear();
        open.forEach(ModelSessions::closeQuietly);
        sessions.clear();
    }

    private void requireOpen() {
        if (closed) throw new IllegalStateException("the sessions of " + graphDir + " were closed");
    }

    /** The end of these sessions: native memory released, and no graph opens again through this object. */
    @Override
    public synchronized void close() {
        evict();
        closed = true;
    }
}
