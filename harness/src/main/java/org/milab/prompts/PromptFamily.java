package org.milab.prompts;

import java.util.List;
import java.util.Objects;

/**
 * A prompt family of one generator: its name (the {@code family} column), whether it is a positive
 * (should show induction) or a control, and the generator's task name (the {@code task} column).
 */
public record PromptFamily(String name, Role role, String task) {
    public enum Role {
        POSITIVE,
        CONTROL
    }

    public PromptFamily {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(task, "task");
    }

    public boolean positive() {
        return role == Role.POSITIVE;
    }

    static PromptFamily positive(String name, String task) {
        return new PromptFamily(name, Role.POSITIVE, task);
    }

    static PromptFamily control(String name, String task) {
        return new PromptFamily(name, Role.CONTROL, task);
    }

    /** Names of the given families, in order. */
    public static List<String> names(List<PromptFamily> families) {
        return families.stream().map(PromptFamily::name).toList();
    }
}
