package org.milab.tables;

import org.milab.util.ColumnName;

import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A record type as a table schema: the record is written once and its components are the columns, in
 * order, named in snake_case ({@code meanEffect} -> {@code mean_effect}; {@link ColumnName} where a fixed name
 * differs), typed from the component's Java type
 * and described by {@link Describe} (else by the glossary). Rows are written from records and read back into
 * them, so a renamed component renames its column and no stage repeats a column name in a map or a
 * positional row.
 *
 * <p>Types: {@code String} and enums (their {@code name()}) are STRING; {@code int}, {@code long} and their
 * boxes INT64; {@code double}, {@code float} and boxes FLOAT64; {@code boolean}/{@code Boolean} BOOL;
 * {@code List<String>}, {@code List<Integer|Long>}, {@code List<Double>} the list types. Boxed components
 * may be null (a null cell); primitive ones may not.
 */
public final class RecordSchema<R extends Record> {
    private static final Map<Class<?>, RecordSchema<?>> CACHE = new ConcurrentHashMap<>();

    private final Class<R> type;
    private final RecordComponent[] components;
    private final List<String> columns;
    private final Constructor<R> constructor;

    private RecordSchema(Class<R> type) {
        this.type = type;
        this.components = type.getRecordComponents();
        List<String> names = new ArrayList<>(components.length);
        Class<?>[] params = new Class<?>[components.length];
        for (int i = 0; i < components.length; i++) {
            names.add(name(components[i]));
            params[i] = components[i].getType();
        }
        this.columns = Collections.unmodifiableList(names);
        try {
            this.constructor = type.getDeclaredConstructor(params);
            this.constructor.setAccessible(true);
        } catch (NoSuchMethodException e) {
            throw new IllegalStateException("record " + type.getName() + " has no canonical constructor", e);
        }
    }

    /** The schema of record type {@code type} (derived once per type). */
    @SuppressWarnings({"unchecked", "rawtypes"})
    public static <R extends Record> RecordSchema<R> of(Class<R> type) {
        return (RecordSchema<R>) CACHE.computeIfAbsent(type, t -> new RecordSchema(t));
    }

    /**
     * {@code dHeadOrHiddenAxis} -> {@code d_head_or_hidden_axis}; digits stay attached ({@code top5} -> {@code top5},
     * {@code graphSha256} -> {@code graph_sha256}) and underscores stay, so a column that separates its digits is
     * spelled with one ({@code nRankAtMost_10} -> {@code n_rank_at_most_10}).
     */
    public static String snakeCase(String camel) {
        StringBuilder sb = new StringBuilder(camel.length() + 4);
        for (int i = 0; i < camel.length(); i++) {
            char c = camel.charAt(i);
            if (Character.isUpperCase(c)) {
                if (i > 0) sb.append('_');
                sb.append(Character.toLowerCase(c));
            } else {
                sb.append(c);
            }
        }
        return sb.toString();
    }

    /** The column (or JSON key) of component {@code c}: its {@link ColumnName}, else its name in snake_case. */
    public static String name(RecordComponent c) {
        ColumnName n = c.getAnnotation(ColumnName.class);
        return n != null ? n.value() : snakeCase(c.getName());
    }

    /** Column names, in component order. */
    public List<String> columns() {
        return columns;
    }

    /** The column type of every component, in order; a component of another type is an error naming it. */
    public List<ColumnType> types() {
        List<ColumnType> out = new ArrayList<>(components.length);
        for (RecordComponent c : components) out.add(columnType(c));
        return out;
    }

    /** A builder for table {@code table} with this record's columns (and descriptions), keyed on {@code keys}. */
    public TableBuilder builder(String table, String... keys) {
        return appendColumns(Table.builder(table)).keys(keys);
    }

    /** Appends {@code row} to {@code builder} (made by {@link #builder}, or declaring the same columns in order). */
    public TableBuilder add(TableBuilder builder, R row) {
        Object[] values = new Object[components.length];
        for (int i = 0; i < components.length; i++) values[i] = cell(value(row, components[i]));
        return builder.addRow(values);
    }

    /** Declares this record's columns (and descriptions) after those {@code builder} already has. */
    public TableBuilder appendColumns(TableBuilder builder) {
        for (RecordComponent c : components) builder.column(name(c), columnType(c));
        for (RecordComponent c : components) {
            Describe d = c.getAnnotation(Describe.class);
            if (d != null) builder.describe(name(c), d.value());
        }
        return builder;
    }

    /**
     * Appends a row of another table (its columns by name, as {@link TableBuilder#copyRow}) widened by {@code extra}'s
     * components (declared with {@link #appendColumns}): a derived table that adds columns names none of the copied ones.
     */
    public TableBuilder addAfter(TableBuilder builder, Table.Row row, R extra) {
        Map<String, Object> m = row.toMap();
        m.putAll(toMap(extra));
        return builder.addRow(m);
    }

    /** A table of {@code rows}. */
    public TableBuilder builder(String table, List<R> rows, String... keys) {
        TableBuilder b = builder(table, keys);
        for (R r : rows) add(b, r);
        return b;
    }

    /** Column name to value in component order (for JSON rows); enums as their names, values otherwise as they are. */
    public Map<String, Object> toMap(R row) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (RecordComponent c : components) {
            Object v = value(row, c);
            m.put(name(c), v instanceof Enum<?> e ? e.name() : v);
        }
        return m;
    }

    /**
     * {@code value} as a JSON tree: a record becomes an object keyed by its components in snake_case, in
     * component order (a component marked {@link Inline} writes its record's entries in its place; one marked
     * {@link OmitIfNull} is left out when null; one marked {@link PrecededBy} has an extra key before it); lists
     * and maps are converted element by element (map keys as they are), enums and paths become their names and
     * strings, anything else stays as it is. So a JSON document written from a
     * record tree has its keys, their order and their nesting from the records alone.
     */
    public static Object tree(Object value) {
        if (value instanceof Record r) return treeMap(r);
        if (value instanceof Enum<?> e) return e.name();
        if (value instanceof java.nio.file.Path p) return p.toString();
        if (value instanceof List<?> l) {
            List<Object> out = new ArrayList<>(l.size());
            for (Object o : l) out.add(tree(o));
            return out;
        }
        if (value instanceof Map<?, ?> m) {
            Map<Object, Object> out = new LinkedHashMap<>();
            m.forEach((k, v) -> out.put(k, tree(v)));
            return out;
        }
        return value;
    }

    /** {@link #tree} of one record: its object, as an ordered map. */
    public static Map<String, Object> treeMap(Record row) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (RecordComponent c : of(row.getClass()).components) {
            Object v = value(row, c);
            PrecededBy extra = c.getAnnotation(PrecededBy.class);
            if (extra != null) m.put(extra.key(), tree(value(row, component(row.getClass(), extra.component()))));
            if (c.isAnnotationPresent(Inline.class)) {
                if (!(v instanceof Record inner))
                    throw new IllegalArgumentException(row.getClass().getSimpleName() + "." + c.getName()
                            + " is marked @Inline but holds " + v + ", not a record");
                m.putAll(treeMap(inner));
            } else if (v != null || !c.isAnnotationPresent(OmitIfNull.class)) {
                m.put(name(c), tree(v));
            }
        }
        return m;
    }

    /** A table row read back into the record (columns by name; columns the record does not have are ignored). */
    public R read(Table.Row row) {
        Object[] args = new Object[components.length];
        for (int i = 0; i < components.length; i++) {
            RecordComponent c = components[i];
            String column = name(c);
            if (!row.table().hasColumn(column))
                throw new IllegalArgumentException("Table '" + row.table().name() + "' has no column '" + column + "' for "
                        + type.getSimpleName() + "." + c.getName());
            args[i] = fromCell(row.get(column), c, row.table().name());
        }
        return construct(args);
    }

    /**
     * A row held as column name -> cell value (as {@link Table.Row#toMap} gives it, e.g. a row joined from two
     * tables) read into the record; {@code source} names it in errors. Keys the record lacks are ignored.
     */
    public R read(Map<String, ?> row, String source) {
        Object[] args = new Object[components.length];
        for (int i = 0; i < components.length; i++) {
            RecordComponent c = components[i];
            String column = name(c);
            if (!row.containsKey(column))
                throw new IllegalArgumentException(source + " has no column '" + column + "' for " + type.getSimpleName() + "." + c.getName());
            args[i] = fromCell(row.get(column), c, source);
        }
        return construct(args);
    }

    private R construct(Object[] args) {
        try {
            return constructor.newInstance(args);
        } catch (InstantiationException | IllegalAccessException e) {
            throw new IllegalStateException(e);
        } catch (InvocationTargetException e) {
            throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
        }
    }

    /** Every row of {@code table}, read into records. */
    public List<R> read(Table table) {
        List<R> out = new ArrayList<>(table.rowCount());
        for (Table.Row r : table.rows()) out.add(read(r));
        return out;
    }

    private static RecordComponent component(Class<?> type, String name) {
        for (RecordComponent c : type.getRecordComponents()) if (c.getName().equals(name)) return c;
        throw new IllegalArgumentException(type.getSimpleName() + " has no component '" + name + "' (named by a @PrecededBy)");
    }

    private static Object value(Record row, RecordComponent c) {
        try {
            c.getAccessor().setAccessible(true);
            return c.getAccessor().invoke(row);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        } catch (InvocationTargetException e) {
            throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
        }
    }

    private static Object cell(Object v) {
        return v instanceof Enum<?> e ? e.name() : v;
    }

    private ColumnType columnType(RecordComponent c) {
        Class<?> t = c.getType();
        if (t == String.class || t.isEnum()) return ColumnType.STRING;
        if (t == int.class || t == long.class || t == Integer.class || t == Long.class) return ColumnType.INT64;
        if (t == double.class || t == float.class || t == Double.class || t == Float.class) return ColumnType.FLOAT64;
        if (t == boolean.class || t == Boolean.class) return ColumnType.BOOL;
        if (t == List.class) {
            Class<?> e = listElement(c.getGenericType());
            if (e == String.class) return ColumnType.STRING_LIST;
            if (e == Integer.class || e == Long.class) return ColumnType.INT64_LIST;
            if (e == Double.class) return ColumnType.FLOAT64_LIST;
        }
        throw new IllegalArgumentException(type.getSimpleName() + "." + c.getName() + " has type " + c.getGenericType().getTypeName()
                + ", which no table column holds (String, enum, int, long, double, float, boolean, List<String|Integer|Long|Double>)");
    }

    private static Class<?> listElement(Type generic) {
        if (generic instanceof ParameterizedType p && p.getActualTypeArguments()[0] instanceof Class<?> e) return e;
        return null;
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private Object fromCell(Object v, RecordComponent c, String table) {
        Class<?> t = c.getType();
        if (v == null) {
            if (t.isPrimitive())
                throw new IllegalArgumentException("Table '" + table + "' has a null in column '" + name(c)
                        + "', which " + type.getSimpleName() + "." + c.getName() + " (" + t + ") cannot hold");
            return null;
        }
        if (t.isEnum()) return Enum.valueOf((Class) t, (String) v);
        if (t == int.class || t == Integer.class) return Math.toIntExact((Long) v);
        if (t == float.class || t == Float.class) return ((Double) v).floatValue();
        if (t == List.class && listElement(c.getGenericType()) == Integer.class)
            return ((List<Long>) v).stream().map(Math::toIntExact).toList();
        return v;
    }
}
