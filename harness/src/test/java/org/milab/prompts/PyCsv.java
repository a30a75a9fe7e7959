package org.milab.prompts;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;

/** Test helper: Python's {@code csv} writer (excel dialect, QUOTE_MINIMAL) and fixture loading. */
final class PyCsv {
    private PyCsv() {}

    /** Header plus rows, each field quoted only when it holds a comma, a quote, CR or LF. */
    static String render(List<String> header, List<List<String>> rows, String lineTerminator) {
        StringBuilder out = new StringBuilder();
        line(header, lineTerminator, out);
        rows.forEach(row -> line(row, lineTerminator, out));
        return out.toString();
    }

    private static void line(List<String> fields, String terminator, StringBuilder out) {
        for (int i = 0; i < fields.size(); i++) {
            if (i > 0) {
                out.append(',');
            }
            String f = fields.get(i);
            boolean quote = f.indexOf(',') >= 0 || f.indexOf('"') >= 0 || f.indexOf('\r') >= 0 || f.indexOf('\n') >= 0;
            out.append(quote ? '"' + f.replace("\"", "\"\"") + '"' : f);
        }
        out.append(terminator);
    }

    static String prompts(List<PromptRecord> records) {
        return render(PromptRecord.COLUMNS, records.stream().map(PromptRecord::csvValues).toList(), "\r\n");
    }

    static String fixture(String name) {
        try (InputStream in = PyCsv.class.getResourceAsStream("reference/" + name)) {
            if (in == null) {
                throw new IllegalStateException("missing test fixture reference/" + name);
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
