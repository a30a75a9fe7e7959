package org.milab.testing;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What a summary or a stage log must never show a researcher: Java's toString of a map ({@code {a=1}}), of a list of names
 * ({@code [L0H1, L1H2]}) or of a record ({@code Interval[estimate=...]}), an object identity ({@code @1b6d3586}), a bare {@code null}, an
 * exception class name, or a float printed with Java's 17 digits ({@code 0.97042311072349548}). Numbers for people
 * go through {@code stats.Num} (4 significant digits, p below 1e-16 as "< 1e-16").
 */
public final class HumanText {
    private HumanText() {}

    private static final List<Pattern> BAD = List.of(
            Pattern.compile("\\{[A-Za-z_][A-Za-z0-9_]*="),                 // Map.toString
            Pattern.compile("\\b[A-Z][A-Za-z0-9]*\\[[a-z][A-Za-z0-9]*="),   // record toString
            Pattern.compile("\\[[A-Za-z][A-Za-z0-9_]*(, [A-Za-z][A-Za-z0-9_]*)+]"), // List.toString of names (not a CI)
            Pattern.compile("@[0-9a-f]{6,}\\b"),                            // Object.toString
            Pattern.compile("\\bnull\\b(?!\\s[a-z])"),                 // not a label such as "duplicate token null ov"
            Pattern.compile("\\b(java|org)\\.[a-z]+\\.[A-Za-z.]*(Exception|Error)\\b"),
            Pattern.compile("(?<![0-9a-f])[0-9]\\.[0-9]{9,}"));             // 10+ significant digits (not a hash)

    /** Each offending line with what it shows, or an empty list. Hashes (hex of 12+ characters with a letter) do not count. */
    public static List<String> problems(String text) {
        List<String> out = new ArrayList<>();
        for (String line : text.split("\n")) {
            String scrubbed = line.replaceAll("\\b(?=[0-9a-f]*[a-f])[0-9a-f]{12,}\\b", "<hash>"); // hex with a letter
            for (Pattern p : BAD) {
                Matcher m = p.matcher(scrubbed);
                if (m.find()) {
                    out.add("'" + m.group() + "' in: " + line.strip());
                    break;
                }
            }
        }
        return out;
    }
}
