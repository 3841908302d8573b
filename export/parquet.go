package export

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/snappy"

	"github.com/knit-cdp/knit/engine"
)

// writeParquetRows writes a Parquet file from Go, for engines that cannot
// write Parquet themselves (PostgreSQL): the rows are scanned once through
// the engine's driver and written by parquet-go with the column names and
// order of the export and the types of the query's result columns, as
// DuckDB's COPY writes them — optional (nullable) UTF-8 strings, INT64,
// INT32, DOUBLE, BOOLEAN, TIMESTAMP (microseconds; adjusted to UTC for
// timestamptz) and DATE — snappy-compressed, in row groups of at most
// rowGroupRows rows. Memory holds one batch of rows and the row group
// being encoded.
func (env *Env) writeParquetRows(ctx context.Context, sel *selection, path string, res *Result) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	names := make([]string, len(sel.cols))
	kinds := make([]parquetKind, len(sel.cols))
	var w *parquet.Writer
	batch := make([]parquet.Row, 0, parquetBatch)
	flush := func() error {
		if _, err := w.WriteRows(batch); err != nil {
			return err
		}
		batch = batch[:0]
		return nil
	}
	start := func(dbTypes []*sql.ColumnType) error {
		group := parquet.Group{}
		for i, c := range sel.cols {
			names[i] = c.Name
			kinds[i] = kindOf(dbTypes[i].DatabaseTypeName(), c.Type)
			group[c.Name] = parquet.Optional(kinds[i].node())
		}
		schema := parquet.NewSchema("knit_export", orderedGroup{Group: group, names: names})
		w = parquet.NewWriter(bw, schema, parquet.Compression(&snappy.Codec{}), parquet.MaxRowsPerRowGroup(rowGroupRows))
		return nil
	}
	err = env.eachTyped(ctx, sel, start, func(vals []any) error {
		res.count(sel, vals)
		out := make(parquet.Row, len(vals))
		for i, v := range vals {
			pv, err := kinds[i].value(v)
			if err != nil {
				return fmt.Errorf("parquet export: column %s: %w", names[i], err)
			}
			def := 1
			if pv.IsNull() {
				def = 0
			}
			out[i] = pv.Level(0, def, i)
		}
		if batch = append(batch, out); len(batch) == parquetBatch {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, step := range []func() error{flush, w.Close, bw.Flush, f.Sync} {
		if err := step(); err != nil {
			return err
		}
	}
	return f.Close()
}

const (
	parquetBatch = 1024
	rowGroupRows = 122880 // DuckDB's default row group size
)

// parquetKind is a column's Parquet type, from the database type of the
// query's result column (as DuckDB's COPY would write it).
type parquetKind int

const (
	pqString parquetKind = iota
	pqInt64
	pqInt32
	pqDouble
	pqBool
	pqTimestamp   // without time zone
	pqTimestampTZ // adjusted to UTC
	pqDate
)

func kindOf(dbType string, t engine.Type) parquetKind {
	switch dbType {
	case "INT8":
		return pqInt64
	case "INT4", "INT2":
		return pqInt32
	case "FLOAT8", "FLOAT4", "NUMERIC":
		return pqDouble
	case "BOOL":
		return pqBool
	case "TIMESTAMP":
		return pqTimestamp
	case "TIMESTAMPTZ":
		return pqTimestampTZ
	case "DATE":
		return pqDate
	case "TEXT", "VARCHAR", "BPCHAR", "UUID", "NAME":
		return pqString
	}
	switch t {
	case engine.BigInt:
		return pqInt64
	case engine.Double:
		return pqDouble
	case engine.Bool:
		return pqBool
	case engine.Timestamp:
		return pqTimestamp
	case engine.Date:
		return pqDate
	}
	return pqString
}

func (k parquetKind) node() parquet.Node {
	switch k {
	case pqInt64:
		return parquet.Int(64)
	case pqInt32:
		return parquet.Int(32)
	case pqDouble:
		return parquet.Leaf(parquet.DoubleType)
	case pqBool:
		return parquet.Leaf(parquet.BooleanType)
	case pqTimestamp:
		return parquet.TimestampAdjusted(parquet.Microsecond, false)
	case pqTimestampTZ:
		return parquet.TimestampAdjusted(parquet.Microsecond, true)
	case pqDate:
		return parquet.Date()
	}
	return parquet.String()
}

// value converts a scanned value to the column's physical type.
func (k parquetKind) value(v any) (parquet.Value, error) {
	if v == nil {
		return parquet.NullValue(), nil
	}
	switch k {
	case pqString:
		return parquet.ByteArrayValue([]byte(text(v))), nil
	case pqInt64, pqInt32:
		var n int64
		switch x := v.(type) {
		case int64:
			n = x
		case int32:
			n = int64(x)
		case int:
			n = int64(x)
		default:
			return parquet.Value{}, fmt.Errorf("the engine returned %T for an integer column", v)
		}
		if k == pqInt32 {
			return parquet.Int32Value(int32(n)), nil
		}
		return parquet.Int64Value(n), nil
	case pqDouble:
		switch x := v.(type) {
		case float64:
			return parquet.DoubleValue(x), nil
		case float32:
			return parquet.DoubleValue(float64(x)), nil
		case int64:
			return parquet.DoubleValue(float64(x)), nil
		case string: // NUMERIC
			f, err := strconv.ParseFloat(x, 64)
			return parquet.DoubleValue(f), err
		}
	case pqBool:
		if b, ok := v.(bool); ok {
			return parquet.BooleanValue(b), nil
		}
	case pqTimestamp, pqTimestampTZ:
		if tm, ok := v.(time.Time); ok {
			return parquet.Int64Value(tm.UnixMicro()), nil
		}
	case pqDate:
		if tm, ok := v.(time.Time); ok {
			y, m, d := tm.Date()
			return parquet.Int32Value(int32(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)), nil
		}
	}
	return parquet.Value{}, fmt.Errorf("the engine returned %T for a column of Parquet kind %d", v, k)
}

// orderedGroup is a parquet group whose fields keep the export's column
// order (parquet.Group sorts them by name).
type orderedGroup struct {
	parquet.Group
	names []string
}

func (g orderedGroup) Fields() []parquet.Field {
	fields := make([]parquet.Field, len(g.names))
	for i, n := range g.names {
		fields[i] = groupField{Node: g.Group[n], name: n}
	}
	return fields
}

type groupField struct {
	parquet.Node
	name string
}

func (f groupField) Name() string { return f.name }

// Value is used by parquet-go only when writing Go structs or maps; rows
// are written as parquet.Row here.
func (f groupField) Value(base reflect.Value) reflect.Value {
	return base.MapIndex(reflect.ValueOf(f.name))
}
