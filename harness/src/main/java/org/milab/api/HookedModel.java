package org.milab.api;

import com.fasterxml.jackson.databind.JsonNode;
import org.milab.atp.AttributionNode;
import org.milab.atp.AttributionPatching;
import org.milab.atp.EdgeAttributionPatching;
import org.milab.atp.EdgeFaithfulness;
import org.milab.atp.EdgeGraph;
import org.milab.atp.EdgePasses;
import org.milab.atp.PromptPair;
import org.milab.atp.TaskMetric;
import org.milab.catalog.ModelLayout;
import org.milab.engine.TokenIds;
import org.milab.graph.GraphVariant;
import org.milab.lab.LabModel;
import org.milab.model.ModelConfig;
import org.milab.runtime.Device;
import org.milab.util.UserError;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * An exported GPT-2 opened for experiments from Java, in TransformerLens' terms: {@code run}, {@code runWithCache},
 * {@code runWithPatches} (TransformerLens' {@code run_with_hooks} with the hook functions given as data),
 * {@code attribute} (attribution patching per node), {@code attributeEdges} (EAP and EAP-IG per edge), {@code faithfulness}
 * and {@code faithfulnessSweep} (circuits measured by exact edge patching). Every TransformerLens hook of the model can be read and overridden at
 * any position (and head): the calls run the exported {@code hooked} graph on ONNX Runtime. Hook names:
 * {@link #hookNames()}; shapes: {@link ActivationCache}.
 *
 * <pre>{@code
 * try (HookedModel model = HookedModel.open("planted-induction")) {
 *     int[] tokens = model.toTokens("A B C D A B C");
 *     ActivationCache cache = model.runWithCache(tokens, "blocks.1.attn.hook_pattern");
 *     Tensor pattern = cache.get("blocks.1.attn.hook_pattern");   // [head, query_pos, key_pos]
 * }
 * }</pre>
 *
 * <p>The library prints nothing: progress goes to an optional {@link ProgressListener}, diagnostics to SLF4J.
 * Bad input fails with {@link UserError}, whose message names the problem and the fix (the CLI's messages).
 * Not thread-safe: one model per thread, or calls serialized by the caller.
 */
public final class HookedModel implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(HookedModel.class);

    /**
     * How a model is opened.
     *
     * @param root      the project root holding graphs/ and manifests/ (a name is looked up there)
     * @param device    cpu, cuda or auto
     * @param threads   ONNX Runtime intra-op threads (0: ONNX Runtime decides)
     * @param maxRows   runs per ONNX Runtime call at most
     * @param maxTokens runs x padded length per call at most
     * @param progress  told how far long calls have come
     */
    public record Options(Path root, String device, int threads, int maxRows, int maxTokens, ProgressListener progress) {
        /**
         * Checks the limits: at least one row and one token per call, threads >= 0.
         *
         * @param root      the project root
         * @param device    cpu, cuda or auto
         * @param threads   intra-op threads (0: ONNX Runtime decides)
         * @param maxRows   runs per call at most
         * @param maxTokens padded tokens per call at most
         * @param progress  the progress listener
         */
        public Options {
            if (maxRows < 1 || maxTokens < 1) throw new IllegalArgumentException("maxRows and maxTokens must be >= 1");
            if (threads < 0) throw new IllegalArgumentException("threads must be >= 0");
        }

        /** @return root = the system property {@code milab.root} or the current folder, cpu, 16 runs and 1024 tokens per call */
        public static Options defaults() {
            return new Options(Path.of(System.getProperty("milab.root", ".")), "cpu", 0, 16, 1024, ProgressListener.NONE);
        }

        /**
         * @param r the project root
         * @return these options with it
         */
        public Options withRoot(Path r) {
            return new Options(r, device, threads, maxRows, maxTokens, progress);
        }

        /**
         * @param d cpu, cuda or auto
         * @return these options with it
         */
        public Options withDevice(String d) {
            return new Options(root, d, threads, maxRows, maxTokens, progress);
        }

        /**
         * @param n intra-op threads
         * @return these options with it
         */
        public Options withThreads(int n) {
            return new Options(root, device, n, maxRows, maxTokens, progress);
        }

        /**
         * @param rows   runs per call
         * @param tokens padded tokens per call
         * @return these options with them
         */
        public Options withBatchLimits(int rows, int tokens) {
            return new Options(root, device, threads, rows, tokens, progress);
        }

        /**
         * @param p the listener
         * @return these options with it
         */
        public Options withProgress(ProgressListener p) {
            return new Options(root, device, threads, maxRows, maxTokens, p);
        }
    }

    private final LabModel model;
    private final Map<String, HookLayout> layouts;
    private final HookedCalls calls;
    private final Options options;

    private HookedModel(LabModel model, Options options) {
        this.model = model;
        this.options = options;
        this.layouts = new LinkedHashMap<>();
        for (JsonNode out : model.manifest(GraphVariant.HOOKED).path("outputs")) {
            String hook = out.path("hook").asText("");
            if (!hook.isEmpty()) layouts.put(hook, HookLayout.of(hook, model.config()));
        }
        this.calls = new HookedCalls(model, layouts, options.maxRows(), options.maxTokens(), options.progress());
    }

    /**
     * Opens an exported model with {@link Options#defaults()}.
     *
     * @param nameOrPath a model name under the root's graphs/ (e.g. {@code gpt2}, {@code planted-induction}) or the
     *                   path of an export's graph folder ({@code <root>/graphs/<model>})
     * @return the open model; close it (try-with-resources) to free ONNX Runtime's native memory
     * @throws UserError when the model is not exported, or its files differ from their manifests (the CLI's checks)
     */
    public static HookedModel open(String nameOrPath) {
        return open(nameOrPath, Options.defaults());
    }

    /**
     * @param nameOrPath a model name under {@code options.root()}/graphs/, or an export's graph folder
     * @param options    root, device, threads, batch limits, progress listener
     * @return the open model
     * @throws UserError when the model is not exported or fails verification
     */
    public static HookedModel open(String nameOrPath, Options options) {
        Path root = options.root().toAbsolutePath().normalize();
        String id = nameOrPath;
        Path asPath = Path.of(nameOrPath);
        if (Files.isRegularFile(asPath.resolve("config.json"))) { // a graph folder: <root>/graphs/<model>
            Path dir = asPath.toAbsolutePath().normalize();
            if (dir.getParent() == null || dir.getParent().getParent() == null
                    || !dir.getParent().getFileName().toString().equals("graphs"))
                throw new UserError("'" + nameOrPath + "' is a graph folder outside a project's graphs/ folder, so its manifests "
                        + "cannot be found.", "Open the model by name with Options.withRoot(<project root>), or pass <root>/graphs/<model>.");
            root = dir.getParent().getParent();
            id = dir.getFileName().toString();
        }
        long t0 = System.nanoTime();
        LabModel lab = LabModel.open(root, id, Device.parse(options.device()), options.threads(),
                options.maxRows(), options.maxTokens());
        LOG.debug("opened model {} from {} in {} ms", id, root, (System.nanoTime() - t0) / 1_000_000);
        return new HookedModel(lab, options);
    }

    /** @return the model's name */
    public String id() {
        return model.id();
    }

    /** @return n_layers, n_heads, d_model, d_head, d_mlp, d_vocab, n_ctx */
    public ModelConfig config() {
        return model.config();
    }

    /** @return every hook name, in the order the forward pass reaches them */
    public List<String> hookNames() {
        return List.copyOf(layouts.keySet());
    }

    /**
     * @param hook a hook name
     * @return the names of its axes per prompt, e.g. [pos, head, d_head]
     */
    public List<String> hookAxes(String hook) {
        return calls.layout(hook).axes();
    }

    /**
     * BOS followed by the prompt's tokens (TransformerLens' {@code to_tokens}, prepend_bos=True).
     *
     * @param prompt the text
     * @return its token ids
     * @throws UserError when the prompt is longer than the model reads, or has words its tokenizer does not know
     */
    public int[] toTokens(String prompt) {
        return model.promptTokens(prompt);
    }

    /**
     * @param tokens token ids
     * @return their text (TransformerLens' {@code to_string})
     */
    public String toString(int... tokens) {
        return model.tokenizer().decode(tokens);
    }

    /**
     * @param text a word, usually with its leading space (" B")
     * @return whether it is exactly one token
     */
    public boolean isSingleToken(String text) {
        return model.tokenizer().isSingleToken(text);
    }

    /**
     * TransformerLens' {@code to_single_token}.
     *
     * @param text a word, usually with its leading space (" B")
     * @return its token id
     * @throws UserError when it is not exactly one token
     */
    public int toSingleToken(String text) {
        return model.tokenizer().singleTokenId(text);
    }

    /**
     * @param tokens a prompt's token ids
     * @return the logits at every position [pos, d_vocab], centred over the vocabulary
     */
    public Tensor run(int[] tokens) {
        return runWithPatches(List.of(PatchedRun.of(tokens))).logits(0);
    }

    /**
     * @param tokens a prompt's token ids
     * @return the logits at its last position
     */
    public float[] runLast(int[] tokens) {
        return runWithPatches(List.of(PatchedRun.of(tokens))).lastLogits(0);
    }

    /**
     * @param prompts several prompts (any lengths: batched with right padding, which never changes a prompt's numbers
     *                beyond float rounding)
     * @return each prompt's logits [pos, d_vocab]
     */
    public List<Tensor> run(List<int[]> prompts) {
        PatchResults r = runWithPatches(prompts.stream().map(PatchedRun::of).toList());
        List<Tensor> out = new ArrayList<>();
        for (int i = 0; i < r.size(); i++) out.add(r.logits(i));
        return out;
    }

    /**
     * TransformerLens' {@code run_with_cache(tokens, names_filter=names)}.
     *
     * @param tokens a prompt's token ids
     * @param names  the hooks to cache (none: every hook)
     * @return the cache (one prompt)
     */
    public ActivationCache runWithCache(int[] tokens, String... names) {
        return runWithCache(List.of(tokens), names);
    }

    /**
     * @param prompts several prompts, batched
     * @param names   the hooks to cache (none: every hook)
     * @return the cache, one prompt per row
     */
    public ActivationCache runWithCache(List<int[]> prompts, String... names) {
        return runWithPatches(prompts.stream().map(PatchedRun::of).toList(), names.length == 0
                ? layouts.keySet().toArray(String[]::new) : names).cache();
    }

    /**
     * One prompt with patches: TransformerLens' {@code run_with_hooks(tokens, fwd_hooks=...)}.
     *
     * @param tokens  a prompt's token ids
     * @param patches the overrides
     * @return its logits (and no cache)
     */
    public PatchResults runWithPatches(int[] tokens, Patch... patches) {
        return runWithPatches(List.of(new PatchedRun(tokens, List.of(patches))));
    }

    /**
     * Many runs (prompts with their own patches) in as few ONNX Runtime calls as the batch limits allow: a sweep
     * over every head is one call of n_layers x n_heads runs. A hook's patches apply before any later hook is
     * computed, so patches compose as TransformerLens hooks do.
     *
     * @param runs  the runs
     * @param cache hooks to cache from every run (after its patches); none: no cache
     * @return per run, logits at every position and the cached hooks
     * @throws UserError for an unknown hook, a position or head outside the run, a donor prompt too short
     */
    public PatchResults runWithPatches(List<PatchedRun> runs, String... cache) {
        if (runs.isEmpty()) throw new IllegalArgumentException("runWithPatches needs at least one run");
        Set<String> names = new LinkedHashSet<>(Arrays.asList(cache));
        names.forEach(calls::layout);
        for (PatchedRun r : runs) {
            checkTokens(r.tokens());
            r.patches().forEach(p -> calls.layout(p.hook()));
        }
        long t0 = System.nanoTime();
        PatchResults out = calls.execute("runWithPatches", runs, names);
        LOG.debug("{} runs, {} cached hooks in {} ms", runs.size(), names.size(), (System.nanoTime() - t0) / 1_000_000);
        return out;
    }

    /**
     * Attribution patching of every node (each head's hook_z slice, each attention layer, MLP and residual stream
     * entering a block) from the model's exported gradient graph: two forward+backward passes per pair, plus one
     * per integrated-gradient step; AtP* (the QK fix) is arithmetic on the two passes' outputs, skipped (NaN) when the
     * task turns it off.
     *
     * @param task the prompt pairs, the metric tokens, the integrated-gradient steps
     * @return per node, AtP (denoising and noising), AtP-IG and AtP* summed over positions and averaged over pairs
     */
    public Attribution attribute(AttributionTask task) {
        List<PromptPair> pairs = promptPairs(task);
        AttributionPatching.Result r = AttributionPatching.run(model, pairs, options.maxRows(), task.igSteps(), task.atpStar());
        options.progress().progress("attribute", pairs.size(), pairs.size());
        List<Attribution.NodeScore> nodes = new ArrayList<>();
        int n = r.pairs().size();
        for (int k = 0; k < r.nodes().size(); k++) {
            AttributionNode node = r.nodes().get(k);
            double den = 0, noi = 0, ig = 0, star = 0;
            List<double[]> perPosition = new ArrayList<>();
            for (AttributionPatching.PairScores s : r.pairs()) {
                den += Arrays.stream(s.denoising()[k]).sum() / n;
                noi += Arrays.stream(s.noising()[k]).sum() / n;
                if (s.integrated() != null) ig += Arrays.stream(s.integrated()[k]).sum() / n;
                if (s.star() != null) star += Arrays.stream(s.star()[k]).sum() / n;
                perPosition.add(s.denoising()[k].clone());
            }
            nodes.add(new Attribution.NodeScore(node.id(), node.layer(), node.head(), node.hook(), den, noi,
                    task.igSteps() == 0 ? Double.NaN : ig, List.copyOf(perPosition), task.atpStar() ? star : Double.NaN));
        }
        return new Attribution(List.copyOf(nodes), r.pairs().stream().mapToDouble(AttributionPatching.PairScores::cleanMetric).toArray(),
                r.pairs().stream().mapToDouble(AttributionPatching.PairScores::corruptMetric).toArray());
    }

    /**
     * Edge attribution patching (EAP, and EAP-IG when the task has steps) of every edge between the model's nodes, in
     * MIB's names ({@code input}, {@code a{l}.h{h}}, {@code m{l}}, {@code logits}; head inputs split {@code <q>}, {@code <k>},
     * {@code <v>}), from the exported edge-gradient graph: one pass caching the clean and one the corrupt node outputs per
     * pair, then one backward pass per pair for EAP and one per pair and step for EAP-IG. The same computation as
     * {@code make circuit}'s attribution (its {@code circuit/edges.arrow} means and intervals at the same steps).
     *
     * <pre>{@code
     * EdgeAttribution edges = model.attributeEdges(new AttributionTask(pairs, 10));
     * for (EdgeAttribution.EdgeScore e : edges.top(5, EdgeAttribution.Method.EAP_IG))
     *     System.out.println(e.name() + " " + e.eapIg() + " [" + e.eapIgLow() + ", " + e.eapIgHigh() + "]");
     * }</pre>
     *
     * @param task the prompt pairs (clean and corrupt of equal length), the metric tokens, the EAP-IG steps (0: EAP only)
     * @return per edge, mean scores over pairs with bootstrap intervals, and the per-pair scores
     * @throws UserError for a prompt the model cannot read or a metric token outside its vocabulary
     */
    public EdgeAttribution attributeEdges(AttributionTask task) {
        List<PromptPair> pairs = promptPairs(task);
        EdgeGraph graph = new EdgeGraph(model.config());
        int n = pairs.size();
        long t0 = System.nanoTime();
        try (EdgePasses passes = new EdgePasses(model, graph, pairs, options.maxRows())) {
            EdgeAttributionPatching.RowScores rows = EdgeAttributionPatching.direct(passes);
            double[][] eap = EdgeAttributionPatching.perExample(rows, "eap", n, List.of(1f), graph);
            options.progress().progress("attributeEdges", 1, task.igSteps() == 0 ? 1 : 2);
            double[][] ig = task.igSteps() == 0 ? null
                    : EdgeAttributionPatching.perExample(rows, "eap_ig", n, EdgeAttributionPatching.alphas(task.igSteps()), graph);
            // the metric of the clean run (every edge carries its own value) and of the corrupt run (none does)
            EdgeFaithfulness.Baseline ends = EdgeFaithfulness.baseline(passes, (logits, clean, i) -> TaskMetric.LOGIT_DIFF.of(logits, clean,
                    pairs.get(i).trueToken(), pairs.get(i).wrongToken()));
            if (task.igSteps() > 0) options.progress().progress("attributeEdges", 2, 2);
            LOG.debug("{} edges of {} pairs scored in {} ms", graph.size(), n, (System.nanoTime() - t0) / 1_000_000);
            return EdgeAttribution.of(graph, eap, ig, ends.full(), ends.empty(), task.igSteps());
        }
    }

    /**
     * The exact faithfulness of a circuit on a task's pairs (the task's {@code igSteps} are not used): every edge outside
     * the circuit carries the corrupt run's value, every edge inside the clean run's, through the exported edge-masked
     * graph; per pair the raw metric, and {@code (mean m(C) - mean m(corrupt)) / (mean m(clean) - mean m(corrupt))} with a
     * bootstrap interval over pairs. The computation {@code make circuit} runs for each circuit of its sweeps.
     *
     * <pre>{@code
     * Circuit top20 = model.attributeEdges(task).circuit(20, EdgeAttribution.Method.EAP_IG);
     * Faithfulness f = model.faithfulness(task, top20, FaithfulnessOptions.defaults());
     * }</pre>
     *
     * @param task    the prompt pairs and metric tokens
     * @param circuit MIB-named edges of this model
     * @param o       metric and bootstrap
     * @return the faithfulness with its interval and the metric per pair
     * @throws UserError for an edge the model's graph does not have, or a prompt the model cannot read
     */
    public Faithfulness faithfulness(AttributionTask task, Circuit circuit, FaithfulnessOptions o) {
        return edgeCircuits().faithfulness(promptPairs(task), circuit, o);
    }

    /**
     * The exact faithfulness of the top-k circuit of {@code scores}' ranking by {@code method} for every k of the
     * declared size grid ({@code o.sizes()}, default: 1, then by sqrt 2, then every edge), with CPR, CMD and the smallest
     * circuit keeping {@code o.threshold()}: the numbers {@code make circuit} writes (faithfulness.arrow and
     * circuit_summary.json) for the same pairs, metric, bootstrap and batch size. The scores may come from other pairs
     * than {@code task}'s (rank on one set, measure on another).
     *
     * @param task   the prompt pairs the circuits are measured on
     * @param scores the edge ranking ({@link #attributeEdges})
     * @param method EAP or EAP-IG
     * @param o      metric, bootstrap, threshold, size grid
     * @return the curve, CPR, CMD and the smallest circuit keeping the threshold
     */
    public FaithfulnessCurve faithfulnessSweep(AttributionTask task, EdgeAttribution scores, EdgeAttribution.Method method,
                                               FaithfulnessOptions o) {
        return edgeCircuits().sweep(promptPairs(task), scores, method, o);
    }

    /**
     * Prunes a circuit as MIB does: an edge into a node with no outgoing circuit edge, or out of a node (other than
     * {@code input}) with no incoming one, carries the same value inside and outside the circuit, so dropping it changes
     * no patched run.
     *
     * @param circuit MIB-named edges of this model
     * @return the pruned circuit (graph order, the same scores)
     */
    public Circuit prune(Circuit circuit) {
        return edgeCircuits().prune(circuit);
    }

    /**
     * @param circuit MIB-named edges of this model
     * @return the circuit in MIB's graph JSON ({@code cfg}, {@code nodes {in_graph}}, {@code edges {score, in_graph}}),
     *         as {@code make circuit} writes {@code circuit.json}
     */
    public String toMibJson(Circuit circuit) {
        return edgeCircuits().mibJson(circuit);
    }

    /**
     * Writes {@link #toMibJson} to a file (whole or not at all).
     *
     * @param circuit MIB-named edges of this model
     * @param file    where
     */
    public void writeCircuit(Circuit circuit, Path file) {
        edgeCircuits().write(circuit, file);
    }

    /**
     * Reads a circuit in MIB's graph JSON (its edges with {@code in_graph} true, and the scores the file gives).
     *
     * @param file a circuit.json of this model (from {@code make circuit}, {@link #writeCircuit} or MIB's tools)
     * @return the circuit, edges in graph order
     * @throws UserError for invalid JSON, another model's graph or an unknown edge
     */
    public Circuit readCircuit(Path file) {
        return edgeCircuits().read(file);
    }

    private EdgeCircuits edgeCircuits() {
        return new EdgeCircuits(model, options.maxRows());
    }

    /** The task's pairs, checked: prompts the model reads, metric tokens in its vocabulary. */
    private List<PromptPair> promptPairs(AttributionTask task) {
        List<PromptPair> pairs = new ArrayList<>();
        for (int i = 0; i < task.pairs().size(); i++) {
            AttributionTask.Pair p = task.pairs().get(i);
            checkTokens(p.clean());
            checkTokens(p.corrupt());
            for (int t : new int[]{p.answer(), p.wrong()})
                if (t < 0 || t >= model.config().vocabSize())
                    throw new UserError("Pair " + i + " names token id " + t + ", outside the vocabulary of " + model.config().vocabSize()
                            + ".", "Use toSingleToken(\" word\") for the answer and wrong tokens.");
            pairs.add(new PromptPair(i, new TokenIds(p.clean()), new TokenIds(p.corrupt()), p.answer(), p.wrong()));
        }
        return pairs;
    }

    /**
     * @return the model's provenance (model, checkpoint and graph sha256 values, ONNX Runtime version), as every table carries
     */
    public Map<String, Object> provenance() {
        return model.provenance();
    }

    private void checkTokens(int[] tokens) {
        ModelConfig c = model.config();
        if (tokens.length == 0 || tokens.length > c.nPositions())
            throw new UserError("A prompt of " + tokens.length + " tokens: model '" + id() + "' reads 1.." + c.nPositions() + ".",
                    "Shorten the prompt (toTokens checks this for text).");
        for (int t : tokens)
            if (t < 0 || t >= c.vocabSize())
                throw new UserError("Token id " + t + " is outside model '" + id() + "''s vocabulary (0.." + (c.vocabSize() - 1) + ").",
                        "Make tokens with toTokens(text) or toSingleToken(word).");
    }

    @Override
    public void close() {
        model.close();
    }
}
