package org.milab.tables;

import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Table metadata is one line of JSON although the lab's shared mapper indents (manifests and summaries are
 * read by people): the provenance and keys in an Arrow schema are written compact, exactly as before the
 * mapper was shared.
 */
class CompactMetadataTest {
    @Test
    void provenanceIsOneLine() {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("run_id", "r");
        p.put("seed", 10);
        p.put("nested", Map.of("a", 1));
        Table t = Table.builder("t").int64("x").provenance(p).addRow(1).build();
        assertThat(t.provenanceJson()).isEqualTo("{\"run_id\":\"r\",\"seed\":10,\"nested\":{\"a\":1}}");
        assertThat(Json.write(Map.of("k", 1))).isEqualTo("{\"k\":1}");
        assertThat(org.milab.util.Json.write(Map.of("k", 1))).contains("\n"); // the shared mapper itself indents
    }
}
