package org.milab.report;

import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * One chart of the report: a Vega-Lite spec with its data inline, and what a browser must draw for it
 * (the named mark and how many items it has), so a test can tell a rendered figure from an empty one.
 *
 * @param section       the report section it belongs to
 * @param markNames     the Vega-Lite unit names of the marks that carry the data (Vega draws each as {@code <name>_marks})
 * @param expectedItems how many items those marks must draw together
 */
public record Figure(String id, String section, String title, String caption, ObjectNode spec, java.util.List<String> markNames,
                     int expectedItems) {
    /** The same figure shown in another section (e.g. lifted to the page's first screen). */
    public Figure in(String otherSection) {
        return new Figure(id, otherSection, title, caption, spec, markNames, expectedItems);
    }
}
