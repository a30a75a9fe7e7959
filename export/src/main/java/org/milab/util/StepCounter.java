package org.milab.util;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The overall progress of a multi-step job (a run's pipeline steps, an export's files): one line when a step
 * starts and one when it ends, even for steps that take milliseconds, with "step i of n", the elapsed time and
 * an estimate of the time left. Per-step progress bars ({@link ProgressBar}) draw between those lines.
 *
 * <p>The estimate for a step not yet run is, in order: its own duration from an earlier attempt (a resumed
 * run knows them), the mean of finished steps of the same kind (the name without digits: the seeds of one
 * stage take about as long as each other), the mean of all finished steps. Skipped steps count as done and
 * take no time. The estimate is labelled as one ("about").
 */
public final class StepCounter {
    private final String job;
    private final List<String> names;
    private final Map<String, Double> earlier;
    private final PrintStream out;
    private final Map<String, Double> took = new LinkedHashMap<>();
    private final long start = System.nanoTime();
    private long stepStart;
    private int index;

    /**
     * @param names   every step in order (the plan)
     * @param earlier seconds a step took in an earlier attempt, where known
     */
    public StepCounter(String job, List<String> names, Map<String, Double> earlier, PrintStream out) {
        this.job = job;
        this.names = List.copyOf(names);
        this.earlier = Map.copyOf(earlier);
        this.out = out;
    }

    public StepCounter(String job, List<String> names) {
        this(job, names, Map.of(), System.err);
    }

    public int total() {
        return names.size();
    }

    /** Prints "[i/n] job: name ..." and starts the step's clock; a name outside the plan extends the count. */
    public void start(String name) {
        index = names.indexOf(name) >= 0 ? names.indexOf(name) + 1 : index + 1;
        stepStart = System.nanoTime();
        println(prefix() + name + " ...");
    }

    /** The step ran: prints its duration, the elapsed total and the estimate of the rest. */
    public void done(String name) {
        double secs = (System.nanoTime() - stepStart) / 1e9;
        took.put(name, secs);
        println(prefix() + name + " done in " + ProgressBar.duration(secs) + tail());
    }

    /** The step was not needed (a resumed run found it up to date). */
    public void skipped(String name, String why) {
        took.put(name, 0.0);
        index = names.indexOf(name) >= 0 ? names.indexOf(name) + 1 : index + 1;
        println(prefix() + name + " " + why + tail());
    }

    /** Seconds left for the steps after the current one, estimated as the class comment says; NaN if unknown. */
    public double remainingSeconds() {
        double sum = 0;
        for (String n : names.subList(Math.min(index, names.size()), names.size())) {
            if (took.containsKey(n)) continue;
            Double e = estimate(n);
            if (e == null) return Double.NaN;
            sum += e;
        }
        return sum;
    }

    private Double estimate(String name) {
        if (earlier.containsKey(name)) return earlier.get(name);
        List<Double> sameKind = new ArrayList<>(), all = new ArrayList<>();
        took.forEach((n, s) -> {
            if (s == 0.0) return; // skipped
            all.add(s);
            if (kind(n).equals(kind(name))) sameKind.add(s);
        });
        if (!sameKind.isEmpty()) return mean(sameKind);
        return all.isEmpty() ? null : mean(all);
    }

    static String kind(String name) {
        return name.replaceAll("[0-9]+", "#");
    }

    private static double mean(List<Double> v) {
        return v.stream().mapToDouble(Double::doubleValue).sum() / v.size();
    }

    private String prefix() {
        int width = String.valueOf(Math.max(total(), index)).length();
        return String.format(Locale.ROOT, "[%" + width + "d/%d] %s: ", index, Math.max(total(), index), job);
    }

    private String tail() {
        double elapsed = (System.nanoTime() - start) / 1e9;
        if (index >= total()) return "; " + ProgressBar.duration(elapsed) + " in all";
        double left = remainingSeconds();
        return "; " + ProgressBar.duration(elapsed) + " elapsed"
                + (Double.isNaN(left) ? "" : ", about " + ProgressBar.duration(left) + " left");
    }

    private void println(String line) {
        out.println(line);
        out.flush();
    }
}
