package demo

import (
	"crypto/sha256"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/knit-cdp/knit"
	"github.com/knit-cdp/knit/config"
	"go.yaml.in/yaml/v3"
)

// MustGenerate writes a project and fails the test on error.
func MustGenerate(t *testing.T, opt Options) (string, Stats) {
	t.Helper()
	dir := t.TempDir()
	st, err := Generate(dir, opt)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return dir, st
}

func MustPreset(t *testing.T, name string) Options {
	t.Helper()
	o, err := Preset(name)
	if err != nil {
		t.Fatalf("Preset(%q): %v", name, err)
	}
	return o
}

// table is a parsed CSV file: header and rows, checked for a constant
// column count by encoding/csv itself.
type table struct {
	header []string
	rows   [][]string
}

func (tb table) col(name string) int {
	for i, h := range tb.header {
		if h == name {
			return i
		}
	}
	panic("no column " + name)
}

func readTable(t *testing.T, path string) table {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f) // FieldsPerRecord 0: every row must match the header
	all, err := r.ReadAll()
	if err != nil {
		t.Fatalf("%s does not parse as CSV with a constant column count: %v", path, err)
	}
	if len(all) == 0 {
		t.Fatalf("%s is empty, want a header", path)
	}
	return table{header: all[0], rows: all[1:]}
}

// coffeeTables reads the four sources and the truth of a coffee project.
func coffeeTables(t *testing.T, dir string) map[string]table {
	t.Helper()
	return map[string]table{
		"loyalty":   readTable(t, filepath.Join(dir, "data", "loyalty.csv")),
		"ecommerce": readTable(t, filepath.Join(dir, "data", "ecommerce.csv")),
		"web":       readTable(t, filepath.Join(dir, "data", "web_events.csv")),
		"pos":       readTable(t, filepath.Join(dir, "data", "pos.csv")),
		"truth":     readTable(t, filepath.Join(dir, "truth.csv")),
	}
}

func hashFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	sums := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		sums[rel] = fmt.Sprintf("%x", sha256.Sum256(b))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return sums
}

func TestGenerateIsDeterministic(t *testing.T) {
	for _, preset := range []string{"small", "people-1m"} {
		t.Run(preset, func(t *testing.T) {
			opt := MustPreset(t, preset)
			if opt.Dataset == People {
				opt.PersonRecords = 3000
			}
			a, _ := MustGenerate(t, opt)
			b, _ := MustGenerate(t, opt)
			ha, hb := hashFiles(t, a), hashFiles(t, b)
			if len(ha) < 2 {
				t.Fatalf("only %d files generated: %v", len(ha), ha)
			}
			if !reflect.DeepEqual(ha, hb) {
				t.Errorf("same seed, different bytes:\n%v\n%v", ha, hb)
			}
			opt.Seed++
			c, _ := MustGenerate(t, opt)
			hc := hashFiles(t, c)
			if hc["truth.csv"] == ha["truth.csv"] {
				t.Errorf("seeds %d and %d gave the same truth.csv", opt.Seed-1, opt.Seed)
			}
		})
	}
}

// recordKeys lists the record keys knit builds from the data: source/primary
// key for profile sources and source/visitor key for event sources.
func recordKeys(tabs map[string]table) map[string]bool {
	keys := map[string]bool{}
	for source, column := range map[string]string{"loyalty": "LoyaltyID", "ecommerce": "AccountID", "web": "UserID", "pos": "LoyaltyID"} {
		tb := tabs[source]
		c := tb.col(column)
		for _, row := range tb.rows {
			keys[source+"/"+row[c]] = true
		}
	}
	return keys
}

func TestTruthCoversEveryRecordKeyOnce(t *testing.T) {
	dir, st := MustGenerate(t, MustPreset(t, "small"))
	tabs := coffeeTables(t, dir)
	want := recordKeys(tabs)
	truth := map[string]string{}
	for i, row := range tabs["truth"].rows {
		if _, dup := truth[row[0]]; dup {
			t.Errorf("truth.csv line %d: record key %s appears again", i+2, row[0])
		}
		if row[1] == "" {
			t.Errorf("truth.csv line %d: record key %s has no person", i+2, row[0])
		}
		truth[row[0]] = row[1]
	}
	for k := range want {
		if _, ok := truth[k]; !ok {
			t.Errorf("record key %s is in the data but not in truth.csv", k)
		}
	}
	for k := range truth {
		if !want[k] {
			t.Errorf("truth.csv names %s, which no data row produces", k)
		}
	}

	// The truth must agree with the deterministic evidence: a sign-in puts
	// the device and the loyalty ID on one person, except on devices two
	// household members share (the truth keeps those with their owner).
	web := tabs["web"]
	user, loyalty := web.col("UserID"), web.col("LoyaltyID")
	foreign := map[string]bool{}
	for _, row := range web.rows {
		person, ok := truth["loyalty/"+row[loyalty]]
		if ok && person != truth["web/"+row[user]] {
			foreign[row[user]] = true
		}
	}
	if int64(len(foreign)) != st.SharedDevices || st.SharedDevices == 0 {
		t.Errorf("%d devices carry another person's sign-in, Stats.SharedDevices = %d; want equal and > 0", len(foreign), st.SharedDevices)
	}
	if got := truth["pos/"+walkInCard]; st.WalkInRows > 0 && got != walkInPersonID {
		t.Errorf("truth of the walk-in card = %q, want %q", got, walkInPersonID)
	}
}

func TestStatsMatchFiles(t *testing.T) {
	dir, st := MustGenerate(t, MustPreset(t, "small"))
	tabs := coffeeTables(t, dir)
	counts := []struct {
		name string
		got  int
		want int64
	}{
		{"loyalty rows", len(tabs["loyalty"].rows), st.LoyaltyRows},
		{"e-commerce rows", len(tabs["ecommerce"].rows), st.EcommerceRows},
		{"web events", len(tabs["web"].rows), st.WebEvents},
		{"POS rows", len(tabs["pos"].rows), st.POSRows},
		{"truth rows", len(tabs["truth"].rows), st.TruthRows},
		{"web visitors", distinct(tabs["web"], "UserID"), st.WebVisitors},
		{"customers", 1000, st.Customers},
		{"walk-in rows", count(tabs["pos"], "LoyaltyID", walkInCard), st.WalkInRows},
	}
	for _, c := range counts {
		if int64(c.got) != c.want || c.want == 0 {
			t.Errorf("%s: files have %d, Stats says %d (want equal, > 0)", c.name, c.got, c.want)
		}
	}
	people := map[string]bool{}
	for _, row := range tabs["truth"].rows {
		people[row[1]] = true
	}
	delete(people, walkInPersonID)
	// People with no record of their own cannot exist: every customer
	// browses when in neither programme.
	if int64(len(people)) != st.People {
		t.Errorf("truth.csv names %d people, Stats.People = %d", len(people), st.People)
	}
	var size int64
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if info, err := d.Info(); err == nil && !d.IsDir() {
			size += info.Size()
		}
		return nil
	})
	if size != st.Bytes {
		t.Errorf("files hold %d bytes, Stats.Bytes = %d", size, st.Bytes)
	}
	if st.DistinctIdentifiers < st.LoyaltyRows+st.EcommerceRows+st.WebVisitors {
		t.Errorf("DistinctIdentifiers %d is below the unique loyalty, account and device IDs alone", st.DistinctIdentifiers)
	}
}

func distinct(tb table, column string) int {
	c := tb.col(column)
	seen := map[string]bool{}
	for _, row := range tb.rows {
		seen[row[c]] = true
	}
	return len(seen)
}

func count(tb table, column, value string) int {
	c, n := tb.col(column), 0
	for _, row := range tb.rows {
		if row[c] == value {
			n++
		}
	}
	return n
}

func TestFilesHaveTheExampleColumnsAndFormats(t *testing.T) {
	dir, _ := MustGenerate(t, MustPreset(t, "small"))
	tabs := coffeeTables(t, dir)
	layouts := map[string]struct{ file, column, layout string }{
		"loyalty":   {"loyalty.csv", "UpdatedAt", "2006-01-02 15:04:05"},
		"ecommerce": {"ecommerce.csv", "CreatedAt", "2006-01-02 15:04:05"},
		"web":       {"web_events.csv", "EventTimeStamp", "01-02-2006 15:04:05"},
		"pos":       {"pos.csv", "PurchasedAt", "2006-01-02 15:04:05"},
	}
	for source, l := range layouts {
		example := readTable(t, filepath.Join("..", "examples", "coffee", "data", l.file))
		tb := tabs[source]
		if !reflect.DeepEqual(tb.header, example.header) {
			t.Errorf("%s header %v, want the example's %v", l.file, tb.header, example.header)
		}
		c := tb.col(l.column)
		for i, row := range tb.rows {
			if _, err := time.Parse(l.layout, row[c]); err != nil {
				t.Fatalf("%s line %d: %s %q does not parse as %q: %v", l.file, i+2, l.column, row[c], l.layout, err)
			}
			for _, v := range row {
				if !utf8.ValidString(v) {
					t.Fatalf("%s line %d: invalid UTF-8 %q", l.file, i+2, v)
				}
			}
		}
	}
	names := strings.Join(column(tabs["loyalty"], "LastName"), " ") + strings.Join(column(tabs["loyalty"], "FirstName"), " ")
	if utf8.RuneCountInString(names) == len(names) {
		t.Error("no non-ASCII name in the loyalty file; want some (José, Müller, ...)")
	}
}

func column(tb table, name string) []string {
	c := tb.col(name)
	var out []string
	for _, row := range tb.rows {
		out = append(out, row[c])
	}
	return out
}

func TestConfigIsTheExampleConfig(t *testing.T) {
	example, err := os.ReadFile(filepath.Join("..", "examples", "coffee", "knit.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if string(example) != coffeeExample {
		t.Fatal("demo/coffee.knit.yaml differs from examples/coffee/knit.yaml: run go generate ./demo")
	}
	dir, _ := MustGenerate(t, MustPreset(t, "small"))
	parse := func(path string) map[string]any {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := yaml.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return m
	}
	got := parse(filepath.Join(dir, "knit.yaml"))
	want := parse(filepath.Join("..", "examples", "coffee", "knit.yaml"))
	// File names are the only thing allowed to differ; every one must
	// name a file the generator wrote.
	for name, src := range got["sources"].(map[string]any) {
		file := src.(map[string]any)["file"].(string)
		if _, err := os.Stat(filepath.Join(dir, file)); err != nil {
			t.Errorf("source %s names %s, which was not generated", name, file)
		}
		want["sources"].(map[string]any)[name].(map[string]any)["file"] = file
	}
	for kind, file := range got["overrides"].(map[string]any) {
		if _, err := os.Stat(filepath.Join(dir, file.(string))); err != nil {
			t.Errorf("overrides.%s names %s, which was not generated", kind, file)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("generated knit.yaml differs from examples/coffee/knit.yaml beyond file names:\n got %v\nwant %v", got, want)
	}
}

// share returns part/whole as a float.
func share(part, whole int64) float64 { return float64(part) / float64(whole) }

func TestRatesAreRoughlyHonoured(t *testing.T) {
	tests := []struct {
		name string
		opt  Options
	}{
		{"defaults", Options{Customers: 20000, Seed: 7}},
		{"loyal, few online", Options{Customers: 20000, Seed: 8, LoyaltyShare: 0.9, EcommerceShare: 0.1, POSPerMember: 6, EventsPerDevice: 2, DuplicateEnrolment: 0.1}},
		{"clean", Options{Customers: 20000, Seed: 9, JunkRate: -1, TypoRate: -1, DuplicateEnrolment: -1, WalkInShare: -1, HouseholdShare: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, st := MustGenerate(t, tt.opt)
			o, _ := tt.opt.withDefaults()
			tabs := coffeeTables(t, dir)
			members := st.LoyaltyRows - st.DuplicateEnrolments
			walkIns := int64(count(tabs["pos"], "LoyaltyID", walkInCard))
			checks := []struct {
				what      string
				got, want float64
				tolerance float64 // relative
			}{
				{"loyalty members per customer", share(members, st.Customers), o.LoyaltyShare, 0.05},
				{"e-commerce accounts per customer", share(st.EcommerceRows, st.Customers), o.EcommerceShare, 0.05},
				{"duplicate enrolments per member", share(st.DuplicateEnrolments, members), o.DuplicateEnrolment, 0.25},
				{"web events per device", share(st.WebEvents-3*st.SharedDevices, st.WebVisitors), o.EventsPerDevice, 0.1},
				{"member POS rows per member", share(st.POSRows-walkIns, members), o.POSPerMember, 0.1},
				{"anonymous-only visitors per customer", share(st.People-st.Customers, st.Customers), o.AnonymousVisitors, 0.02},
				{"junk emails in loyalty", share(int64(countJunk(tabs["loyalty"], "Email")), st.LoyaltyRows), o.JunkRate, 0.6},
			}
			for _, c := range checks {
				if c.want == 0 {
					if c.got != 0 {
						t.Errorf("%s = %.4f, want none", c.what, c.got)
					}
					continue
				}
				if d := (c.got - c.want) / c.want; d > c.tolerance || d < -c.tolerance {
					t.Errorf("%s = %.4f, want %.4f ± %.0f%%", c.what, c.got, c.want, 100*c.tolerance)
				}
			}
			if o.WalkInShare == 0 && walkIns != 0 {
				t.Errorf("%d walk-in rows with WalkInShare off", walkIns)
			}
		})
	}
}

func countJunk(tb table, column string) int {
	n := 0
	for _, v := range tb.rows {
		if isJunk(v[tb.col(column)]) {
			n++
		}
	}
	return n
}

func TestDuplicateEnrolmentsShareTheEmail(t *testing.T) {
	dir, st := MustGenerate(t, Options{Customers: 5000, Seed: 3, TypoRate: -1, JunkRate: -1})
	tabs := coffeeTables(t, dir)
	truth := map[string]string{}
	for _, row := range tabs["truth"].rows {
		truth[row[0]] = row[1]
	}
	lo := tabs["loyalty"]
	id, email := lo.col("LoyaltyID"), lo.col("Email")
	byPerson := map[string][]string{}
	for _, row := range lo.rows {
		p := truth["loyalty/"+row[id]]
		byPerson[p] = append(byPerson[p], strings.ToLower(row[email]))
	}
	var twice int64
	for p, emails := range byPerson {
		if len(emails) == 2 {
			twice++
			if emails[0] != emails[1] {
				t.Errorf("person %s enrolled twice with %q and %q, want the same email", p, emails[0], emails[1])
			}
		}
	}
	if twice != st.DuplicateEnrolments || twice == 0 {
		t.Errorf("%d people enrolled twice, Stats.DuplicateEnrolments = %d", twice, st.DuplicateEnrolments)
	}
}

func TestTimestampsMatchTimeFormat(t *testing.T) {
	// Dates around leap days, year ends and the epoch.
	var samples []int64
	for u := int64(-86400 * 800); u < 86400*366*60; u += 86400*7 + 3671 {
		samples = append(samples, u)
	}
	for _, u := range samples {
		tm := time.Unix(u, 0).UTC()
		if got, want := string(appendTimestamp(nil, u)), tm.Format("2006-01-02 15:04:05"); got != want {
			t.Fatalf("appendTimestamp(%d) = %s, want %s", u, got, want)
		}
		if got, want := string(appendWebTimestamp(nil, u)), tm.Format("01-02-2006 15:04:05"); got != want {
			t.Fatalf("appendWebTimestamp(%d) = %s, want %s", u, got, want)
		}
	}
}

func TestInvalidOptions(t *testing.T) {
	tests := []struct {
		name string
		opt  Options
		want string // part of the message
	}{
		{"no customers", Options{}, "at least 1"},
		{"share above one", Options{Customers: 10, LoyaltyShare: 1.5}, "LoyaltyShare"},
		{"unknown data set", Options{Customers: 10, Dataset: "crm"}, `"crm"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Generate(t.TempDir(), tt.opt)
			if knit.ErrorCode(err) != knit.EINVALID || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Generate error = %v, want an invalid error mentioning %s", err, tt.want)
			}
		})
	}
	if _, err := Preset("huge"); knit.ErrorCode(err) != knit.EINVALID || !strings.Contains(err.Error(), "unify-1m") {
		t.Errorf("Preset(huge) error = %v, want an invalid error listing the presets", err)
	}
}

func TestGenerateRefusesAForeignProject(t *testing.T) {
	dir := t.TempDir()
	own := "sources: {}\n"
	if err := os.WriteFile(filepath.Join(dir, "knit.yaml"), []byte(own), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Generate(dir, MustPreset(t, "small"))
	var kerr *knit.Error
	if !errors.As(err, &kerr) || kerr.Code != knit.EINVALID {
		t.Fatalf("Generate over a real project: error %v, want invalid", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "knit.yaml")); string(b) != own {
		t.Errorf("knit.yaml was overwritten")
	}
	// A folder it generated itself may be regenerated.
	gen := t.TempDir()
	for range 2 {
		if _, err := Generate(gen, MustPreset(t, "small")); err != nil {
			t.Fatalf("regenerating a generated folder: %v", err)
		}
	}
}

func TestGeneratePeople(t *testing.T) {
	path := filepath.Join(t.TempDir(), "people.csv")
	const n = 5000
	if err := GeneratePeople(path, n, 42); err != nil {
		t.Fatal(err)
	}
	tb := readTable(t, path)
	if want := strings.Split(peopleHeader, ","); !reflect.DeepEqual(tb.header, want) {
		t.Fatalf("header %v, want %v", tb.header, want)
	}
	if len(tb.rows) != n {
		t.Fatalf("%d records, want %d", len(tb.rows), n)
	}
	ids := map[string]bool{}
	clusters := map[string][][]string{}
	for _, row := range tb.rows {
		if ids[row[0]] {
			t.Errorf("id %s repeated", row[0])
		}
		ids[row[0]] = true
		clusters[row[8]] = append(clusters[row[8]], row)
		if dob := row[3]; dob != "" {
			if _, err := time.Parse("2006-01-02", dob); err != nil {
				t.Errorf("record %s: dob %q is not a date: %v", row[0], dob, err)
			}
		}
	}
	var multi, corrupted, adjacent int
	for _, recs := range clusters {
		if len(recs) < 2 {
			continue
		}
		multi++
		for _, r := range recs[1:] {
			// Phones are reformatted on every row; compare the other fields.
			a := append(append([]string{}, recs[0][1:5]...), recs[0][6:8]...)
			b := append(append([]string{}, r[1:5]...), r[6:8]...)
			if !reflect.DeepEqual(a, b) {
				corrupted++
			}
		}
	}
	for i := 1; i < len(tb.rows); i++ {
		if tb.rows[i][8] == tb.rows[i-1][8] {
			adjacent++
		}
	}
	// Febrl-like shape: about half the originals have duplicates, nearly
	// every duplicate differs from its original, and the file is shuffled.
	if s := float64(multi) / float64(len(clusters)); s < 0.35 || s > 0.65 {
		t.Errorf("%.2f of clusters have duplicates, want about half", s)
	}
	if dups := len(tb.rows) - len(clusters); float64(corrupted) < 0.8*float64(dups) {
		t.Errorf("%d of %d duplicates differ from their original, want nearly all", corrupted, dups)
	}
	if adjacent > n/20 {
		t.Errorf("%d adjacent rows share a cluster, want the file shuffled", adjacent)
	}
	if err := GeneratePeople(path, 0, 1); knit.ErrorCode(err) != knit.EINVALID {
		t.Errorf("GeneratePeople(n=0) error = %v, want invalid", err)
	}
}

func TestPeopleProjectTruthMatchesClusterColumn(t *testing.T) {
	opt := MustPreset(t, "people-1m")
	opt.PersonRecords = 2000
	dir, st := MustGenerate(t, opt)
	people := readTable(t, filepath.Join(dir, "data", "people.csv"))
	truth := readTable(t, filepath.Join(dir, "truth.csv"))
	if int64(len(people.rows)) != st.PersonRecords || len(truth.rows) != len(people.rows) {
		t.Fatalf("%d records, %d truth rows, Stats.PersonRecords %d: want all equal", len(people.rows), len(truth.rows), st.PersonRecords)
	}
	for i, row := range people.rows {
		if want := []string{"people/" + row[0], row[8]}; !reflect.DeepEqual(truth.rows[i], want) {
			t.Fatalf("truth line %d = %v, want %v", i+2, truth.rows[i], want)
		}
	}
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(peopleConfig), &cfg); err != nil {
		t.Fatalf("people knit.yaml does not parse: %v", err)
	}
}

// The generated projects must pass knit's own configuration checks, so that
// `knit run` on them fails only for reasons worth a bug report.
func TestGeneratedConfigsLoad(t *testing.T) {
	people := MustPreset(t, "people-1m")
	people.PersonRecords = 100
	for name, opt := range map[string]Options{"coffee": MustPreset(t, "small"), "people": people} {
		dir, _ := MustGenerate(t, opt)
		p, err := config.Load(dir)
		if err != nil {
			t.Errorf("%s project: %v", name, err)
			continue
		}
		for _, src := range p.Config.Sources {
			if _, err := os.Stat(filepath.Join(dir, src.File)); err != nil {
				t.Errorf("%s project: source %s file %s was not generated", name, src.Name, src.File)
			}
		}
	}
}
