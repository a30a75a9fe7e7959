package org.milab.protocol.v2;

import org.milab.engine.TokenIds;
import org.milab.stage.StageContext;
import org.milab.tables.RecordSchema;
import org.milab.tables.Table;
import org.milab.tables.TableBuilder;
import org.milab.tokenizer.Tokenizer;
import org.milab.util.Hashing;
import org.milab.util.UserError;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * Pre-registration: writes {@code v2/protocol.json} and its sha256 before anything is scored, then the prompt
 * pairs and attention probes it defines ({@code v2/prompts}, {@code v2/attention_probes}). Every later stage
 * loads the protocol through {@link #load}, which refuses a file that changed since it was registered.
 */
public final class ProtocolStage {
    public static final String DIR = "v2";
    public static final String FILE = "protocol.json";
    public static final String SHA_FILE = FILE + ".sha256";
    public static final String PROMPTS = "prompts";
    public static final String PROBES = "attention_probes";
    /** Schema metadata key carrying the protocol hash on every v2 table. */
    public static final String SHA_METADATA = "milab.protocol_v2_sha256";

    public void run(StageContext ctx, V2Protocol.Counts counts) {
        Tokenizer tok = ctx.model().tokenizer();
        V2Protocol p = V2Protocol.build(ctx.model().id(), counts, tok, ctx.model().config().nLayer(),
                ctx.model().config().nHead());
        String json = p.toJson();
        String sha = Hashing.sha256(json);
        ctx.writeText(DIR, null, FILE, json);
        ctx.writeText(DIR, null, SHA_FILE, sha + "  " + FILE + "\n"); // sha256sum -c format
        ctx.recordHash("v2_protocol", sha);
        int bos = tok.bosId();
        TableBuilder prompts = PROMPT_ROWS.builder(PROMPTS, "prompt_id").metadata(SHA_METADATA, sha);
        for (int seed : p.seeds())
            for (FamilySpec f : p.families())
                for (PromptPair x : InductionPrompts.family(f, p.pool(f.pool()), bos, seed, p.promptsPerFamily()))
                    addPrompt(prompts, tok, x);
        if (p.naturalText().scored()) // after the random families: their rows and ids stay as before
            for (int seed : p.seeds())
                for (PromptPair x : p.naturalText().pairs(tok, seed, p.promptsPerFamily())) addPrompt(prompts, tok, x);
        TableBuilder probes = PROBE_ROWS.builder(PROBES, "probe_id").metadata(SHA_METADATA, sha);
        for (int seed : p.seeds())
            for (AttentionProbe a : InductionPrompts.probes(p.pool(p.probePool()), bos, p.probeLengths(), seed, p.probesPerLength()))
                PROBE_ROWS.add(probes, new ProbeRow(seed, a.id(), a.index(), a.n(), ids(a.repeat()), ids(a.control()),
                        tok.decode(a.repeat())));
        Table t = ctx.write(DIR, null, prompts);
        Table q = ctx.write(DIR, null, probes);
        ctx.summarize(String.format(Locale.ROOT, "- v2 protocol registered (sha256 `%s`): %d prompt pairs (%d families x "
                + "%d seeds), %d attention probes, %d heads; pools %s", sha, t.rowCount(),
                p.families().size() + (p.naturalText().scored() ? 1 : 0),
                p.seeds().size(), q.rowCount(), p.headUniverse().size(), p.pools().stream()
                        .map(x -> x.name() + "=" + x.size()).collect(Collectors.joining(", "))));
        ctx.summarize("- v2 " + p.naturalText().describe());
    }

    private static void addPrompt(TableBuilder prompts, Tokenizer tok, PromptPair x) {
        PROMPT_ROWS.add(prompts, new PromptRow(x.seed(), x.family(), x.id(), x.index(), x.n(), x.k(), x.length(),
                ids(x.clean()), ids(x.corrupt()), ids(x.donor()), x.answer(), x.wrong(), x.controlAlt(),
                tok.tokenText(x.answer()), tok.tokenText(x.wrong()), tok.tokenText(x.controlAlt()),
                tok.decode(x.clean()), tok.decode(x.corrupt())));
    }

    /** The registered protocol, refused when protocol.json no longer matches its recorded sha256. */
    public static Registered load(StageContext ctx) {
        Path file = ctx.dir(DIR, null).resolve(FILE), shaFile = ctx.dir(DIR, null).resolve(SHA_FILE);
        String json, recorded;
        try {
            json = Files.readString(file);
            recorded = Files.readString(shaFile).strip().split("\\s+")[0];
        } catch (IOException e) {
            throw new UserError("The v2 protocol is not registered in this run (" + file + " or its .sha256 is missing).",
                    "Run the v2 protocol step first (make run-v2 runs every step in order).", e);
        }
        String actual = Hashing.sha256(json);
        if (!actual.equals(recorded))
            throw new UserError("v2/protocol.json no longer matches its registered sha256 (" + recorded + ", now " + actual
                    + "); scoring refuses a protocol changed after registration.",
                    "Start a new run (new RUN_ID) to register a new protocol; never edit a registered one.");
        return new Registered(V2Protocol.fromJson(json), actual);
    }

    /** A loaded protocol and its hash (stamped on every table scored under it). */
    public record Registered(V2Protocol protocol, String sha256) {}

    /** One row of {@code v2/prompts}: a registered prompt pair, token ids as Arrow lists. */
    record PromptRow(int seed, String family, String promptId, int index, int n, int k, int length, List<Integer> cleanIds,
                     List<Integer> corruptIds, List<Integer> donorIds, int answerId, int wrongId, int controlAltId, String answer,
                     String wrong, String controlAlt, String cleanText, String corruptText) {
        PromptPair pair() {
            return new PromptPair(promptId, family, seed, index, n, k, parse(cleanIds), parse(corruptIds), parse(donorIds),
                    answerId, wrongId, controlAltId);
        }
    }

    /** One row of {@code v2/attention_probes}. */
    record ProbeRow(int seed, String probeId, int index, int n, List<Integer> repeatIds, List<Integer> controlIds, String repeatText) {
        AttentionProbe probe() {
            return new AttentionProbe(probeId, seed, index, n, parse(repeatIds), parse(controlIds));
        }
    }

    private static final RecordSchema<PromptRow> PROMPT_ROWS = RecordSchema.of(PromptRow.class);
    private static final RecordSchema<ProbeRow> PROBE_ROWS = RecordSchema.of(ProbeRow.class);

    /** The registered prompt pairs, in table order. */
    public static List<PromptPair> pairs(StageContext ctx) {
        return PROMPT_ROWS.read(ctx.read(DIR, null, PROMPTS)).stream().map(PromptRow::pair).toList();
    }

    public static List<AttentionProbe> probes(StageContext ctx) {
        return PROBE_ROWS.read(ctx.read(DIR, null, PROBES)).stream().map(ProbeRow::probe).toList();
    }

    static List<Integer> ids(int[] ids) {
        return Arrays.stream(ids).boxed().toList();
    }

    static int[] parse(List<Integer> ids) {
        return ids.stream().mapToInt(Integer::intValue).toArray();
    }

    static TokenIds tokens(int[] ids) {
        return new TokenIds(ids);
    }
}
