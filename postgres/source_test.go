package postgres_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/knit-cdp/knit"
	"github.com/knit-cdp/knit/config"
	"github.com/knit-cdp/knit/duckdb"
	"github.com/knit-cdp/knit/engine"
	"github.com/knit-cdp/knit/pipeline"
	"github.com/knit-cdp/knit/postgres"
)

// coffeeTables is the coffee example's data as PostgreSQL tables, with
// native types where a database would have them: a timestamp, a
// timestamptz, text elsewhere (the web events keep their US-style time
// text, read with the source's layout).
var coffeeTables = map[string]struct {
	file string
	ddl  string
}{
	"loyalty":   {"loyalty.csv", `"LoyaltyID" text, "FirstName" text, "LastName" text, "Email" text, "Phone" text, "City" text, "UpdatedAt" timestamp`},
	"ecommerce": {"ecommerce.csv", `"AccountID" text, "Email" text, "FirstName" text, "LastName" text, "Phone" text, "CreatedAt" timestamp`},
	"pos":       {"pos.csv", `"TransactionID" text, "StoreID" text, "LoyaltyID" bigint, "ReceiptEmail" text, "PurchasedAt" timestamptz, "Amount" text, "Items" text`},
	"web":       {"web_events.csv", `"EventID" bigint, "EventTimeStamp" text, "UserID" text, "LoyaltyID" text, "EventName" text`},
}

// loadCoffeeTables creates schema (dropped when the test ends) holding the
// coffee example's CSV files as tables, loaded with COPY … CSV.
func loadCoffeeTables(t *testing.T, url, schema, dataDir string) *pgx.Conn {
	t.Helper()
	schema = processName(schema)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
		conn.Close(context.Background())
	})
	for _, s := range []string{"SET TimeZone = 'UTC'", "DROP SCHEMA IF EXISTS " + schema + " CASCADE", "CREATE SCHEMA " + schema} {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	for name, tb := range coffeeTables {
		if _, err := conn.Exec(ctx, "CREATE TABLE "+schema+"."+name+" ("+tb.ddl+")"); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(filepath.Join(dataDir, tb.file))
		if err != nil {
			t.Fatal(err)
		}
		_, err = conn.PgConn().CopyFrom(ctx, f, "COPY "+schema+"."+name+" FROM STDIN WITH (FORMAT csv, HEADER true)")
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	return conn
}

// asTables points the project's sources at the tables loadCoffeeTables
// made in schema (through url when given): native date/time columns need
// no layout.
func asTables(schema, url string) func(*config.Project) {
	schema = processName(schema)
	return func(p *config.Project) {
		for name, src := range p.Config.Sources {
			src.File, src.Format = "", ""
			src.Table, src.URL = schema+"."+name, url
			for _, tf := range []*config.TimeField{src.Timestamp, src.UpdatedAt} {
				if tf != nil && name != "web" {
					tf.Format = "auto"
				}
			}
		}
	}
}

func runProject(t *testing.T, dir string, eng engine.Engine, opt pipeline.Options, edit func(*config.Project)) (*pipeline.Report, error) {
	t.Helper()
	proj, err := config.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(proj)
	}
	return pipeline.Run(context.Background(), proj, eng, opt)
}

// Result tables that do not depend on where rows were read from (raw rows
// and records carry file names and lines, the run log durations).
var resultTables = []string{"customer_ids", "profiles", "field_lineage", "identifiers", "record_identifiers", "links",
	"customer_measures", "segment_members", "activities"}

// The coffee example read from PostgreSQL tables gives the same customers,
// keyring, fields, measures and segments as read from its CSV files: on a
// PostgreSQL store (the store's own database) and on a DuckDB store (the
// tables' database named by url).
func TestTableSourcesGiveTheResultsOfFiles(t *testing.T) {
	url := testURL(t)
	now := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	dir := copyProject(t, filepath.Join("..", "examples", "coffee"))
	loadCoffeeTables(t, url, "coffee_src", filepath.Join(dir, "data"))
	opt := pipeline.Options{Now: func() time.Time { return now }}

	e := newEngines(t, "tables_pg")
	if _, err := runProject(t, dir, e.duck, opt, nil); err != nil {
		t.Fatal(err)
	}
	rep, err := runProject(t, dir, e.pg, opt, asTables("coffee_src", ""))
	if err != nil {
		t.Fatal(err)
	}
	if got := rep.Sources[0].File; got != "table "+processName("coffee_src")+".loyalty" {
		t.Errorf("report names the source %q", got)
	}
	e.compareTables(resultTables)

	// A DuckDB store reads the same tables through url.
	duck2, err := duckdb.Open(filepath.Join(t.TempDir(), "knit.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer duck2.Close()
	if _, err := runProject(t, dir, duck2, opt, asTables("coffee_src", url)); err == nil {
		t.Fatal("a DuckDB store without Options.Tables read a table source")
	} else if !strings.Contains(err.Error(), "nothing here reads PostgreSQL tables") {
		t.Errorf("error = %v", err)
	}
	duck3, err := duckdb.Open(filepath.Join(t.TempDir(), "knit.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer duck3.Close()
	opt.Tables = postgres.TableSources{}
	if _, err := runProject(t, dir, duck3, opt, asTables("coffee_src", url)); err != nil {
		t.Fatal(err)
	}
	e.compareWith(duck3, resultTables)
}

// compareTables compares the named tables of both engines.
func (e *engines) compareTables(tables []string) {
	e.t.Helper()
	e.compareWith(e.pg, tables)
}

// compareWith compares the named tables of DuckDB with those of other.
func (e *engines) compareWith(other engine.Engine, tables []string) {
	e.t.Helper()
	for _, table := range tables {
		want, got := e.dump(e.duck, table), e.dump(other, table)
		if len(want) != len(got) {
			e.t.Errorf("%s: files give %d rows, tables %d", table, len(want), len(got))
			continue
		}
		for i := range want {
			if !sameRow(want[i], got[i]) {
				e.t.Errorf("%s row %d:\n  files  %v\n  tables %v", table, i, want[i], got[i])
				break
			}
		}
	}
}

// A table source is typed, collapsed and budgeted as a file is: a value
// that does not parse rejects its row, named by its primary key; rows
// sharing a primary key collapse into one record; max_rejected fails the
// run; a missing table or column says what exists.
func TestTableSourceRejectsCollapsesAndBudget(t *testing.T) {
	url := testURL(t)
	ctx := context.Background()
	dir := copyProject(t, filepath.Join("..", "examples", "coffee"))
	conn := loadCoffeeTables(t, url, "coffee_bad", filepath.Join(dir, "data"))
	bad := processName("coffee_bad")
	for _, s := range []string{
		`INSERT INTO ` + bad + `.pos VALUES ('T-9001', 'S-PDX-01', 707, NULL, '2022-07-25 08:00:00+00', 'four fifty', 'Latte')`,
		`INSERT INTO ` + bad + `.loyalty SELECT "LoyaltyID", "FirstName", "LastName", "Email", "Phone", 'Salem', "UpdatedAt" + interval '1 day' FROM ` + bad + `.loyalty WHERE "LoyaltyID" = '707'`,
	} {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	pg := openSchema(t, "tables_bad")
	rep, err := runProject(t, dir, pg, pipeline.Options{}, asTables("coffee_bad", ""))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range rep.Sources {
		switch s.Name {
		case "pos":
			if s.RowsRead != 8 || s.RowsRejected != 1 {
				t.Errorf("pos: read %d, rejected %d; want 8 and 1", s.RowsRead, s.RowsRejected)
			}
		case "loyalty":
			if s.Duplicates != 1 || s.Records != 5 {
				t.Errorf("loyalty: %d duplicates, %d records; want 1 and 5", s.Duplicates, s.Records)
			}
		}
	}
	var file, column, reason string
	var line int64
	if err := pg.SQL().QueryRow(`SELECT file, line, column_name, reason FROM rejected`).Scan(&file, &line, &column, &reason); err != nil {
		t.Fatal(err)
	}
	if file != bad+".pos" || line != 8 || column != "Amount" || !strings.Contains(reason, `"four fifty"`) {
		t.Errorf("rejected row: %s %d %s %s", file, line, column, reason)
	}
	// The newer duplicate of 707 won: Salem.
	var city string
	if err := pg.SQL().QueryRow(`SELECT p.value FROM field_lineage p JOIN records r ON r.customer_id = p.customer_id
		WHERE r.record_key = 'loyalty/707' AND p.field = 'address.city'`).Scan(&city); err != nil {
		t.Fatal(err)
	}
	if city != "Salem" {
		t.Errorf("city of loyalty/707 = %q, want the newer row's Salem", city)
	}

	_, err = runProject(t, dir, pg, pipeline.Options{}, func(p *config.Project) {
		asTables("coffee_bad", "")(p)
		p.Config.Sources["pos"].MaxRejected = "0"
	})
	if knit.ErrorCode(err) != knit.EBUDGET || !strings.Contains(err.Error(), bad+".pos row TransactionID=T-9001: column Amount") {
		t.Errorf("over budget: %v", err)
	}

	_, err = runProject(t, dir, pg, pipeline.Options{}, func(p *config.Project) {
		asTables("coffee_bad", "")(p)
		p.Config.Sources["pos"].Table = bad + ".po"
	})
	if knit.ErrorCode(err) != knit.ENOTFOUND || !strings.Contains(err.Error(), "no table or view "+bad+".po") {
		t.Errorf("missing table: %v", err)
	}
	_, err = runProject(t, dir, pg, pipeline.Options{}, func(p *config.Project) {
		asTables("coffee_bad", "")(p)
		p.Config.Sources["pos"].PrimaryKey = "TransactionId"
	})
	if knit.ErrorCode(err) != knit.EINVALID || !strings.Contains(err.Error(), `did you mean "TransactionID"?`) {
		t.Errorf("missing column: %v", err)
	}
	_, err = runProject(t, dir, pg, pipeline.Options{}, func(p *config.Project) {
		asTables("coffee_bad", "")(p)
		p.Config.Sources["loyalty"].UpdatedAt.Format = "2006-01-02 15:04:05"
	})
	if knit.ErrorCode(err) != knit.EINVALID || !strings.Contains(err.Error(), "is a PostgreSQL date/time column") {
		t.Errorf("layout on a timestamp column: %v", err)
	}
}

// A json column holding one object per row reads as NDJSON lines do:
// dotted paths reach into nested objects, and a row that is not an object
// is rejected by its primary key.
func TestTableSourceJSONColumn(t *testing.T) {
	url := testURL(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	pg := openSchema(t, "tables_json")
	for _, s := range []string{
		`CREATE TABLE ` + pg.Schema() + `.messages (id bigint, message jsonb)`,
		`INSERT INTO ` + pg.Schema() + `.messages VALUES
			(1, '{"messageId": "m1", "anonymousId": "a1", "timestamp": "2024-01-01T10:00:00Z", "traits": {"email": "Jo@Example.com"}}'),
			(2, '{"messageId": "m2", "anonymousId": "a1", "userId": "u1", "timestamp": "2024-01-02T10:00:00Z"}'),
			(3, '[1, 2]'),
			(4, '{"messageId": "m4", "anonymousId": "a2", "timestamp": "yesterday"}')`,
	} {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	proj := struct{ Dir string }{t.TempDir()}
	yaml := `store: postgres://knit@localhost/db
sources:
  collected:
    table: messages
    json: message
    kind: events
    primary_key: messageId
    timestamp: {column: timestamp, format: rfc3339}
    identifiers: {anonymousId: anonymous_id, userId: user_id, traits.email: email}
identifiers:
  anonymous_id: {known: false}
  user_id: {}
  email: {normalize: email}
unify:
  include_all_records: [collected]
`
	if err := os.WriteFile(filepath.Join(proj.Dir, config.FileName), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	loaded, err := config.Load(proj.Dir)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := pipeline.Run(ctx, loaded, pg, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s := rep.Sources[0]; s.RowsRead != 4 || s.RowsRejected != 2 || s.RowsLoaded != 2 {
		t.Errorf("read %d, rejected %d, loaded %d; want 4, 2, 2", s.RowsRead, s.RowsRejected, s.RowsLoaded)
	}
	var n int
	if err := pg.SQL().QueryRow(`SELECT count(DISTINCT customer_id) FROM identifiers WHERE (type, value) IN (('anonymous_id', 'a1'), ('user_id', 'u1'), ('email', 'jo@example.com'))`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("a1, u1 and the nested email are in %d customers, want 1", n)
	}
	rows, err := pg.SQL().Query(`SELECT reason FROM rejected ORDER BY line`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var reasons []string
	for rows.Next() {
		var r string
		rows.Scan(&r)
		reasons = append(reasons, r)
	}
	if len(reasons) != 2 || !strings.Contains(reasons[0], `"yesterday"`) || !strings.Contains(reasons[1], "expected a JSON object, found an array") {
		t.Errorf("rejected: %q", reasons)
	}
}
