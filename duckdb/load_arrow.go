//go:build duckdb_arrow

package duckdb

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	duckdbdrv "github.com/duckdb/duckdb-go/v2"

	"github.com/knit-cdp/knit/engine"
)

// Builds with the duckdb_arrow tag hand DuckDB whole columns: rows are
// gathered into Arrow record batches on a goroutine of their own and
// DuckDB reads them through an Arrow stream with INSERT … SELECT. The
// appender (load_appender.go) crosses into C once for every string; here a
// batch of a hundred thousand rows crosses once, DuckDB's own threads
// convert and compress it, and the garbage collector sees a few large
// pointer-free buffers instead of a boxed value per field.

// A batch is flushed at one DuckDB row group of rows or at this many bytes
// of strings, whichever comes first: the bytes bound keeps memory flat when
// rows carry large JSON, and Arrow's 32-bit string offsets far from their
// limit.
const (
	arrowBatchRows  = 122_880
	arrowBatchBytes = 64 << 20
)

var arrowViews atomic.Int64

func bulkLoad(ctx context.Context, conn driver.Conn, table string, cols []engine.Column, next func(row []any) (bool, error)) (int64, error) {
	ar, err := duckdbdrv.NewArrowFromConn(conn)
	if err != nil {
		return 0, fmt.Errorf("duckdb: arrow for %s: %w", table, err)
	}
	schema := arrowSchema(cols)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	batches := make(chan arrow.RecordBatch, 2)
	var n int64
	var produceErr error
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		defer close(batches)
		n, produceErr = produceBatches(ctx, table, schema, cols, next, batches)
	}()
	reader := &batchReader{schema: schema, batches: batches, err: &produceErr}

	view := fmt.Sprintf("knit_arrow_load_%d", arrowViews.Add(1))
	release, err := ar.RegisterView(reader, view)
	if err != nil {
		cancel()
		drain(produced, batches)
		return 0, fmt.Errorf("duckdb: arrow view for %s: %w", table, err)
	}
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = quote(c.Name)
	}
	list := strings.Join(names, ", ")
	exec := conn.(driver.ExecerContext)
	_, insertErr := exec.ExecContext(ctx, "INSERT INTO "+quote(table)+" ("+list+") SELECT "+list+" FROM "+quote(view), nil)
	cancel() // a producer still sending (the INSERT failed) stops
	drain(produced, batches)
	// The view points at the stream: it goes before the stream is freed.
	_, dropErr := exec.ExecContext(context.WithoutCancel(ctx), "DROP VIEW IF EXISTS "+quote(view), nil)
	release()
	switch {
	case produceErr != nil && !errors.Is(produceErr, context.Canceled):
		return n, produceErr
	case insertErr != nil:
		return n, fmt.Errorf("duckdb: load %s: %w", table, insertErr)
	case produceErr != nil:
		return n, produceErr
	case dropErr != nil:
		return n, fmt.Errorf("duckdb: load %s: %w", table, dropErr)
	}
	return n, nil
}

// batchReader is the Arrow stream DuckDB reads: the producer's batches as
// they come. DuckDB pulls them from its own threads through a cgo callback,
// where iterator coroutines (array.ReaderFromIter) cannot run, hence a
// channel. An error of the producer is the stream's error, so the INSERT
// fails as a whole instead of committing the rows sent so far.
type batchReader struct {
	refs    atomic.Int64
	schema  *arrow.Schema
	batches <-chan arrow.RecordBatch
	err     *error // the producer's; read once the channel is closed
	cur     arrow.RecordBatch
	done    bool
}

func (r *batchReader) Retain()               { r.refs.Add(1) }
func (r *batchReader) Release()              { r.refs.Add(-1) }
func (r *batchReader) Schema() *arrow.Schema { return r.schema }

func (r *batchReader) Next() bool {
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	if r.done {
		return false
	}
	b, ok := <-r.batches
	if !ok {
		r.done = true
		return false
	}
	r.cur = b
	return true
}

func (r *batchReader) RecordBatch() arrow.RecordBatch { return r.cur }

// Record is RecordBatch under the name older callers use.
func (r *batchReader) Record() arrow.RecordBatch { return r.cur }

func (r *batchReader) Err() error {
	if r.done {
		return *r.err
	}
	return nil
}

// drain waits for the producer and frees the batches DuckDB did not take.
func drain(produced chan struct{}, batches chan arrow.RecordBatch) {
	for {
		select {
		case b, ok := <-batches:
			if ok {
				b.Release()
			}
		case <-produced:
			for b := range batches {
				b.Release()
			}
			return
		}
	}
}

func arrowSchema(cols []engine.Column) *arrow.Schema {
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		fields[i] = arrow.Field{Name: c.Name, Type: arrowType(c.Type), Nullable: true}
	}
	return arrow.NewSchema(fields, nil)
}

func arrowType(t engine.Type) arrow.DataType {
	switch t {
	case engine.BigInt:
		return arrow.PrimitiveTypes.Int64
	case engine.Double:
		return arrow.PrimitiveTypes.Float64
	case engine.Bool:
		return arrow.FixedWidthTypes.Boolean
	case engine.Timestamp:
		// No time zone: DuckDB reads it as TIMESTAMP, the columns' type.
		return &arrow.TimestampType{Unit: arrow.Microsecond}
	case engine.Date:
		return arrow.FixedWidthTypes.Date32
	default:
		return arrow.BinaryTypes.String
	}
}

// produceBatches calls next until it reports no more rows and sends the
// rows as record batches.
func produceBatches(ctx context.Context, table string, schema *arrow.Schema, cols []engine.Column, next func(row []any) (bool, error),
	out chan<- arrow.RecordBatch) (int64, error) {
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	put := make([]func(any) (int, error), len(cols))
	for i, c := range cols {
		put[i] = columnAppender(b.Field(i), c.Type)
	}
	send := func() error {
		rec := b.NewRecordBatch()
		select {
		case out <- rec:
			return nil
		case <-ctx.Done():
			rec.Release()
			return ctx.Err()
		}
	}
	row := make([]any, len(cols))
	var n int64
	rows, bytes := 0, 0
	for {
		if n%65536 == 0 && ctx.Err() != nil {
			return n, ctx.Err()
		}
		ok, err := next(row)
		if err != nil {
			return n, err
		}
		if !ok {
			break
		}
		for i, v := range row {
			size, err := put[i](v)
			if err != nil {
				return n, fmt.Errorf("duckdb: load %s, row %d, column %s: %w", table, n+1, cols[i].Name, err)
			}
			bytes += size
		}
		n++
		rows++
		if rows == arrowBatchRows || bytes >= arrowBatchBytes {
			if err := send(); err != nil {
				return n, err
			}
			rows, bytes = 0, 0
		}
	}
	if rows > 0 {
		return n, send()
	}
	return n, nil
}

// columnAppender returns the function that appends one Go value to a
// column, reporting the bytes of string data it added. The Go types are
// those the appender takes for the column's type.
func columnAppender(fb array.Builder, t engine.Type) func(any) (int, error) {
	switch b := fb.(type) {
	case *array.StringBuilder:
		return typed(t, b, func(v any) (string, bool) {
			switch x := v.(type) {
			case string:
				return x, true
			case []byte:
				return string(x), true
			}
			return "", false
		})
	case *array.Int64Builder:
		return typed(t, b, func(v any) (int64, bool) {
			switch x := v.(type) {
			case int64:
				return x, true
			case int:
				return int64(x), true
			case int32:
				return int64(x), true
			}
			return 0, false
		})
	case *array.Float64Builder:
		return typed(t, b, func(v any) (float64, bool) {
			switch x := v.(type) {
			case float64:
				return x, true
			case int64:
				return float64(x), true
			case int:
				return float64(x), true
			}
			return 0, false
		})
	case *array.BooleanBuilder:
		return typed(t, b, func(v any) (bool, bool) { x, ok := v.(bool); return x, ok })
	case *array.TimestampBuilder:
		return typed(t, b, func(v any) (arrow.Timestamp, bool) {
			x, ok := v.(time.Time)
			return arrow.Timestamp(x.UnixMicro()), ok
		})
	case *array.Date32Builder:
		return typed(t, b, func(v any) (arrow.Date32, bool) {
			x, ok := v.(time.Time)
			return arrow.Date32(x.Unix() / 86400), ok // days, as the appender counts them
		})
	}
	panic(fmt.Sprintf("duckdb: no Arrow appender for %T", fb))
}

// typed appends nil as null and what conv accepts as a value; strings
// report their length.
func typed[T any](t engine.Type, b interface {
	Append(T)
	AppendNull()
}, conv func(any) (T, bool)) func(any) (int, error) {
	return func(v any) (int, error) {
		if v == nil {
			b.AppendNull()
			return 0, nil
		}
		x, ok := conv(v)
		if !ok {
			return 0, fmt.Errorf("a value of Go type %T cannot be stored as %s", v, dialect{}.TypeName(t))
		}
		b.Append(x)
		if s, isString := any(x).(string); isString {
			return len(s), nil
		}
		return 0, nil
	}
}

// atomicLoad: a failed Load leaves the table as it was.
const atomicLoad = true
