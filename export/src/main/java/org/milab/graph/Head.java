package org.milab.graph;

import org.milab.util.UserError;

import java.util.Comparator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** One attention head, written the field's way: L7H7 is layer 7, head 7. */
public record Head(int layer, int head) implements Comparable<Head> {
    private static final Pattern LABEL = Pattern.compile("L(\\d+)H(\\d+)");
    private static final Comparator<Head> ORDER = Comparator.comparingInt(Head::layer).thenComparingInt(Head::head);

    public static Head parse(String label) {
        Matcher m = LABEL.matcher(label.trim());
        if (!m.matches()) throw new UserError("'" + label + "' is not a head label.", "Write heads as L<layer>H<head>, e.g. L7H7.");
        return new Head(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)));
    }

    public String label() {
        return "L" + layer + "H" + head;
    }

    @Override
    public int compareTo(Head o) {
        return ORDER.compare(this, o);
    }

    @Override
    public String toString() {
        return label();
    }
}
