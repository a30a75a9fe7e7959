package org.milab.prompts;

import java.util.List;

/**
 * The few Python text renderings the reference's prompt files depend on: {@code str(bool)},
 * {@code json.dumps(list_of_str)} with its defaults, and {@code repr(str)} (used inside one notes string).
 */
public final class PyText {
    private PyText() {}

    /** {@code str(b)}: {@code True} / {@code False}. */
    public static String bool(boolean b) {
        return b ? "True" : "False";
    }

    /**
     * {@code json.dumps(items)} with default options: {@code ["a", "b"]} (", " separator) and
     * {@code ensure_ascii=True}, so anything outside space..tilde is escaped ({@code \n}, {@code \"}, or
     * lowercase {@code \}{@code uXXXX} per UTF-16 unit, which is what Python emits for astral characters).
     */
    public static String jsonStringList(List<String> items) {
        StringBuilder out = new StringBuilder("[");
        for (int i = 0; i < items.size(); i++) {
            if (i > 0) {
                out.append(", ");
            }
            jsonString(items.get(i), out);
        }
        return out.append(']').toString();
    }

    private static void jsonString(String s, StringBuilder out) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                case '\b' -> out.append("\\b");
                case '\f' -> out.append("\\f");
                default -> {
                    if (c < 0x20 || c > 0x7e) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        out.append('"');
    }

    /**
     * {@code repr(s)} for strings of printable ASCII plus the usual control escapes: single quotes unless
     * the text holds a single quote and no double quote. Non-ASCII characters are kept as they are, which
     * matches Python for printable ones (the only kind the prompt vocabularies could hold).
     */
    public static String repr(String s) {
        char quote = s.indexOf('\'') >= 0 && s.indexOf('"') < 0 ? '"' : '\'';
        StringBuilder out = new StringBuilder().append(quote);
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == quote || c == '\\') {
                out.append('\\').append(c);
            } else if (c == '\n') {
                out.append("\\n");
            } else if (c == '\r') {
                out.append("\\r");
            } else if (c == '\t') {
                out.append("\\t");
            } else if (c < 0x20 || c == 0x7f) {
                out.append(String.format("\\x%02x", (int) c));
            } else {
                out.append(c);
            }
        }
        return out.append(quote).toString();
    }
}
