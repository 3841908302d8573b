package export

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/knit-cdp/knit/config"
)

// RunFolder is the dated folder of a run inside an export's path:
// 20220801T100000Z-run3.
func RunFolder(now time.Time, runID int64) string {
	return now.UTC().Format("20060102T150405Z") + "-run" + strconv.FormatInt(runID, 10)
}

// writeFile writes the selection to <path>/<run folder>/<name>.<ext>. The
// file is written under a temporary name in the same folder and renamed
// when complete, so a reader never sees half a file.
func (env *Env) writeFile(ctx context.Context, x *config.Export, sel *selection, res *Result) error {
	dir := x.Path
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(env.Proj.Dir, dir)
	}
	dir = filepath.Join(dir, RunFolder(env.Now, env.RunID))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	final := filepath.Join(dir, x.Name+"."+x.To)
	tmp := filepath.Join(dir, "."+x.Name+"."+x.To+".tmp")
	var err error
	switch x.To {
	case "parquet":
		err = env.writeParquet(ctx, sel, tmp, res)
	default:
		err = env.writeText(ctx, x.To, sel, tmp, res)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		os.Remove(tmp)
		return err
	}
	res.Location = final
	return nil
}

func (env *Env) writeText(ctx context.Context, format string, sel *selection, path string, res *Result) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	var cw *csv.Writer
	names := make([]string, len(sel.cols))
	for i, c := range sel.cols {
		names[i] = c.Name
	}
	if format == "csv" {
		cw = csv.NewWriter(w)
		if err := cw.Write(names); err != nil {
			return err
		}
	}
	rec := make([]string, len(sel.cols))
	obj := make(map[string]any, len(sel.cols))
	err = env.each(ctx, sel, func(row []any) error {
		res.count(sel, row)
		if cw != nil {
			for i, v := range row {
				rec[i] = text(v)
			}
			return cw.Write(rec)
		}
		for i, v := range row {
			obj[names[i]] = jsonValue(v)
		}
		b, err := json.Marshal(orderedRow(names, obj))
		if err != nil {
			return err
		}
		w.Write(b)
		return w.WriteByte('\n')
	})
	if err != nil {
		return err
	}
	if cw != nil {
		cw.Flush()
		if err := cw.Error(); err != nil {
			return err
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	return f.Close()
}

// text renders a value for CSV: empty for NULL, RFC 3339 for times.
func text(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case time.Time:
		return v.UTC().Format(time.RFC3339)
	case []byte:
		return string(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

func jsonValue(v any) any {
	switch v := v.(type) {
	case time.Time:
		return v.UTC().Format(time.RFC3339)
	case []byte:
		return string(v)
	}
	return v
}

// orderedRow marshals as a JSON object with keys in column order.
type orderedRowT struct {
	names []string
	vals  map[string]any
}

func orderedRow(names []string, vals map[string]any) orderedRowT { return orderedRowT{names, vals} }

func (o orderedRowT) MarshalJSON() ([]byte, error) {
	var b strings.Builder
	b.WriteByte('{')
	for i, n := range o.names {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(n)
		v, err := json.Marshal(o.vals[n])
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return []byte(b.String()), nil
}

// writeParquet lets DuckDB write the file: its COPY writes a million rows
// in a fraction of a second, far faster than scanning them into Go. Other
// engines' rows are written from Go (parquet.go).
func (env *Env) writeParquet(ctx context.Context, sel *selection, path string, res *Result) error {
	if env.Eng.Dialect().Name() != "duckdb" {
		return env.writeParquetRows(ctx, sel, path, res)
	}
	// The path is written by knit (project folder, export name, run
	// folder), not taken from a rule; quotes are doubled all the same.
	lit := "'" + strings.ReplaceAll(path, "'", "''") + "'"
	// COPY answers the number of rows it wrote; only a changes export
	// runs its query again, to count the rows that left.
	rows, err := env.Eng.Query(ctx, "COPY ("+sel.query+") TO "+lit+" (FORMAT PARQUET)", sel.args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if rows.Next() {
		if err := rows.Scan(&res.Rows); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if sel.change {
		return env.countSelection(ctx, sel, res)
	}
	return nil
}

// countSelection counts the rows (and changes) of a selection written
// outside Go.
func (env *Env) countSelection(ctx context.Context, sel *selection, res *Result) error {
	query := "SELECT count(*), 0 FROM (" + sel.query + ") s"
	if sel.change {
		query = "SELECT count(*), count(*) FILTER (WHERE change = 'left') FROM (" + sel.query + ") s"
	}
	rows, err := env.Eng.Query(ctx, query, sel.args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var n, left int64
	if rows.Next() {
		if err := rows.Scan(&n, &left); err != nil {
			return err
		}
	}
	res.Rows = n
	if sel.change {
		res.Left, res.Entered = left, n-left
	}
	return rows.Err()
}
