package org.milab.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import org.milab.util.Json;

/**
 * bench.json's names are snake_case, derived from the result records' components (a renamed component
 * renames its key); derived rates are the records' methods marked {@code @JsonProperty}.
 */
public final class BenchJson {
    public static final ObjectMapper MAPPER = Json.MAPPER.copy().setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE);

    private BenchJson() {}

    public static JsonNode tree(Object result) {
        return MAPPER.valueToTree(result);
    }
}
