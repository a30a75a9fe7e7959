package org.milab.tables;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;

/**
 * The column types a lab table may hold. Every column is nullable; FLOAT64 also holds NaN, which is a value
 * distinct from null (a metric that was computed and is undefined vs. one that was not computed). The list
 * types hold one list per cell (Arrow {@code list<item>}), so readers query them without parsing text:
 * elements are never null, an empty list is a value distinct from a null cell.
 */
public enum ColumnType {
    STRING(String.class, null),
    INT64(Long.class, null),
    FLOAT64(Double.class, null),
    BOOL(Boolean.class, null),
    STRING_LIST(List.class, STRING),
    INT64_LIST(List.class, INT64),
    FLOAT64_LIST(List.class, FLOAT64);

    private final Class<?> javaType;
    private final ColumnType element;

    ColumnType(Class<?> javaType, ColumnType element) {
        this.javaType = javaType;
        this.element = element;
    }

    /** The boxed Java type every non-null value of this column has after {@link #coerce} (List for lists). */
    public Class<?> javaType() {
        return javaType;
    }

    /** The element type of a list type, or null for a scalar type. */
    public ColumnType element() {
        return element;
    }

    public boolean isList() {
        return element != null;
    }

    /** True if {@code value} is a valid non-null cell of this type (for lists: every element too). */
    boolean holds(Object value) {
        if (!isList()) return value.getClass() == javaType;
        if (!(value instanceof List<?> list)) return false;
        for (Object item : list) if (item == null || item.getClass() != element.javaType) return false;
        return true;
    }

    /**
     * Normalizes a value given by stage code to this type's Java type, or returns null if it does not fit.
     * Widening is allowed (int -> INT64, float/int/long -> FLOAT64); narrowing or reinterpreting is not
     * (a double is never silently truncated into INT64, a number never becomes a string). A list cell takes
     * any collection or Java array whose every element fits the element type; it is stored unmodifiable.
     */
    Object coerce(Object value) {
        if (value == null) return null;
        return switch (this) {
            case STRING -> value instanceof CharSequence s ? s.toString() : null;
            case INT64 -> value instanceof Long || value instanceof Integer || value instanceof Short
                    || value instanceof Byte ? Long.valueOf(((Number) value).longValue()) : null;
            case FLOAT64 -> value instanceof Double || value instanceof Float || value instanceof Long
                    || value instanceof Integer || value instanceof Short || value instanceof Byte
                    ? Double.valueOf(((Number) value).doubleValue()) : null;
            case BOOL -> value instanceof Boolean b ? b : null;
            case STRING_LIST, INT64_LIST, FLOAT64_LIST -> coerceList(value);
        };
    }

    private List<Object> coerceList(Object value) {
        Collection<?> items = value instanceof Collection<?> c ? c : arrayItems(value);
        if (items == null) return null;
        List<Object> out = new ArrayList<>(items.size());
        for (Object item : items) {
            Object c = element.coerce(item);
            if (c == null) return null; // a null or ill-typed element
            out.add(c);
        }
        return Collections.unmodifiableList(out);
    }

    private static List<Object> arrayItems(Object value) {
        if (value instanceof Object[] a) return java.util.Arrays.asList(a);
        if (value instanceof int[] a) return java.util.Arrays.stream(a).boxed().map(Object.class::cast).toList();
        if (value instanceof long[] a) return java.util.Arrays.stream(a).boxed().map(Object.class::cast).toList();
        if (value instanceof double[] a) return java.util.Arrays.stream(a).boxed().map(Object.class::cast).toList();
        return null;
    }
}
