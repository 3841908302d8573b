package duckdb

import (
	"context"
	"database/sql/driver"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/knit-cdp/knit/engine"
)

// loadWith appends rows into table through one of the two loaders on a
// connection of db.
func loadWith(t *testing.T, db *DB, table string, rows [][]any, loader func(context.Context, driver.Conn) (int64, error)) {
	t.Helper()
	ctx := context.Background()
	if err := db.CreateTable(ctx, table, loadCols); err != nil {
		t.Fatal(err)
	}
	conn, err := db.SQL().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var n int64
	err = conn.Raw(func(raw any) error {
		var err error
		n, err = loader(ctx, raw.(driver.Conn))
		return err
	})
	if err != nil || n != int64(len(rows)) {
		t.Fatalf("%s: loaded %d rows, err %v; want %d", table, n, err, len(rows))
	}
}

// The chunk loader stores exactly what duckdb-go's appender stores, row
// for row: strings at and around the 12 bytes DuckDB inlines, long and
// distinct strings over many chunks (so a reused string buffer would show
// as wrong values), multi-byte and NUL characters, invalid UTF-8 (NULL in
// both), empty strings, NULLs in every type, times before 1970, strings
// passed as *string and numbers and times as pointers (nil for NULL).
func TestChunkLoadMatchesTheDriversAppender(t *testing.T) {
	db := openTemp(t)
	at := time.Date(2022, 7, 23, 10, 0, 0, 123456000, time.UTC)
	var rows [][]any
	for i := range 150_000 {
		k := strconv.Itoa(i)
		switch i % 6 {
		case 0:
			rows = append(rows, []any{k + strings.Repeat("x", i%30), int64(i), 1.5, true, at, at, "José Ñandú " + k})
		case 1:
			rows = append(rows, []any{"", int64(-i), nil, false, nil, nil, (*string)(nil)})
		case 2:
			rows = append(rows, []any{nil, nil, float64(i), nil, at.Add(time.Duration(i) * time.Second), at.AddDate(0, 0, -i%400), "a\x00b'\";--"})
		case 3:
			rows = append(rows, []any{"bad\xff" + k + strings.Repeat("y", i%10), int(i), float32(2), false, at.AddDate(-60, 0, i), at.AddDate(-60, 0, -i), strings.Repeat("é", 6)})
		case 4:
			n, f, ts := int64(i), float64(i)/3, at.AddDate(0, 0, i%900)
			if i%12 == 4 {
				rows = append(rows, []any{k, (*int64)(nil), (*float64)(nil), nil, (*time.Time)(nil), (*time.Time)(nil), &k})
			} else {
				rows = append(rows, []any{k, &n, &f, true, &ts, &ts, &k})
			}
		default:
			long := strings.Repeat(k, 200)
			rows = append(rows, []any{strings.Repeat("z", 11+i%4), uint32(i), nil, true, at, at, &long})
		}
	}
	loadWith(t, db, "by_chunks", rows, func(ctx context.Context, c driver.Conn) (int64, error) {
		n, ok, err := chunkLoad(ctx, c, "by_chunks", loadCols, rowsOf(rows))
		if !ok {
			t.Fatal("the chunk loader does not serve duckdb-go's connection (has the driver's Conn layout changed?)")
		}
		return n, err
	})
	loadWith(t, db, "by_rows", rows, func(ctx context.Context, c driver.Conn) (int64, error) {
		return rowLoad(ctx, c, "by_rows", loadCols, rowsOf(rows))
	})
	for _, q := range []string{
		`SELECT count(*) FROM (SELECT rowid, * FROM by_chunks EXCEPT ALL SELECT rowid, * FROM by_rows)`,
		`SELECT count(*) FROM (SELECT rowid, * FROM by_rows EXCEPT ALL SELECT rowid, * FROM by_chunks)`,
	} {
		var n int
		if err := db.SQL().QueryRow(q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Fatalf("%d rows differ: %s", n, q)
		}
	}
	var invalid, long int
	if err := db.SQL().QueryRow(`SELECT count(*) FILTER (WHERE key IS NULL AND x = 2 AND ok IS NOT NULL), count(*) FILTER (WHERE strlen("person.name") >= 200) FROM by_chunks`).Scan(&invalid, &long); err != nil {
		t.Fatal(err)
	}
	if invalid != 25_000 || long != 25_000 {
		t.Fatalf("%d invalid UTF-8 keys stored as NULL, %d long names; want 25000 each", invalid, long)
	}
}

// A column type outside knit's vocabulary falls back to the driver's
// appender instead of failing.
func TestChunkLoadFallsBackForOtherTypes(t *testing.T) {
	db := openTemp(t)
	ctx := context.Background()
	if err := db.Exec(ctx, `CREATE TABLE small (n INTEGER, s VARCHAR)`); err != nil {
		t.Fatal(err)
	}
	cols := []engine.Column{{Name: "n", Type: engine.BigInt}, {Name: "s", Type: engine.Text}}
	n, err := db.Load(ctx, "small", cols, rowsOf([][]any{{int32(7), "seven"}, {nil, "none"}}))
	if err != nil || n != 2 {
		t.Fatalf("loaded %d, %v", n, err)
	}
	var sum int64
	if err := db.SQL().QueryRow(`SELECT sum(n) FROM small`).Scan(&sum); err != nil || sum != 7 {
		t.Fatalf("sum %d, %v", sum, err)
	}
}

// validText agrees with the standard library on ASCII, multi-byte text,
// broken sequences and high bytes at every position of an 8-byte word.
func TestValidTextAgreesWithUTF8Valid(t *testing.T) {
	cases := []string{"", "a", "abcdefgh", "abcdefghi", "José", "Ñandú Ñandú Ñandú", "\xff", "abcdefg\xff", "abcdefgh\xc3", "\xc3\xa9", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\x00\x7f"}
	for i := range 16 {
		b := []byte(strings.Repeat("x", 16))
		b[i] = 0x80
		cases = append(cases, string(b))
	}
	for _, c := range cases {
		if got, want := validText([]byte(c)), utf8.ValidString(c); got != want {
			t.Errorf("validText(%q) = %v, want %v", c, got, want)
		}
	}
}
