package org.milab.tables;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.util.List;
import java.util.Map;

/** JSON of the tables package (metadata values, key strings): the lab's mapper, written on one line. */
final class Json {
    static final ObjectMapper MAPPER = org.milab.util.Json.MAPPER;

    private Json() {}

    static String write(Object value) {
        try {
            return org.milab.util.Json.COMPACT.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("Cannot write as JSON: " + value + " (" + e.getOriginalMessage() + ")", e);
        }
    }

    static Map<String, Object> readObject(String json) throws JsonProcessingException {
        return MAPPER.readValue(json, new TypeReference<Map<String, Object>>() {});
    }

    static List<String> readStringList(String json) throws JsonProcessingException {
        return MAPPER.readValue(json, new TypeReference<List<String>>() {});
    }
}
