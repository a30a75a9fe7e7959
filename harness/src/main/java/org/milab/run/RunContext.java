package org.milab.run;

import org.milab.engine.TokenIds;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.milab.lab.LabModel;
import org.milab.stats.Decisions;
import org.milab.tables.ArrowTables;
import org.milab.tables.Table;
import org.milab.tables.TableBuilder;
import org.milab.util.AtomicFiles;
import org.milab.util.Hashing;
import org.milab.util.Json;
import org.milab.util.Provenance;
import org.milab.util.UserError;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.milab.stage.RunConfig;
import org.milab.stage.StageContext;
import org.milab.stage.TableProvenance;

/**
 * One run: its folder {@code results/<run-id>/}, the model, the config, and the bookkeeping every stage
 * shares. Tables are written with provenance in their schema metadata; row counts, timings and hashes
 * go into run_manifest.json; each stage adds lines to the run's Markdown summary.
 */
public final class RunContext implements StageContext {
    /** A run is written under results/<id>.incomplete/ and renamed to results/<id>/ when it completed. */
    public static final String INCOMPLETE = RunDir.INCOMPLETE;
    public static final ObjectMapper JSON = Json.MAPPER;

    private final Path root;
    private final Path runDir;
    private final RunConfig config;
    private final LabModel model;
    private final String codeCommit;
    private final Map<String, Long> rowCounts = new LinkedHashMap<>();
    private final Map<String, Double> timings = new LinkedHashMap<>();
    private final Map<String, Object> hashes = new LinkedHashMap<>();
    /** Engine counters of steps a resumed run skipped (recorded when they ran in an earlier attempt). */
    private final Map<String, Long> replayedCounters = new java.util.TreeMap<>();
    /** The engine's counters when this run started (a model can serve several runs in one process). */
    private final Map<String, Long> countersAtStart;
    private final List<String> summary = new ArrayList<>();
    private final Map<String, TokenIds> tokenCache = new HashMap<>();
    private final Map<String, Integer> singleTokenCache = new HashMap<>();
    /** Files written through this context since {@link #clearWritten()} (the step ledger's record of outputs). */
    private final Set<Path> written = new LinkedHashSet<>();

    public RunContext(Path root, RunConfig config, LabModel model) {
        this(root, config, model, root.resolve("results").resolve(config.runId() + INCOMPLETE));
    }

    /** A context on another folder of the run: the finished one, to verify it in place. */
    public RunContext(Path root, RunConfig config, LabModel model, Path runDir) {
        this.root = root;
        this.config = config;
        this.model = model;
        this.runDir = runDir;
        this.codeCommit = Provenance.gitCommit(root);
        this.countersAtStart = Map.copyOf(model.engine().counters());
    }

    public Path root() {
        return root;
    }

    @Override
    public Path runDir() {
        return runDir;
    }

    /** Where the run lands when it completed. */
    public Path finalDir() {
        return root.resolve("results").resolve(config.runId());
    }

    @Override
    public RunConfig config() {
        return config;
    }

    @Override
    public LabModel model() {
        return model;
    }

    /** {@code results/<run>/<stage>/} or {@code results/<run>/<stage>/seed<N>/}. */
    @Override
    public Path dir(String stage, Integer seed) {
        Path d = runDir.resolve(stage);
        return seed == null ? d : d.resolve("seed" + seed);
    }

    /** Provenance attached to every table this run writes. */
    public TableProvenance provenance(String stage, Integer seed) {
        return new TableProvenance(config.runId(), stage, seed, model.modelProvenance(), codeCommit,
                Provenance.javaVersion(), Provenance.machine(), configSha256(), Decisions.TOLERANCE, Instant.now().toString());
    }

    /** sha256 of the config's knobs; the run id is left out, so two runs of one config carry the same hash. */
    public String configSha256() {
        Map<String, Object> knobs = new LinkedHashMap<>(config.toMap());
        knobs.remove("run_id");
        return Hashing.sha256(json(knobs));
    }

    @Override
    public Table write(String stage, Integer seed, TableBuilder builder) {
        Table t = builder.provenance(provenance(stage, seed).toMap()).build();
        Path file = ArrowTables.writeInto(dir(stage, seed), t);
        written.add(file);
        rowCounts.put(runDir.relativize(file).toString(), (long) t.rowCount());
        return t;
    }

    @Override
    public Table read(String stage, Integer seed, String table) {
        Path file = dir(stage, seed).resolve(table + ArrowTables.EXTENSION);
        if (!Files.isRegularFile(file))
            throw new UserError("Stage input " + runDir.relativize(file) + " is missing.",
                    "Run the earlier stages of this run first (make run-heldout runs them in order).");
        return ArrowTables.read(file);
    }

    @Override
    public void writeJson(String stage, Integer seed, String fileName, Object value) {
        writeText(stage, seed, fileName, json(value) + "\n");
    }

    @Override
    public void writeText(String stage, Integer seed, String fileName, String text) {
        Path file = dir(stage, seed).resolve(fileName);
        AtomicFiles.writeString(file, text);
        written.add(file);
    }

    Set<Path> writtenFiles() {
        return Set.copyOf(written);
    }

    void clearWritten() {
        written.clear();
    }

    @Override
    public void recordHash(String key, String sha256) {
        hashes.put(key, sha256);
    }

    @Override
    public void recordTiming(String key, double seconds) {
        timings.put(key, seconds);
    }

    /** A line (Markdown) for the run's summary.md. */
    @Override
    public void summarize(String markdown) {
        summary.add(markdown);
    }

    public List<String> summaryLines() {
        return List.copyOf(summary);
    }

    public Map<String, Long> rowCounts() {
        return rowCounts;
    }

    public Map<String, Double> timings() {
        return timings;
    }

    public Map<String, Object> hashes() {
        return hashes;
    }

    /** Adds the engine counters of a step that ran in an earlier attempt of this run. */
    public void addReplayedCounters(Map<String, Long> counters) {
        counters.forEach((k, v) -> replayedCounters.merge(k, v, Long::sum));
    }

    /** The engine's work for the whole run: what this attempt did plus what the steps it skipped did. */
    public Map<String, Long> engineCounters() {
        Map<String, Long> out = new java.util.TreeMap<>();
        model.engine().counters().forEach((k, v) -> out.put(k, v - countersAtStart.getOrDefault(k, 0L)));
        replayedCounters.forEach((k, v) -> out.merge(k, v, Long::sum));
        return out;
    }

    /** The fingerprint of the step now running (set by the step ledger). */
    private String stepFingerprint = "";

    @Override
    public String stepFingerprint() {
        return stepFingerprint;
    }

    void stepFingerprint(String fingerprint) {
        this.stepFingerprint = fingerprint;
    }

    @Override
    public String codeCommit() {
        return codeCommit;
    }

    /** BOS + tokens of a prompt, cached; a prompt the model cannot read stops the run (see LabModel#promptTokens). */
    @Override
    public TokenIds tokens(String prompt) {
        return tokenCache.computeIfAbsent(prompt, p -> new TokenIds(model.promptTokens(p)));
    }

    /**
     * The id of a target or control token, which must be exactly one token (the reference raises
     * otherwise); {@code where} names the record for the error message.
     */
    @Override
    public int singleToken(String token, String where) {
        Integer id = singleTokenCache.get(token);
        if (id != null) return id;
        try {
            id = model.tokenizer().singleTokenId(token);
        } catch (UserError e) {
            throw new UserError(where + ": " + e.getMessage(), null, e);
        }
        if (model.tokenizer().isUnknown(id))
            throw new UserError(where + ": target '" + token + "' is not in model '" + model.id() + "''s vocabulary (it encodes "
                    + "to the unknown token).", "Choose a target from the model's vocabulary (graphs/" + model.id()
                    + "/tokenizer.json).");
        singleTokenCache.put(token, id);
        return id;
    }

    public static String json(Object value) {
        return Json.write(value);
    }
}
