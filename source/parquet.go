package source

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math/big"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	knit "github.com/knit-cdp/knit"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// parquetColumn is one top-level leaf column of a Parquet file.
type parquetColumn struct {
	name  string
	leaf  int // leaf column index in the file's rows
	typ   parquet.Type
	logic *format.LogicalType
}

// openParquetFile opens a Parquet file and lists its top-level leaf columns.
// Nested groups and repeated fields are not read.
func openParquetFile(r *Reader, file string) (*os.File, *parquet.File, []parquetColumn, error) {
	if strings.HasSuffix(strings.ToLower(file), ".gz") {
		return nil, nil, nil, knit.Errorf(knit.EINVALID, "%s: Parquet files are compressed inside; gzip the file is not supported, decompress it first", file)
	}
	osFile, err := os.Open(r.path(file))
	if err != nil {
		return nil, nil, nil, knit.Wrap(knit.ENOTFOUND, err, "source %q: cannot open %s", r.src.Name, file)
	}
	info, err := osFile.Stat()
	if err != nil {
		osFile.Close()
		return nil, nil, nil, knit.Wrap(knit.EINTERNAL, err, "%s", file)
	}
	pf, err := parquet.OpenFile(osFile, info.Size())
	if err != nil {
		osFile.Close()
		return nil, nil, nil, knit.Wrap(knit.EINVALID, err, "%s: not a readable Parquet file", file)
	}
	var cols []parquetColumn
	schema := pf.Schema()
	for _, field := range schema.Fields() {
		if !field.Leaf() || field.Repeated() {
			continue
		}
		leaf, ok := schema.Lookup(field.Name())
		if !ok {
			continue
		}
		cols = append(cols, parquetColumn{name: field.Name(), leaf: leaf.ColumnIndex, typ: field.Type(), logic: field.Type().LogicalType()})
	}
	return osFile, pf, cols, nil
}

// parquetHeader returns the columns of one Parquet file.
func parquetHeader(r *Reader, file string) ([]string, error) {
	osFile, _, cols, err := openParquetFile(r, file)
	if err != nil {
		return nil, err
	}
	defer osFile.Close()
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
	}
	return names, nil
}

// parquetFile reads one Parquet file.
type parquetFile struct {
	name    string
	osFile  *os.File
	reader  *parquet.Reader
	columns []parquetColumn
	target  []int       // position in the Reader's columns of each column
	byLeaf  map[int]int // leaf column index -> index into columns
	rows    []parquet.Row
	n, at   int   // rows buffered and the next to return
	number  int64 // rows returned
	values  []string
}

func openParquet(r *Reader, file string) (fileReader, error) {
	osFile, pf, cols, err := openParquetFile(r, file)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(cols))
	byLeaf := make(map[int]int, len(cols))
	for i, c := range cols {
		names[i] = c.name
		byLeaf[c.leaf] = i
	}
	target, _ := r.fileColumnMap(names)
	return &parquetFile{
		name: file, osFile: osFile, reader: parquet.NewReader(pf), columns: cols,
		target: target, byLeaf: byLeaf, rows: make([]parquet.Row, 256),
		values: make([]string, len(r.columns)),
	}, nil
}

func (f *parquetFile) read(row *Row) error {
	if f.at == f.n {
		n, err := f.reader.ReadRows(f.rows)
		if n == 0 {
			if err == nil || err == io.EOF {
				return io.EOF
			}
			return fmt.Errorf("after row %d: %w", f.number, err)
		}
		f.n, f.at = n, 0
	}
	values := f.rows[f.at]
	f.at++
	f.number++
	row.Line = f.number
	clear(f.values)
	for _, v := range values {
		i, ok := f.byLeaf[v.Column()]
		if !ok || v.IsNull() {
			continue
		}
		f.values[f.target[i]] = parquetText(f.columns[i], v)
	}
	row.Values = f.values
	return nil
}

// parquetText renders a Parquet value as text by its logical type:
// timestamps as RFC 3339 in UTC, dates as 2006-01-02, decimals with their
// scale, byte arrays as strings (hex when they are not UTF-8).
func parquetText(c parquetColumn, v parquet.Value) string {
	var logic format.LogicalTypeValue
	if c.logic != nil {
		logic = c.logic.Value
	}
	switch t := logic.(type) {
	case *format.TimestampType:
		return unixTime(v.Int64(), t.Unit.Value).UTC().Format(time.RFC3339Nano)
	case *format.DateType:
		return time.Unix(int64(v.Int32())*86400, 0).UTC().Format(time.DateOnly)
	case *format.DecimalType:
		return decimalText(v, int(t.Scale))
	case *format.IntType:
		if !t.IsSigned {
			if t.BitWidth == 64 {
				return strconv.FormatUint(v.Uint64(), 10)
			}
			return strconv.FormatUint(uint64(v.Uint32()), 10)
		}
	}
	switch v.Kind() {
	case parquet.Boolean:
		return strconv.FormatBool(v.Boolean())
	case parquet.Int32:
		return strconv.FormatInt(int64(v.Int32()), 10)
	case parquet.Int64:
		return strconv.FormatInt(v.Int64(), 10)
	case parquet.Int96:
		// Legacy Impala/Spark timestamp: nanoseconds of the day, then the
		// Julian day number.
		b := v.Bytes()
		if len(b) == 12 {
			nanos := binary.LittleEndian.Uint64(b[:8])
			julian := int64(binary.LittleEndian.Uint32(b[8:]))
			const unixEpochJulianDay = 2440588
			t := time.Unix((julian-unixEpochJulianDay)*86400, int64(nanos))
			return t.UTC().Format(time.RFC3339Nano)
		}
		return v.String()
	case parquet.Float:
		return strconv.FormatFloat(float64(v.Float()), 'g', -1, 32)
	case parquet.Double:
		return strconv.FormatFloat(v.Double(), 'g', -1, 64)
	default:
		b := v.ByteArray()
		if utf8.Valid(b) {
			return string(b)
		}
		return hex.EncodeToString(b)
	}
}

// unixTime converts a count of the unit since the Unix epoch without the
// overflow of a time.Duration (which ends in 2262).
func unixTime(n int64, unit format.TimeUnitValue) time.Time {
	if unit == nil {
		return time.UnixMilli(n)
	}
	switch unit.Duration() {
	case time.Microsecond:
		return time.UnixMicro(n)
	case time.Nanosecond:
		return time.Unix(0, n)
	}
	return time.UnixMilli(n)
}

// decimalText renders an unscaled decimal integer with scale digits after
// the point.
func decimalText(v parquet.Value, scale int) string {
	var unscaled big.Int
	switch v.Kind() {
	case parquet.Int32:
		unscaled.SetInt64(int64(v.Int32()))
	case parquet.Int64:
		unscaled.SetInt64(v.Int64())
	default: // big-endian two's complement bytes
		b := v.ByteArray()
		unscaled.SetBytes(b)
		if len(b) > 0 && b[0]&0x80 != 0 {
			unscaled.Sub(&unscaled, new(big.Int).Lsh(big.NewInt(1), uint(len(b)*8)))
		}
	}
	digits := unscaled.String()
	if scale <= 0 {
		return digits
	}
	sign := ""
	if strings.HasPrefix(digits, "-") {
		sign, digits = "-", digits[1:]
	}
	if len(digits) <= scale {
		digits = strings.Repeat("0", scale-len(digits)+1) + digits
	}
	return sign + digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
}

func (f *parquetFile) close() error {
	f.reader.Close()
	return f.osFile.Close()
}
