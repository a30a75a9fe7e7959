package org.milab.tables;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Hand-made tables shared by the Arrow tests: every type, nulls, NaN, infinities, -0.0, unicode. */
final class TestTables {
    private TestTables() {}

    static Map<String, Object> provenance() {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("model_sha256", "9f2c0d8e4b1a");
        p.put("graph_hashes", Map.of("full", "aa11", "patch_z", "bb22"));
        p.put("git_commit", "f4cd035");
        p.put("seeds", List.of(10, 11, 12));
        p.put("device", "cpu");
        p.put("library_versions", Map.of("arrow", "19.0.0", "onnxruntime", "1.29.0"));
        return p;
    }

    /**
     * Ten rows; with 3 rows per batch the file holds batches of 3, 3, 3 and 1 rows. Layer and head make the
     * builder add head_id; the three list columns hold empty lists, null cells and awkward elements.
     */
    static Table everyType() {
        TableBuilder b = Table.builder("every_type")
                .keys("seed", "example_id")
                .int64("seed").string("example_id", "family").float64("effect_size").bool("ok").int64("rank")
                .int64("layer", "head").stringList("tokens").int64List("seeds").float64List("effects")
                .describe("effect_size", "Normalized effect of the patch (test description).")
                .provenance(provenance())
                .metadata("milab.stage", "S12");
        b.addRow(10, "ex_0", "word", 0.25, true, 1, 0, 1, List.of("A", "B"), List.of(10, 11, 12), List.of(0.5, -1.0));
        b.addRow(10, "ex_1", "naïve café ☕ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢", Double.NaN, false, 2, 7, 11, List.of("naïve", "𝔘", ""), List.of(), List.of(Double.NaN));
        b.addRow(10, "ex_2", null, null, null, null, null, 3, null, null, null);
        b.addRow(10, "ex_3", "", -0.0, true, Long.MAX_VALUE, 11, 0, List.of(), List.of(Long.MAX_VALUE, Long.MIN_VALUE), List.of(-0.0, 0.0));
        b.addRow(11, "ex_0", "数字", Double.POSITIVE_INFINITY, false, Long.MIN_VALUE, 1, 2, List.of("a,b", "[\"c\"]"), List.of(0), List.of());
        b.addRow(11, "ex_1", "emoji 👩‍🔬", Double.NEGATIVE_INFINITY, true, -7, 1, 2, List.of("👩‍🔬"), List.of(-1), List.of(Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY));
        b.addRow(11, "ex_2", "tab\tand \"quotes\"\nnewline", 1e-300, null, 0, 2, 3, List.of("tab\t", "line\n"), List.of(1), List.of(1e-300));
        b.addRow(11, "ex_3", "Ω", Double.MIN_VALUE, false, 9_007_199_254_740_993L, 3, 4, List.of("Ω"), List.of(9_007_199_254_740_993L), List.of(Double.MIN_VALUE)); // 2^53 + 1: not a JS number
        b.addRow(12, "ex_0", "word", 0.1 + 0.2, true, 3, 4, 5, List.of("word"), List.of(12), List.of(0.1 + 0.2));
        b.addRow(12, "ex_1", "word", -123456.789e10, false, null, 5, 6, List.of("x", "y", "z"), List.of(1, 2, 3), List.of(-123456.789e10));
        return b.build();
    }
}
