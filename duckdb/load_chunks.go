package duckdb

/*
#include <stdlib.h>
*/
import "C"

import (
	"context"
	"database/sql/driver"
	"encoding/binary"
	"fmt"
	"reflect"
	"time"
	"unicode/utf8"
	"unsafe"

	duckdbdrv "github.com/duckdb/duckdb-go/v2"
	"github.com/duckdb/duckdb-go/v2/mapping"

	"github.com/knit-cdp/knit/engine"
)

// chunkLoad is the bulk loader of knit's millions of rows: it fills
// DuckDB data chunks itself and hands each one to DuckDB's appender,
// instead of duckdb-go's AppendRow, which boxes every value, type-switches
// it through generic setters and crosses into C once per string
// (duckdb_vector_assign_string_element_len: a third of a large load's
// time in the driver, more than DuckDB's own append of the same rows).
// Numbers, booleans and times are written into the vectors' memory;
// a string of up to 12 bytes is written into its vector slot (DuckDB
// inlines those); a longer one is copied into C memory this loader owns,
// which the slot points to until DuckDB has copied the chunk into the
// appender's own storage (duckdb_append_data_chunk copies: the caller may
// reuse a chunk after the call). A string that is not valid UTF-8 goes
// through DuckDB's own assignment, which stores NULL for it, as the driver
// did. ok is false when the fast path cannot serve this connection or
// table (a driver whose connection layout changed, a column type outside
// knit's vocabulary); the caller then uses the driver's appender.
func chunkLoad(ctx context.Context, conn driver.Conn, table string, cols []engine.Column, next func(row []any) (bool, error)) (n int64, ok bool, err error) {
	raw, ok := rawConnection(conn)
	if !ok {
		return 0, false, nil
	}
	var app mapping.Appender
	if mapping.AppenderCreateExt(raw, "", "", table, &app) == mapping.StateError {
		data := mapping.AppenderErrorData(app)
		msg := mapping.ErrorDataMessage(data)
		mapping.DestroyErrorData(&data)
		mapping.AppenderDestroy(&app)
		return 0, true, fmt.Errorf("duckdb: appender for %s: %s", table, msg)
	}
	l := &chunkLoader{app: app, table: table}
	defer l.close()
	for _, c := range cols {
		if mapping.AppenderAddColumn(app, c.Name) == mapping.StateError {
			return 0, true, fmt.Errorf("duckdb: appender for %s: column %s: %s", table, c.Name, mapping.AppenderError(app))
		}
	}
	for i := range cols {
		t := mapping.AppenderColumnType(app, mapping.IdxT(i))
		l.types = append(l.types, t)
		kind, known := chunkKinds[mapping.GetTypeId(t)]
		if !known {
			mapping.AppenderClear(app)
			return 0, false, nil
		}
		l.cols = append(l.cols, chunkColumn{name: cols[i].Name, kind: kind})
	}
	l.chunk = mapping.CreateDataChunk(l.types)
	l.hasChunk = true
	l.capacity = int(mapping.VectorSize())
	l.initVectors()

	row := make([]any, len(cols))
	for {
		if n%65536 == 0 && ctx.Err() != nil {
			mapping.AppenderClear(app)
			return n, true, ctx.Err()
		}
		more, err := next(row)
		if err != nil {
			mapping.AppenderClear(app)
			return n, true, err
		}
		if !more {
			break
		}
		for i, v := range row {
			if err := l.set(i, v); err != nil {
				mapping.AppenderClear(app)
				return n, true, fmt.Errorf("duckdb: append to %s: column %s: %w", table, l.cols[i].name, err)
			}
		}
		l.rows++
		n++
		if l.rows == l.capacity {
			if err := l.appendChunk(); err != nil {
				return n, true, err
			}
		}
	}
	if err := l.appendChunk(); err != nil {
		return n, true, err
	}
	if mapping.AppenderFlush(app) == mapping.StateError {
		return n, true, fmt.Errorf("duckdb: append to %s: %s", table, mapping.AppenderError(app))
	}
	return n, true, nil
}

// rawConnection returns the C connection behind duckdb-go's driver
// connection. duckdb-go keeps it in an unexported first field; the layout
// is checked once (connField) so that a driver release that moves it
// turns the fast path off instead of reading the wrong memory.
func rawConnection(conn driver.Conn) (mapping.Connection, bool) {
	c, ok := conn.(*duckdbdrv.Conn)
	if !ok || !connField || c == nil {
		return mapping.Connection{}, false
	}
	raw := *(*mapping.Connection)(unsafe.Pointer(c))
	return raw, raw.Ptr != nil
}

var connField = func() bool {
	t := reflect.TypeFor[duckdbdrv.Conn]()
	if t.NumField() == 0 {
		return false
	}
	f := t.Field(0)
	return f.Name == "conn" && f.Offset == 0 && f.Type == reflect.TypeFor[mapping.Connection]()
}()

type chunkKind uint8

const (
	kindText chunkKind = iota
	kindBigInt
	kindDouble
	kindBool
	kindTimestamp
	kindDate
)

// The column types engine.Column maps to in DuckDB (dialect.TypeName).
var chunkKinds = map[mapping.Type]chunkKind{
	mapping.TypeVarchar: kindText, mapping.TypeBigInt: kindBigInt, mapping.TypeDouble: kindDouble,
	mapping.TypeBoolean: kindBool, mapping.TypeTimestamp: kindTimestamp, mapping.TypeDate: kindDate,
}

type chunkColumn struct {
	name string
	kind chunkKind
	vec  mapping.Vector
	data unsafe.Pointer // the vector's values
	mask unsafe.Pointer // its validity bits (made writable)
}

type chunkLoader struct {
	app      mapping.Appender
	table    string
	types    []mapping.LogicalType
	chunk    mapping.DataChunk
	hasChunk bool
	cols     []chunkColumn
	rows     int // rows filled in the current chunk
	capacity int
	heap     cHeap
}

// initVectors takes each vector's memory after the chunk is (re)set: a
// reset may hand the vectors new buffers and drops their validity masks.
func (l *chunkLoader) initVectors() {
	mapping.DataChunkSetSize(l.chunk, mapping.IdxT(l.capacity))
	for i := range l.cols {
		c := &l.cols[i]
		c.vec = mapping.DataChunkGetVector(l.chunk, mapping.IdxT(i))
		c.data = mapping.VectorGetData(c.vec)
		mapping.VectorEnsureValidityWritable(c.vec)
		c.mask = mapping.VectorGetValidity(c.vec)
	}
}

// appendChunk hands the filled rows to DuckDB, which copies them, and
// starts the next chunk.
func (l *chunkLoader) appendChunk() error {
	if l.rows == 0 {
		return nil
	}
	mapping.DataChunkSetSize(l.chunk, mapping.IdxT(l.rows))
	if mapping.AppendDataChunk(l.app, l.chunk) == mapping.StateError {
		return fmt.Errorf("duckdb: append to %s: %s", l.table, mapping.AppenderError(l.app))
	}
	mapping.DataChunkReset(l.chunk)
	l.heap.reset()
	l.rows = 0
	l.initVectors()
	return nil
}

func (l *chunkLoader) close() {
	if l.hasChunk {
		mapping.DestroyDataChunk(&l.chunk)
	}
	for i := range l.types {
		mapping.DestroyLogicalType(&l.types[i])
	}
	mapping.AppenderDestroy(&l.app)
	l.heap.free()
}

// set writes one value into the current row of column i.
func (l *chunkLoader) set(i int, v any) error {
	c := &l.cols[i]
	row := l.rows
	if v == nil {
		setInvalid(c.mask, row)
		return nil
	}
	switch c.kind {
	case kindText:
		switch s := v.(type) {
		case string:
			l.setString(c, row, s)
			return nil
		case *string:
			if s == nil {
				setInvalid(c.mask, row)
			} else {
				l.setString(c, row, *s)
			}
			return nil
		case []byte:
			l.setString(c, row, string(s))
			return nil
		}
	case kindBigInt:
		if p, ok := v.(*int64); ok {
			setFixed(c, row, p)
			return nil
		}
		if x, ok := toNumber[int64](v); ok {
			*(*int64)(unsafe.Add(c.data, row*8)) = x
			return nil
		}
	case kindDouble:
		if p, ok := v.(*float64); ok {
			setFixed(c, row, p)
			return nil
		}
		if x, ok := toNumber[float64](v); ok {
			*(*float64)(unsafe.Add(c.data, row*8)) = x
			return nil
		}
	case kindBool:
		if b, ok := v.(bool); ok {
			*(*bool)(unsafe.Add(c.data, row)) = b
			return nil
		}
	case kindTimestamp:
		if t, ok, null := timeOf(v); null {
			setInvalid(c.mask, row)
			return nil
		} else if ok {
			if y := t.Year(); y < -290307 || y > 294246 {
				return fmt.Errorf("timestamp year %d outside DuckDB's range", y)
			}
			*(*int64)(unsafe.Add(c.data, row*8)) = t.UnixMicro()
			return nil
		}
	case kindDate:
		if t, ok, null := timeOf(v); null {
			setInvalid(c.mask, row)
			return nil
		} else if ok {
			*(*int32)(unsafe.Add(c.data, row*4)) = int32(t.Unix() / (24 * 60 * 60)) // as duckdb-go does
			return nil
		}
	}
	return fmt.Errorf("cannot store a %T in a %s column", v, c.kind)
}

// setFixed writes *p, NULL for nil, into an 8-byte column: engine.Load
// takes pointers to numbers and times as it does to strings, which a
// caller can hand over without an allocation per value.
func setFixed[T int64 | float64](c *chunkColumn, row int, p *T) {
	if p == nil {
		setInvalid(c.mask, row)
		return
	}
	*(*T)(unsafe.Add(c.data, row*8)) = *p
}

// timeOf reads a time.Time or a *time.Time (null when nil).
func timeOf(v any) (t time.Time, ok, null bool) {
	switch x := v.(type) {
	case time.Time:
		return x, true, false
	case *time.Time:
		if x == nil {
			return time.Time{}, false, true
		}
		return *x, true, false
	}
	return time.Time{}, false, false
}

func (k chunkKind) String() string {
	return [...]string{"text", "integer", "double", "boolean", "timestamp", "date"}[k]
}

func toNumber[T int64 | float64](v any) (T, bool) {
	switch x := v.(type) {
	case int64:
		return T(x), true
	case int:
		return T(x), true
	case int32:
		return T(x), true
	case int16:
		return T(x), true
	case int8:
		return T(x), true
	case uint64:
		return T(x), true
	case uint32:
		return T(x), true
	case uint16:
		return T(x), true
	case uint8:
		return T(x), true
	case uint:
		return T(x), true
	case float64:
		return T(x), true
	case float32:
		return T(x), true
	}
	return 0, false
}

// setInvalid marks a row NULL in a validity mask (64 rows per word).
func setInvalid(mask unsafe.Pointer, row int) {
	w := (*uint64)(unsafe.Add(mask, (row/64)*8))
	*w &^= 1 << (row % 64)
}

// stringT is DuckDB's string_t: the length, then either the string itself
// (up to 12 bytes, zero-padded: DuckDB compares inlined strings as whole
// 16-byte values) or its first 4 bytes and a pointer to the rest.
type stringT struct {
	length uint32
	prefix [4]byte
	ptr    uintptr // C memory, not a Go pointer
}

const inlineLimit = 12

// setString checks UTF-8 on the copy it has just made, not on the
// source string first: the source strings lie all over the Go heap, and a
// check that branches on their bytes waits for each one to arrive from
// memory, where a plain copy lets the processor fetch many at once (the
// check before the copy was 5.6 CPU-s of a 1M run). An ASCII test of the
// copy costs little; only a string with other bytes is checked in full.
func (l *chunkLoader) setString(c *chunkColumn, row int, s string) {
	if len(s) > 1<<31 {
		l.assignString(c, row, s)
		return
	}
	slot := (*stringT)(unsafe.Add(c.data, row*16))
	if len(s) <= inlineLimit {
		var b [16]byte
		*(*uint32)(unsafe.Pointer(&b[0])) = uint32(len(s))
		copy(b[4:], s)
		if !validText(b[4 : 4+len(s)]) {
			l.assignString(c, row, s)
			return
		}
		*(*[16]byte)(unsafe.Pointer(slot)) = b
		return
	}
	p := l.heap.alloc(len(s))
	dst := unsafe.Slice((*byte)(p), len(s))
	copy(dst, s)
	if !validText(dst) {
		l.assignString(c, row, s)
		return
	}
	slot.length = uint32(len(s))
	copy(slot.prefix[:], s[:4])
	slot.ptr = uintptr(p)
}

// assignString hands a string to DuckDB's own assignment, which stores
// NULL for invalid UTF-8, as duckdb-go's appender did.
func (l *chunkLoader) assignString(c *chunkColumn, row int, s string) {
	mapping.VectorAssignStringElement(c.vec, mapping.IdxT(row), s)
}

// validText reports whether b is valid UTF-8: ASCII tested 8 bytes at a
// time without a branch per byte, anything else checked in full.
func validText(b []byte) bool {
	var acc uint64
	i := 0
	for ; i+8 <= len(b); i += 8 {
		acc |= binary.LittleEndian.Uint64(b[i:])
	}
	for ; i < len(b); i++ {
		acc |= uint64(b[i])
	}
	return acc&0x8080808080808080 == 0 || utf8.Valid(b)
}

// cHeap hands out C memory for one chunk's long strings: blocks reused
// from chunk to chunk, a string larger than a block in a block of its own
// freed with the chunk.
type cHeap struct {
	blocks []unsafe.Pointer
	cur    int // block being filled
	off    int // bytes used in it
	large  []unsafe.Pointer
}

const cHeapBlock = 1 << 20

func (h *cHeap) alloc(n int) unsafe.Pointer {
	if n > cHeapBlock/4 {
		p := C.malloc(C.size_t(n))
		if p == nil {
			panic("duckdb: out of memory for a string of " + fmt.Sprint(n) + " bytes")
		}
		h.large = append(h.large, p)
		return p
	}
	if len(h.blocks) == 0 || h.off+n > cHeapBlock {
		if len(h.blocks) > 0 {
			h.cur++
		}
		if h.cur == len(h.blocks) {
			p := C.malloc(cHeapBlock)
			if p == nil {
				panic("duckdb: out of memory for a chunk's strings")
			}
			h.blocks = append(h.blocks, p)
		}
		h.off = 0
	}
	p := unsafe.Add(h.blocks[h.cur], h.off)
	h.off += n
	return p
}

// reset makes the blocks reusable once DuckDB has copied the chunk.
func (h *cHeap) reset() {
	for _, p := range h.large {
		C.free(p)
	}
	h.large, h.cur, h.off = h.large[:0], 0, 0
}

func (h *cHeap) free() {
	h.reset()
	for _, p := range h.blocks {
		C.free(p)
	}
	h.blocks = nil
}
