package org.milab.tables;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;

/**
 * One named, typed column. Values are the boxed type of {@link ColumnType#javaType()} or null (for list
 * types an unmodifiable list of the element type); the list of values is unmodifiable. Equality is value
 * equality, with NaN equal to NaN (as {@link Double#equals} defines it).
 */
public record Column(String name, ColumnType type, List<Object> values) {
    public Column {
        Objects.requireNonNull(name, "column name");
        Objects.requireNonNull(type, "column type of " + name);
        if (name.isEmpty()) throw new IllegalArgumentException("Column names must not be empty");
        List<Object> copy = new ArrayList<>(values); // List.copyOf would reject the nulls we allow
        for (int i = 0; i < copy.size(); i++) {
            Object v = copy.get(i);
            if (v != null && !type.holds(v)) {
                throw new IllegalArgumentException("Column '" + name + "' is " + type + " but row " + i
                        + " holds a " + v.getClass().getSimpleName() + " (" + v + ")");
            }
            if (v instanceof List<?> l) copy.set(i, Collections.unmodifiableList(new ArrayList<>(l)));
        }
        values = Collections.unmodifiableList(copy);
    }

    public int size() {
        return values.size();
    }

    public Object get(int row) {
        return values.get(row);
    }
}
