package org.milab.cli;

import org.milab.api.ActivationCache;
import org.milab.api.HookedModel;
import org.milab.api.Tensor;
import org.milab.engine.Capture;
import org.milab.engine.TokenIds;

import org.milab.lab.LabModel;
import org.milab.report.AttentionPage;
import org.milab.runtime.Device;
import org.milab.tables.ArrowTables;
import org.milab.tables.HookTables;
import org.milab.tokenizer.Tokenizer;
import org.milab.util.UserError;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/** What a new user runs first: a prompt's tokens, its top next tokens, and any hook dumped to Arrow. */
@Command(name = "inspect", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Show a prompt's tokens and top-k next tokens; dump hooks (e.g. blocks.0.attn.hook_z) to Arrow files.")
public final class InspectCommand implements java.util.concurrent.Callable<Integer> {
    @Mixin RootOption root;
    @Option(names = "--model", defaultValue = "gpt2",
            description = "Exported model under graphs/ (gpt2, planted-induction, ...). Default: ${DEFAULT-VALUE}.") String model;
    @Option(names = "--prompt", required = true,
            description = "Prompt text; BOS is prepended as TransformerLens does.") String prompt;
    @Option(names = "--top-k", defaultValue = "10", description = "Next tokens to list. Default: ${DEFAULT-VALUE}.") int topK;
    @Option(names = "--hook", paramLabel = "HOOK",
            description = "Hook to dump as an Arrow table, repeatable: any TransformerLens hook of the model, e.g. blocks.0.attn.hook_z, "
                    + "blocks.0.mlp.hook_post (hooks the capture graph lacks come through the Java API). Default: none.")
    List<String> hooks = new ArrayList<>();
    @Option(names = "--out", paramLabel = "DIR",
            description = "Folder for the hook tables. Default: results/inspect/<yyyyMMdd-HHmmss>.") Path out;
    @Option(names = "--html", description = "Also write attention.html (offline): the attention pattern of each --head on the prompt, "
            + "tokens labelled, values on hover.") boolean html;
    @Option(names = "--head", paramLabel = "HEAD", description = "With --html: a head to draw, repeatable, e.g. L1H2. "
            + "Default: every head of a model with at most 32.") List<String> heads = new ArrayList<>();
    @Option(names = "--device", defaultValue = "cpu", description = "cpu, cuda or auto. Default: ${DEFAULT-VALUE}.") String device;
    @Option(names = "--threads", defaultValue = "0",
            description = "ONNX Runtime intra-op threads; 0 means one per processor the JVM sees (not ONNX Runtime's own default, which can count one core on a 2-core machine). Default: ${DEFAULT-VALUE}.") int threads;

    @Override
    public Integer call() {
        OptionChecks.bounded("--top-k", topK, 1, 100_000);
        if (prompt.isBlank())
            throw new UserError("--prompt is empty: there is nothing to inspect.", "Pass the prompt text, e.g. --prompt 'The cat sat'.");
        if (out != null) OptionChecks.outputFolder("--out", out);
        OptionChecks.bounded("--threads", threads, 0, OptionChecks.MAX_THREADS);
        try (LabModel m = LabModel.open(root.root(), model, Device.parse(device), threads)) {
            Tokenizer tok = m.tokenizer();
            Set<String> known = new LinkedHashSet<>();
            m.manifest(org.milab.graph.GraphVariant.CAPTURE).path("outputs")
                    .forEach(o -> known.add(o.path("name").asText()));
            // hooks the capture graph lacks (hook_q, hook_resid_mid, mlp.hook_pre/post, hook_embed...) come from the Java API
            Set<String> viaApi = new LinkedHashSet<>();
            for (String h : hooks)
                if (!known.contains(h) || h.equals("logits_final")) {
                    if (hookedGraphHooks(m).contains(h)) {
                        viaApi.add(h);
                        continue;
                    }
                    throw new UserError("Unknown hook '" + h + "' for model " + model + ".",
                            "Use a TransformerLens hook name of the model, e.g. blocks.0.attn.hook_z, blocks.0.attn.hook_q, "
                                    + "blocks.0.hook_attn_out, blocks.0.attn.hook_pattern, blocks.0.mlp.hook_post, blocks.0.hook_resid_post.");
                }
            if (!heads.isEmpty() && !html)
                throw new UserError("--head chooses the heads of --html's attention page, and --html is not given.", "Add --html, or drop --head.");
            List<org.milab.graph.Head> drawn = html ? AttentionPage.heads(m, heads) : List.of();
            TokenIds ids = new TokenIds(m.promptTokens(prompt));
            Set<String> captured = new LinkedHashSet<>(hooks);
            captured.removeAll(viaApi);
            Capture c = m.engine().capture(List.of(ids), captured, "capture").get(ids);
            int[] raw = ids.ids();
            System.out.println("tokens (" + raw.length + ", BOS first):");
            for (int i = 0; i < raw.length; i++)
                System.out.printf(Locale.ROOT, "  %3d  %6d  %s%n", i, raw[i], quote(tok.tokenText(raw[i])));
            System.out.println("top " + topK + " next tokens:");
            double[] p = softmax(c.logits());
            Integer[] order = new Integer[p.length];
            for (int i = 0; i < p.length; i++) order[i] = i;
            java.util.Arrays.sort(order, (a, b) -> Double.compare(p[b], p[a]));
            for (int r = 0; r < Math.min(topK, p.length); r++)
                System.out.printf(Locale.ROOT, "  %2d  %6d  %-16s p=%.5f  logit=%.4f%n", r + 1, order[r],
                        quote(tok.tokenText(order[r])), p[order[r]], c.logits()[order[r]]);
            Path dir = out != null ? out : root.root().resolve("results").resolve("inspect")
                    .resolve(LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
            if (html) System.out.println("wrote " + AttentionPage.write(dir, m, prompt, drawn));
            if (!hooks.isEmpty()) {
                Map<String, Object> prov = new java.util.LinkedHashMap<>(m.provenance());
                prov.put("prompt", prompt);
                prov.put("token_ids", raw);
                Map<String, Tensor> api = apiHooks(raw, viaApi);
                for (String h : hooks) {
                    Tensor t = api.get(h);
                    Path f = ArrowTables.writeInto(dir, t == null ? HookTables.toTable(h, c.hook(h), c.shapes().get(h), prov)
                            : HookTables.toTable(h, t.toArray(), java.util.Arrays.stream(t.shape()).asLongStream().toArray(), prov));
                    System.out.println("wrote " + f);
                }
            }
        }
        return 0;
    }

    /** Every hook of the model's hooked graph (the Java API's), by its TransformerLens name. */
    private static Set<String> hookedGraphHooks(LabModel m) {
        Set<String> out = new LinkedHashSet<>();
        m.manifest(org.milab.graph.GraphVariant.HOOKED).path("outputs").forEach(o -> {
            if (!o.path("hook").asText("").isEmpty()) out.add(o.path("hook").asText());
        });
        return out;
    }

    /** The hooks only the hooked graph has, through the public API (the same model, opened the API's way). */
    private Map<String, Tensor> apiHooks(int[] tokens, Set<String> names) {
        if (names.isEmpty()) return Map.of();
        Map<String, Tensor> out = new java.util.LinkedHashMap<>();
        try (HookedModel hm = HookedModel.open(model, HookedModel.Options.defaults().withRoot(root.root()).withDevice(device)
                .withThreads(threads))) {
            ActivationCache cache = hm.runWithCache(tokens, names.toArray(String[]::new));
            for (String h : names) out.put(h, cache.get(h));
        }
        return out;
    }

    private static double[] softmax(float[] logits) {
        double max = Double.NEGATIVE_INFINITY, sum = 0;
        for (float l : logits) max = Math.max(max, l);
        double[] p = new double[logits.length];
        for (int i = 0; i < p.length; i++) sum += (p[i] = Math.exp(logits[i] - max));
        for (int i = 0; i < p.length; i++) p[i] /= sum;
        return p;
    }

    private static String quote(String s) {
        return "'" + s.replace("\n", "\\n") + "'";
    }
}
