package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/knit-cdp/knit"
)

// mustParse parses a configuration that the test expects to be valid.
func mustParse(t *testing.T, yaml string) *Config {
	t.Helper()
	cfg, err := Parse(FileName, []byte(yaml))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return cfg
}

// parseErrorLines parses a configuration the test expects to be invalid and
// returns the message lines.
func parseErrorLines(t *testing.T, yaml string) []string {
	t.Helper()
	_, err := Parse(FileName, []byte(yaml))
	if err == nil {
		t.Fatalf("Parse succeeded; want an error for:\n%s", yaml)
	}
	var kerr *knit.Error
	if !errors.As(err, &kerr) || kerr.Code != knit.EINVALID {
		t.Fatalf("error %v is not a *knit.Error with code %s", err, knit.EINVALID)
	}
	return strings.Split(kerr.Message, "\n")
}

func TestLoadCoffeeExampleWithDefaults(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile("testdata/coffee.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, FileName), data, 0o644); err != nil {
		t.Fatal(err)
	}
	project, err := Load(dir) // a folder: knit.yaml is read from it
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if project.Dir != dir || project.Path != filepath.Join(dir, FileName) {
		t.Errorf("Dir, Path = %q, %q; want %q and its knit.yaml", project.Dir, project.Path, dir)
	}
	cfg := project.Config

	check := func(what string, got, want any) {
		t.Helper()
		if !equal(got, want) {
			t.Errorf("%s = %#v; want %#v", what, got, want)
		}
	}
	check("Version", cfg.Version, 1)
	check("Store", cfg.Store, "knit.duckdb")
	check("SourceOrder", cfg.SourceOrder, []string{"loyalty", "web"})

	loyalty, web := cfg.Sources["loyalty"], cfg.Sources["web"]
	check("loyalty.Name", loyalty.Name, "loyalty")
	check("loyalty.Format", loyalty.Format, "csv")
	check("loyalty.Kind", loyalty.Kind, "profiles")
	check("loyalty.CSV.Delimiter", loyalty.CSV.Delimiter, ",")
	check("loyalty.CSV.Header", *loyalty.CSV.Header, true)
	check("loyalty.IdentCols", loyalty.IdentCols, []string{"LoyaltyID", "Email", "Phone"})
	check("loyalty.AttrCols", loyalty.AttrCols, []string{"FirstName", "LastName", "City"})
	check("loyalty.UpdatedAt.Format", loyalty.UpdatedAt.Format, "2006-01-02 15:04:05")
	check("loyalty.UpdatedAt.Timezone", loyalty.UpdatedAt.Timezone, "UTC")
	check("loyalty.VisitorKey", loyalty.VisitorKey, "")
	check("web.Kind", web.Kind, "events")
	check("web.VisitorKey (first identifier column)", web.VisitorKey, "UserID")
	check("web.Anonymous", web.Anonymous, true)
	check("web.Timestamp.Format", web.Timestamp.Format, "01-02-2006 15:04:05")

	check("IdentOrder", cfg.IdentOrder, []string{"loyalty_id", "anonymous_id", "email", "phone"})
	for i, name := range cfg.IdentOrder {
		check(name+".Priority", cfg.Identifiers[name].Priority, i+1)
		check(name+".Name", cfg.Identifiers[name].Name, name)
	}
	check("anonymous_id.Known", *cfg.Identifiers["anonymous_id"].Known, false)
	check("anonymous_id.Strong (= known)", *cfg.Identifiers["anonymous_id"].Strong, false)
	check("anonymous_id.Limit", cfg.Identifiers["anonymous_id"].Limit, 20)
	check("loyalty_id.Known", *cfg.Identifiers["loyalty_id"].Known, true)
	check("loyalty_id.Normalize", cfg.Identifiers["loyalty_id"].Normalize, "exact")
	check("phone.Normalize", cfg.Identifiers["phone"].Normalize, "phone")
	check("phone.DefaultRegion", cfg.Identifiers["phone"].DefaultRegion, "US")

	check("GenericThreshold", cfg.Guards.GenericThreshold, 3)
	check("Unify.Order", cfg.Unify.Order, []string{"loyalty", "web"})
	check("dedupe winner", cfg.Unify.Dedupe["loyalty"].Winner, "most_recent")
	check("dedupe rule name", cfg.Unify.Dedupe["loyalty"].Rules[0].Name, "same email")
	cond := cfg.Unify.Rules[0].Conditions[0]
	check("condition precision", cond.Precision, "exact")
	check("condition metric", cond.Metric, "edit")
	check("condition threshold", cond.Threshold(), 1.0)

	check("FieldOrder", cfg.FieldOrder, []string{"person.first_name", "person.last_name", "address.city"})
	check("first_name policy", cfg.Fields["person.first_name"].Policy, "most_recent")
	check("last_name policy", cfg.Fields["person.last_name"].Policy, "source_priority")
	check("city normalize", cfg.Fields["address.city"].Normalize, "text")
	check("city order", cfg.Fields["address.city"].Order, []string{"loyalty", "web"})
	check("never_match", cfg.Overrides.NeverMatch, "overrides/never_match.csv")
}

func equal(a, b any) bool {
	as, aok := a.([]string)
	bs, bok := b.([]string)
	if aok && bok {
		return slices.Equal(as, bs)
	}
	return a == b
}

func TestDefaultsForUndeclaredNames(t *testing.T) {
	cfg := mustParse(t, `
sources:
  crm:
    file: data/crm.tsv
    primary_key: id
    identifiers: {Mail: work_email, Mobile: mobile_phone, Cust: customer_id}
    attributes: {Name: person.name}
  app:
    file: data/app.jsonl
    kind: events
    primary_key: event_id
    identifiers: {Sid: session_anonymous_id, Anon: anonymous, Cust: customer_id}
    attributes: {Plan: plan}
  pos:
    file: "data/pos/*.parquet"
    primary_key: ticket
identifiers:
  customer_id: {priority: 7}
unify:
  order: [pos]
  rules:
    - conditions: [{field: customer_id}]
    - conditions: [{field: person.name, precision: "0.9", metric: jaro_winkler}]
fields:
  plan: {order: [app]}
`)
	crm := cfg.Sources["crm"]
	if crm.Format != "csv" || crm.CSV.Delimiter != "\t" {
		t.Errorf(".tsv: format %q delimiter %q; want csv and a tab", crm.Format, crm.CSV.Delimiter)
	}
	if got := cfg.Sources["app"].Format; got != "ndjson" {
		t.Errorf(".jsonl format = %q; want ndjson", got)
	}
	if got := cfg.Sources["pos"].Format; got != "parquet" {
		t.Errorf(".parquet glob format = %q; want parquet", got)
	}
	if got := cfg.Sources["app"].VisitorKey; got != "Sid" {
		t.Errorf("VisitorKey = %q; want the first identifier column Sid", got)
	}

	// Declared first, then undeclared ones in order of first use.
	wantOrder := []string{"customer_id", "work_email", "mobile_phone", "session_anonymous_id", "anonymous"}
	if !slices.Equal(cfg.IdentOrder, wantOrder) {
		t.Fatalf("IdentOrder = %v; want %v", cfg.IdentOrder, wantOrder)
	}
	tests := []struct {
		name          string
		normalize     string
		known, strong bool
		priority      int
	}{
		{"customer_id", "exact", true, true, 7},
		{"work_email", "email", true, true, 2},
		{"mobile_phone", "phone", true, true, 3},
		{"session_anonymous_id", "exact", false, false, 4},
		{"anonymous", "exact", false, false, 5},
	}
	for _, tt := range tests {
		id := cfg.Identifiers[tt.name]
		if id.Normalize != tt.normalize || *id.Known != tt.known || *id.Strong != tt.strong || id.Priority != tt.priority {
			t.Errorf("%s: normalize %q known %v strong %v priority %d; want %q %v %v %d",
				tt.name, id.Normalize, *id.Known, *id.Strong, id.Priority, tt.normalize, tt.known, tt.strong, tt.priority)
		}
	}

	if want := []string{"pos", "crm", "app"}; !slices.Equal(cfg.Unify.Order, want) {
		t.Errorf("Unify.Order = %v; want %v (given first, the rest in file order)", cfg.Unify.Order, want)
	}
	if want := []string{"app", "pos", "crm"}; !slices.Equal(cfg.Fields["plan"].Order, want) {
		t.Errorf("plan order = %v; want %v (given first, the rest in unify order)", cfg.Fields["plan"].Order, want)
	}
	if want := []string{"plan", "person.name"}; !slices.Equal(cfg.FieldOrder, want) {
		t.Errorf("FieldOrder = %v; want %v", cfg.FieldOrder, want)
	}
	rules := cfg.Unify.Rules
	if rules[0].Name != "rule 1" || rules[1].Name != "rule 2" {
		t.Errorf("rule names = %q, %q; want rule 1, rule 2", rules[0].Name, rules[1].Name)
	}
	if got := rules[1].Conditions[0].Threshold(); got != 0.9 {
		t.Errorf("threshold of precision 0.9 = %v", got)
	}
	if cfg.Guards.GenericThreshold != 10 || cfg.Identifiers["work_email"].DefaultRegion != "US" {
		t.Errorf("GenericThreshold %d, DefaultRegion %q; want 10 and US", cfg.Guards.GenericThreshold, cfg.Identifiers["work_email"].DefaultRegion)
	}
}

func TestShorthands(t *testing.T) {
	cfg := mustParse(t, `
sources:
  crm:
    file: crm.csv
    primary_key: id
    updated_at: Modified
    columns: {Age: int, Born: {type: date, format: "%d/%m/%Y"}}
`)
	s := cfg.Sources["crm"]
	if s.UpdatedAt.Column != "Modified" || s.UpdatedAt.Format != "auto" {
		t.Errorf("updated_at shorthand = %+v; want column Modified, format auto", *s.UpdatedAt)
	}
	if s.Columns["Age"].Type != "int" {
		t.Errorf("column shorthand Age: int gave %+v", *s.Columns["Age"])
	}
	if got := s.Columns["Born"].Format; got != "02/01/2006" {
		t.Errorf("strftime column format became %q; want 02/01/2006", got)
	}
}

// base is a valid source used as the start of error cases.
const base = `sources:
  web:
    file: data/web.csv
    primary_key: id
`

func TestValidationMessages(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown key with suggestion", "sources:\n  web:\n    file: a.csv\n    primary_key: id\n    primry_key: id\n",
			`knit.yaml:5:5: sources.web.primry_key: unknown key; did you mean "primary_key"?`},
		{"unknown key without suggestion", base + "colour: blue\n",
			`knit.yaml:5:1: colour: unknown key; allowed keys: activities, exports, fields, guards, identifiers, measures, overrides, segments, serve, sources, store, unify, version`},
		{"ingest priority", base + "serve: {ingest_priority: lowest}\n",
			`knit.yaml:5:26: serve.ingest_priority: ingest_priority "lowest" must be low or normal`},
		{"duplicate key", "sources:\n  web:\n    file: a.csv\n    file: b.csv\n    primary_key: id\n",
			`knit.yaml:4:5: sources.web.file: duplicate key; already set at line 3 (each key may appear once)`},
		{"wrong scalar type", base + "identifiers:\n  email: {limit: abc}\n",
			`knit.yaml:6:18: identifiers.email.limit: expected a whole number, got "abc"`},
		{"wrong bool", base + "    anonymous: sometimes\n",
			`knit.yaml:5:16: sources.web.anonymous: expected true or false, got "sometimes"`},
		{"mapping expected", "sources: [web]\n",
			`knit.yaml:1:10: sources: expected a mapping (key: value pairs), got a list`},
		{"version", "version: 2\n" + base,
			`knit.yaml:1:10: version: unsupported version 2; this knit reads version 1 (or leave version out)`},
		{"no sources", "store: x.duckdb\n",
			`knit.yaml:1:1: sources: at least one source is required, e.g. sources: {web: {file: data/web.csv, primary_key: id}}`},
		{"source name", "sources:\n  Web-Events: {file: a.csv, primary_key: id}\n",
			`knit.yaml:2:3: sources.Web-Events: "Web-Events" is not a valid source name; names must start with a lower-case letter and use only a-z, 0-9 and _ (at most 63 characters)`},
		{"file required", "sources:\n  web: {primary_key: id}\n",
			`knit.yaml:2:3: sources.web.file: required: the data file or glob, relative to the project folder (e.g. data/web.csv), or a PostgreSQL table (table: name)`},
		{"table needs a postgres store or url", "sources:\n  crm: {table: public.customers, primary_key: id}\n",
			`knit.yaml:2:16: sources.crm.table: a table source reads from the PostgreSQL store, and this project's store is a DuckDB file (knit.duckdb); set store: postgres://… or give the database of the table as url: postgres://user@host:5432/database`},
		{"table name", "store: postgres://knit@h/db\nsources:\n  crm: {table: \"customers; drop table x\", primary_key: id}\n",
			`knit.yaml:3:16: sources.crm.table: "customers; drop table x" is not a table name; write name or schema.name (letters, digits, _ and $, starting with a letter or _, at most 63 characters each)`},
		{"table url password", "sources:\n  crm: {table: customers, url: \"postgres://u:secret@h/db\", primary_key: id}\n",
			`knit.yaml:2:32: sources.crm.url: the URL holds a password; remove it and set PGPASSWORD in the environment or use ~/.pgpass`},
		{"table and file", "store: postgres://knit@h/db\nsources:\n  crm: {table: customers, file: a.csv, primary_key: id}\n",
			`knit.yaml:3:16: sources.crm.table: a source reads a file or a table, not both: remove file or table`},
		{"url on a file", "sources:\n  crm: {file: a.csv, url: \"postgres://u@h/db\", primary_key: id}\n",
			`knit.yaml:2:3: sources.crm.table: url and json apply to table sources; this source reads the file a.csv`},
		{"primary key required", "sources:\n  web:\n    file: a.csv\n",
			`knit.yaml:2:3: sources.web.primary_key: required: the column that identifies a row of this source`},
		{"unknown extension", "sources:\n  web: {file: a.xlsx, primary_key: id}\n",
			`knit.yaml:2:15: sources.web.format: cannot tell the format of "a.xlsx" from its extension; add format: one of csv, ndjson, json, parquet`},
		{"format", base + "    format: csvv\n",
			`knit.yaml:5:13: sources.web.format: "csvv" is not a valid format; did you mean "csv"? (use one of csv, ndjson, json, parquet)`},
		{"kind", base + "    kind: event\n",
			`knit.yaml:5:11: sources.web.kind: "event" is not a valid kind; did you mean "events"? (use one of profiles, events)`},
		{"csv options on parquet", "sources:\n  web:\n    file: a.parquet\n    primary_key: id\n    csv: {delimiter: ;}\n",
			`knit.yaml:5:10: sources.web.csv: csv options apply only to format: csv (this source is format: parquet)`},
		{"delimiter", base + "    csv: {delimiter: ';;'}\n",
			`knit.yaml:5:22: sources.web.csv.delimiter: ";;" must be exactly one character (write a tab as "\t")`},
		{"visitor key on profiles", base + "    visitor_key: id\n",
			`knit.yaml:5:18: sources.web.visitor_key: applies only to kind: events (this source is kind: profiles)`},
		{"visitor key not an identifier", base + "    kind: events\n    identifiers: {Uid: user_id}\n    visitor_key: Vid\n",
			`knit.yaml:7:18: sources.web.visitor_key: "Vid" is not an identifier column of this source; use one of: Uid`},
		{"events without identifiers", base + "    kind: events\n",
			`knit.yaml:2:3: sources.web.identifiers: an events source needs at least one identifier column: its distinct values become the visitors`},
		{"time column required", base + "    timestamp: {format: unix}\n",
			`knit.yaml:5:5: sources.web.timestamp.column: required: the column holding the time`},
		{"time format without year", base + "    timestamp: {column: t, format: DD/MM/YYYY}\n",
			`knit.yaml:5:36: sources.web.timestamp.format: "DD/MM/YYYY" has no year; use one of rfc3339, unix, unix_ms, date, auto, a Go layout containing 2006 such as "2006-01-02 15:04:05", or a strftime format such as "%Y-%m-%d %H:%M:%S"`},
		{"timezone", base + "    updated_at: {column: t, timezone: Mars/Olympus}\n",
			`knit.yaml:5:39: sources.web.updated_at.timezone: unknown time zone "Mars/Olympus"; use an IANA name such as UTC, Europe/Paris or America/New_York`},
		{"column type", base + "    columns: {Age: integer}\n",
			`knit.yaml:5:20: sources.web.columns.Age.type: "integer" is not a valid column type; use one of string, int, float, bool, date, timestamp`},
		{"format on int column", base + "    columns: {Age: {type: int, format: unix}}\n",
			`knit.yaml:5:40: sources.web.columns.Age.format: format applies only to date and timestamp columns (this column is int)`},
		{"max_rejected", base + "    max_rejected: lots\n",
			`knit.yaml:5:19: sources.web.max_rejected: "lots" is not a row count or percentage; use a whole number ≥ 0 such as 100, or a percentage such as "1%"`},
		{"identifier type name", base + "    identifiers: {Mail: E-mail}\n",
			`knit.yaml:5:19: sources.web.identifiers.Mail: "E-mail" is not a valid identifier type name; names must start with a lower-case letter and use only a-z, 0-9 and _ (at most 63 characters)`},
		{"field name", base + "    attributes: {Name: person.First}\n",
			`knit.yaml:5:18: sources.web.attributes.Name: "person.First" is not a valid field name; each dot-separated part follows the rule: names must start with a lower-case letter and use only a-z, 0-9 and _ (at most 63 characters)`},
		{"identifier normalize", base + "identifiers:\n  email: {normalize: mail}\n",
			`knit.yaml:6:22: identifiers.email.normalize: "mail" is not a valid identifier normalize; did you mean "email"? (use one of email, phone, text, digits, exact)`},
		{"negative limit", base + "identifiers:\n  email: {limit: -1}\n",
			`knit.yaml:6:18: identifiers.email.limit: -1 is negative; use 0 for no limit or a positive count`},
		{"region", base + "identifiers:\n  phone: {default_region: USA}\n",
			`knit.yaml:6:27: identifiers.phone.default_region: "USA" is not a region; use a two-letter ISO 3166 code such as US, GB or FR`},
		{"generic threshold", base + "guards: {generic_threshold: 0}\n",
			`knit.yaml:5:29: guards.generic_threshold: 0 is too small; use a count of at least 1 (default 10)`},
		{"blocked pattern", base + "guards: {blocked_patterns: ['(']}\n",
			"knit.yaml:5:29: guards.blocked_patterns[0]: not a valid regular expression: error parsing regexp: missing closing ): `(`"},
		{"unify order unknown source", base + "unify: {order: [webb]}\n",
			`knit.yaml:5:17: unify.order[0]: "webb" is not a source; did you mean "web"?`},
		{"unify order twice", base + "unify: {order: [web, web]}\n",
			`knit.yaml:5:22: unify.order[1]: source "web" is listed twice; list each source at most once`},
		{"include all records", base + "unify: {include_all_records: [crm]}\n",
			`knit.yaml:5:31: unify.include_all_records[0]: "crm" is not a source; sources: web`},
		{"dedupe source", base + "unify:\n  dedupe: {crm: {}}\n",
			`knit.yaml:6:12: unify.dedupe.crm: "crm" is not a source; sources: web`},
		{"dedupe winner", base + "unify:\n  dedupe: {web: {winner: newest}}\n",
			`knit.yaml:6:26: unify.dedupe.web.winner: "newest" is not a valid dedupe winner; use one of most_filled, most_recent, least_recent`},
		{"dedupe rule with sources", base + "    identifiers: {id: id}\nunify:\n  dedupe: {web: {rules: [{sources: [web], conditions: [{field: id}]}]}}\n",
			`knit.yaml:7:36: unify.dedupe.web.rules[0].sources: a dedupe rule applies within its own source; remove sources`},
		{"rule without conditions", base + "unify:\n  rules:\n    - name: empty\n",
			`knit.yaml:7:7: unify.rules[0].conditions: rule "empty" needs at least one condition, e.g. conditions: [{field: email}]`},
		{"rule sources", base + "unify:\n  rules: [{sources: [we], conditions: [{field: email}]}]\n    \n",
			`knit.yaml:6:22: unify.rules[0].sources[0]: "we" is not a source; did you mean "web"?`},
		{"condition field", base + "    identifiers: {Mail: email}\nunify:\n  rules: [{conditions: [{field: emial}]}]\n",
			`knit.yaml:7:33: unify.rules[0].conditions[0].field: "emial" is neither an attribute field nor an identifier type; did you mean "email"?`},
		{"precision", base + "    identifiers: {Mail: email}\nunify:\n  rules: [{conditions: [{field: email, precision: 1.5}]}]\n",
			`knit.yaml:7:51: unify.rules[0].conditions[0].precision: "1.5" is not a precision; use exact, low (0.30), medium (0.60), high (0.80) or a similarity in (0, 1] such as 0.9`},
		{"metric", base + "    identifiers: {Mail: email}\nunify:\n  rules: [{conditions: [{field: email, metric: jaro}]}]\n",
			`knit.yaml:7:48: unify.rules[0].conditions[0].metric: "jaro" is not a valid similarity metric; use one of edit, jaro_winkler, token`},
		{"fuzzy on a typed column", base + "    columns: {Age: int}\n    attributes: {Age: person.age}\nunify:\n  rules: [{conditions: [{field: person.age, precision: high}]}]\n",
			`knit.yaml:8:56: unify.rules[0].conditions[0].precision: fuzzy matching compares text; "person.age" is fed by sources.web.columns.Age, a int column; use precision: exact`},
		{"field policy", base + "fields:\n  person.name: {policy: latest}\n",
			`knit.yaml:6:25: fields.person.name.policy: "latest" is not a valid field policy; use one of source_priority, most_recent, least_recent, most_filled`},
		{"field normalize", base + "fields:\n  person.name: {normalize: names}\n",
			`knit.yaml:6:28: fields.person.name.normalize: "names" is not a valid field normalize; did you mean "name"? (use one of text, name, first_name, email, phone, digits, exact, address, organization)`},
		{"field order", base + "fields:\n  person.name: {order: [crm]}\n",
			`knit.yaml:6:25: fields.person.name.order[0]: "crm" is not a source; sources: web`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines := parseErrorLines(t, tt.yaml)
			if !slices.Contains(lines, tt.want) {
				t.Errorf("want the line\n  %s\ngot\n  %s", tt.want, strings.Join(lines, "\n  "))
			}
		})
	}
}

func TestEveryProblemReportedInFileOrder(t *testing.T) {
	lines := parseErrorLines(t, `sources:
  web:
    file: data/web.csv
    primry_key: id
    kind: event
  crm:
    file: crm.csv
    primary_key: id
    max_rejected: "-3"
unify:
  order: [wbe]
`)
	want := []string{
		`knit.yaml:2:3: sources.web.primary_key: required: the column that identifies a row of this source`,
		`knit.yaml:4:5: sources.web.primry_key: unknown key; did you mean "primary_key"?`,
		`knit.yaml:5:11: sources.web.kind: "event" is not a valid kind; did you mean "events"? (use one of profiles, events)`,
		`knit.yaml:9:19: sources.crm.max_rejected: "-3" is not a row count or percentage; use a whole number ≥ 0 such as 100, or a percentage such as "1%"`,
		`knit.yaml:11:11: unify.order[0]: "wbe" is not a source; did you mean "web"?`,
	}
	if !slices.Equal(lines, want) {
		t.Errorf("got\n  %s\nwant\n  %s", strings.Join(lines, "\n  "), strings.Join(want, "\n  "))
	}
}

func TestDecodeProblemSuppressesFollowOnMessages(t *testing.T) {
	// file: is a list, so "file: required" would only repeat the problem.
	lines := parseErrorLines(t, "sources:\n  web: {file: [a.csv], primary_key: id}\n")
	want := []string{`knit.yaml:2:15: sources.web.file: expected a single value (text), got a list`}
	if !slices.Equal(lines, want) {
		t.Errorf("got %q; want %q", lines, want)
	}
}

func TestYAMLSyntaxErrorHasLine(t *testing.T) {
	lines := parseErrorLines(t, "sources:\n  web: {file: a.csv\n  crm: x\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "knit.yaml:") || !strings.Contains(lines[0], "(YAML syntax)") {
		t.Errorf("syntax error message %q lacks the file:line: form", lines)
	}
}

func TestLoadMissingProject(t *testing.T) {
	_, err := Load(t.TempDir())
	if code := knit.ErrorCode(err); code != knit.ENOTFOUND {
		t.Errorf("Load of an empty folder: code %q (%v); want %q", code, err, knit.ENOTFOUND)
	}
}

func TestLoadNamesTheFileAsGiven(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "custom.yaml")
	if err := os.WriteFile(path, []byte("sources: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if err == nil || !strings.HasPrefix(err.Error(), path+":1:10: sources: at least one source") {
		t.Errorf("error %v does not start with %s:1:10", err, path)
	}
}

func TestTimeFormats(t *testing.T) {
	tests := []struct{ format, want, wantErr string }{
		{"", "auto", ""},
		{"unix_ms", "unix_ms", ""},
		{"01-02-2006 15:04:05", "01-02-2006 15:04:05", ""},
		{"%m-%d-%Y %H:%M:%S", "01-02-2006 15:04:05", ""},
		{"%Y-%m-%dT%H:%M:%S.%f%z", "2006-01-02T15:04:05.000000-0700", ""},
		{"%d %B %Y, %I:%M %p", "02 January 2006, 03:04 PM", ""},
		{"%-m/%-d/%y", "1/2/06", ""},
		{"%F %T", "2006-01-02 15:04:05", ""},
		{"100%% %Y", "", "digit in its literal text"},
		{"%Y-%m-%d %Q", "", "strftime directive %Q"},
		{"%Y-%", "", "ends with a lone %"},
		{"%H:%M", "", "has no year"},
		{"yyyy-MM-dd", "", "has no year"},
	}
	for _, tt := range tests {
		got, err := normalizeTimeFormat(tt.format)
		switch {
		case tt.wantErr == "" && (err != nil || got != tt.want):
			t.Errorf("normalizeTimeFormat(%q) = %q, %v; want %q", tt.format, got, err, tt.want)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("normalizeTimeFormat(%q) error = %v; want one containing %q", tt.format, err, tt.wantErr)
		}
	}
}

func TestRejectBudget(t *testing.T) {
	tests := []struct {
		maxRejected string
		rows, want  int64
	}{
		{"", 1000, -1},
		{"0", 1000, 0},
		{"25", 1000, 25},
		{"1%", 1000, 10},
		{"1%", 150, 1}, // rounds down
		{"0.5%", 1000, 5},
		{"100%", 7, 7},
		{"0%", 1000, 0},
		{"bogus", 1000, 0}, // fails safe
	}
	for _, tt := range tests {
		s := &Source{MaxRejected: tt.maxRejected}
		if got := s.RejectBudget(tt.rows); got != tt.want {
			t.Errorf("RejectBudget(%q, %d rows) = %d; want %d", tt.maxRejected, tt.rows, got, tt.want)
		}
	}
	// max_rejected written as a YAML integer is read as its text.
	cfg := mustParse(t, base+"    max_rejected: 3\n")
	if got := cfg.Sources["web"].RejectBudget(100); got != 3 {
		t.Errorf("max_rejected: 3 gives budget %d", got)
	}
}

func TestThreshold(t *testing.T) {
	for precision, want := range map[string]float64{"": 1, "exact": 1, "low": 0.30, "medium": 0.60, "high": 0.80, "0.95": 0.95, "1": 1} {
		if got := (&Condition{Precision: precision}).Threshold(); got != want {
			t.Errorf("Threshold(%q) = %v; want %v", precision, got, want)
		}
	}
}

func TestSuggest(t *testing.T) {
	keys := []string{"file", "format", "primary_key", "identifiers"}
	tests := []struct{ got, want string }{
		{"primarykey", `did you mean "primary_key"?`},
		{"identifers", `did you mean "identifiers"?`},
		{"fromat", `did you mean "format"?`},
		{"xy", "keys: file, format, identifiers, primary_key"},            // too short to correct
		{"colour_scheme", "keys: file, format, identifiers, primary_key"}, // too far
	}
	for _, tt := range tests {
		if s := suggest(tt.got, keys, "keys"); s != tt.want {
			t.Errorf("suggest(%q) = %q; want %q", tt.got, s, tt.want)
		}
	}
}
