package org.milab.circuit;

import java.util.Set;

/**
 * AUROC of an edge ranking by |score| against a set of true edges (grading on planted models, as InterpBench
 * does): the probability that a random true edge outscores a random other edge, ties counting one half.
 */
public final class Auroc {
    private Auroc() {}

    public static double of(double[] score, CircuitEdges edges, Set<String> trueEdges) {
        long pos = 0, neg = 0;
        double wins = 0;
        for (CircuitEdges.Edge a : edges.edges()) {
            if (!trueEdges.contains(a.name())) continue;
            pos++;
            for (CircuitEdges.Edge b : edges.edges()) {
                if (trueEdges.contains(b.name())) continue;
                double x = Math.abs(score[a.index()]), y = Math.abs(score[b.index()]);
                wins += x > y ? 1 : x == y ? 0.5 : 0;
            }
        }
        for (CircuitEdges.Edge b : edges.edges()) if (!trueEdges.contains(b.name())) neg++;
        long found = edges.edges().stream().filter(e -> trueEdges.contains(e.name())).count();
        if (found != trueEdges.size())
            throw new IllegalArgumentException("true edges not in the model's graph: " + trueEdges.size() + " given, " + found + " found");
        return wins / (pos * (double) neg);
    }
}
