package insights_test

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/knit-cdp/knit/config"
	"github.com/knit-cdp/knit/duckdb"
	"github.com/knit-cdp/knit/engine"
	"github.com/knit-cdp/knit/insights"
	"github.com/knit-cdp/knit/pipeline"
)

// A small shop whose every number below is computed by hand in the
// comments. The run time is pinned to 2024-03-10 10:00 UTC.
var shopNow = time.Date(2024, 3, 10, 10, 0, 0, 0, time.UTC)

const shopMembers = `MemberID,Email
m1,a@example.com
m2,b@example.com
m3,c@example.com
`

const shopEvents = `EventID,Member,TS,Type,Amount,Store
e1,m1,2024-01-01 10:00:00,Purchase,10,S1
e2,m1,2024-02-01 10:00:00,Purchase,30,S2
e3,m1,2024-03-01 10:00:00,Purchase,20,S1
e4,m1,2024-03-05 10:00:00,View,,S1
e5,m2,2024-03-02 10:00:00,Purchase,5,S2
`

const shopConfig = `sources:
  members:
    file: members.csv
    primary_key: MemberID
    identifiers: {MemberID: member_id, Email: email}
  events:
    file: events.csv
    kind: events
    primary_key: EventID
    visitor_key: Member
    timestamp: {column: TS, format: "2006-01-02 15:04:05"}
    identifiers: {Member: member_id}
    columns: {Amount: float}
identifiers:
  email: {normalize: email}
unify:
  include_all_records: [members]
activities:
  events:
    type_column: Type
    properties: {Amount: amount, Store: store}
measures:
  n_all: {aggregate: count}
  n_purchase: {aggregate: count, activity: Purchase}
  stores: {aggregate: count_distinct, of: store}
  revenue: {aggregate: sum, of: amount}
  avg_amount: {aggregate: avg, of: amount, activity: Purchase}
  min_amount: {aggregate: min, of: amount}
  max_amount: {aggregate: max, of: amount}
  first_store: {aggregate: first, of: store}
  last_type: {aggregate: last, of: type}
  top_store: {aggregate: argmax, of: store, by: amount}
  bottom_store: {aggregate: argmin, of: store, by: amount}
  days_first: {aggregate: days_since_first}
  days_last: {aggregate: days_since_last}
  rev_30d: {aggregate: sum, of: amount, window: in the last 30 days}
  rev_between: {aggregate: sum, of: amount, window: between 2024-01-01 and 2024-02-01}
  rev_before: {aggregate: sum, of: amount, window: before 2024-02-01}
  rev_after: {aggregate: sum, of: amount, window: after 2024-02-01}
  rev_s1: {aggregate: sum, of: amount, where: 'store = "S1"'}
  aov: {formula: revenue / n_purchase}
  total_revenue: {scope: business, aggregate: sum, of: amount}
  purchases_total: {scope: business, aggregate: count, activity: Purchase}
  revenue_by_store: {scope: business, aggregate: sum, of: amount, dimensions: [store]}
  revenue_by_month: {scope: business, aggregate: sum, of: amount, dimensions: [month]}
  business_aov: {scope: business, formula: total_revenue / purchases_total}
segments:
  big: revenue >= 30
  frozen: {rule: revenue >= 30, static: true}
  injected: did "Purchase" where store = "S1'; DROP TABLE profiles; --"
  quoted: email_domain_check = "x"
`

// writeShop writes the project; the last segment is replaced by the
// caller's extra segments.
func writeShop(t *testing.T, events string, extraSegments string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := strings.Replace(shopConfig, "  quoted: email_domain_check = \"x\"\n", extraSegments, 1)
	for name, content := range map[string]string{"knit.yaml": cfg, "members.csv": shopMembers, "events.csv": events} {
		writeProjectFile(t, dir, name, content)
	}
	return dir
}

// writeProjectFile writes (or replaces) one file of a test project.
func writeProjectFile(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

type shop struct {
	t   *testing.T
	dir string
	db  *duckdb.DB
	rep *pipeline.Report
}

// openShop loads a project and opens its database, closed with the test.
func openShop(t *testing.T, dir string) (*config.Project, *duckdb.DB) {
	t.Helper()
	proj, err := config.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	db, err := duckdb.Open(filepath.Join(dir, "knit.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return proj, db
}

func runShop(t *testing.T, dir string, now time.Time) *shop {
	t.Helper()
	proj, db := openShop(t, dir)
	rep, err := pipeline.Run(context.Background(), proj, db, pipeline.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return &shop{t: t, dir: dir, db: db, rep: rep}
}

// value returns one value as text ("NULL" for NULL, numbers without
// trailing zeros).
func (s *shop) value(query string, args ...any) string {
	s.t.Helper()
	var v any
	if err := s.db.SQL().QueryRow(query, args...).Scan(&v); err != nil {
		if err == sql.ErrNoRows {
			return "no row"
		}
		s.t.Fatalf("%s: %v", query, err)
	}
	switch v := v.(type) {
	case nil:
		return "NULL"
	case float64:
		return fmt.Sprint(math.Round(v*1e9) / 1e9)
	}
	return fmt.Sprint(v)
}

func (s *shop) customer(member string) string {
	return s.value(`SELECT customer_id FROM identifiers WHERE type = 'member_id' AND value = ?`, member)
}

func TestCustomerMeasuresByHand(t *testing.T) {
	s := runShop(t, writeShop(t, shopEvents, ""), shopNow)
	want := map[string][3]string{ // m1, m2, m3 (no activities)
		"n_all":      {"4", "1", "0"},
		"n_purchase": {"3", "1", "0"},
		"stores":     {"2", "1", "0"},
		"revenue":    {"60", "5", "0"},
		// avg of 10, 30, 20; m3 has nothing to average.
		"avg_amount": {"20", "5", "NULL"},
		// e4 has no amount: min and max skip it.
		"min_amount":   {"10", "5", "NULL"},
		"max_amount":   {"30", "5", "NULL"},
		"first_store":  {"S1", "S2", "NULL"},
		"last_type":    {"View", "Purchase", "NULL"},
		"top_store":    {"S2", "S2", "NULL"},
		"bottom_store": {"S1", "S2", "NULL"},
		// 2024-01-01 10:00 → 2024-03-10 10:00 is 31 + 29 + 9 = 69 days.
		"days_first": {"69", "8", "NULL"},
		"days_last":  {"5", "8", "NULL"},
		// The last 30 days start 2024-02-09 10:00: e3 only for m1.
		"rev_30d": {"20", "5", "0"},
		// Both dates included: e1 and e2.
		"rev_between": {"40", "0", "0"},
		"rev_before":  {"10", "0", "0"},
		// After a date starts the next day: e3 (e4 has no amount), e5.
		"rev_after": {"20", "5", "0"},
		"rev_s1":    {"30", "0", "0"},
		// 60 / 3; 5 / 1; 0 / 0 is NULL.
		"aov": {"20", "5", "NULL"},
	}
	s.checkMeasures(want)
}

// checkMeasures compares customer measures with their values for m1, m2
// and m3.
func (s *shop) checkMeasures(want map[string][3]string) {
	s.t.Helper()
	for measure, vals := range want {
		for i, m := range []string{"m1", "m2", "m3"} {
			got := s.value(fmt.Sprintf(`SELECT %q FROM customer_measures WHERE customer_id = ?`, measure), s.customer(m))
			if got != vals[i] {
				s.t.Errorf("%s of %s = %s, want %s", measure, m, got, vals[i])
			}
		}
	}
}

func TestBusinessMeasuresByHand(t *testing.T) {
	s := runShop(t, writeShop(t, shopEvents, ""), shopNow)
	want := map[[2]string]string{
		{"total_revenue", ""}:                 "65",
		{"purchases_total", ""}:               "4",
		{"revenue_by_store", "store=S1"}:      "30",
		{"revenue_by_store", "store=S2"}:      "35",
		{"revenue_by_month", "month=2024-01"}: "10",
		{"revenue_by_month", "month=2024-02"}: "30",
		{"revenue_by_month", "month=2024-03"}: "25",
		{"business_aov", ""}:                  "16.25",
	}
	for k, v := range want {
		if got := s.value(`SELECT value FROM business_measures WHERE measure = ? AND dimensions = ?`, k[0], k[1]); got != v {
			t.Errorf("%s [%s] = %s, want %s", k[0], k[1], got, v)
		}
	}
	if got := s.value(`SELECT count(*) FROM business_measures`); got != fmt.Sprint(len(want)) {
		t.Errorf("business_measures has %s rows, want %d", got, len(want))
	}
}

// A value that looks like SQL stays a value: the segment is empty and the
// profiles table is still there.
func TestInjectionStaysAValue(t *testing.T) {
	s := runShop(t, writeShop(t, shopEvents, ""), shopNow)
	if got := s.value(`SELECT count(*) FROM segment_members WHERE segment = 'injected'`); got != "0" {
		t.Errorf("injected segment has %s members, want 0", got)
	}
	if got := s.value(`SELECT count(*) FROM profiles`); got != "3" {
		t.Errorf("profiles = %s, want 3", got)
	}
}

// An unknown field in a rule fails the run before any data is read, naming
// the segment and the column.
func TestUnknownFieldFailsEarly(t *testing.T) {
	proj, db := openShop(t, writeShop(t, shopEvents, "  bad: known and revenu > 3\n"))
	_, err := pipeline.Run(context.Background(), proj, db, pipeline.Options{Now: func() time.Time { return shopNow }})
	if err == nil || !strings.Contains(err.Error(), "segments.bad: 1:11: unknown field revenu") || !strings.Contains(err.Error(), `did you mean "revenue"?`) {
		t.Fatalf("error = %v; want segments.bad: 1:11: unknown field revenu with a suggestion", err)
	}
	if ok, _ := db.TableExists(context.Background(), "profiles"); ok {
		t.Error("the run wrote profiles despite the bad rule")
	}
}

// Membership history across two runs: m1 enters big in run 1 and leaves in
// run 2 (its large purchases are gone); m2 enters in run 2. The static
// segment keeps run 1's members.
func TestSegmentHistoryAcrossRuns(t *testing.T) {
	dir := writeShop(t, shopEvents, "")
	s := runShop(t, dir, shopNow)
	m1, m2 := s.customer("m1"), s.customer("m2")
	s.db.Close()
	second := strings.Replace(strings.Replace(shopEvents, "e2,m1,2024-02-01 10:00:00,Purchase,30,S2\n", "", 1),
		"e3,m1,2024-03-01 10:00:00,Purchase,20,S1\n", "e6,m2,2024-03-08 10:00:00,Purchase,40,S1\n", 1)
	writeProjectFile(t, dir, "events.csv", second)
	later := shopNow.Add(24 * time.Hour)
	s = runShop(t, dir, later)
	type interval struct{ entered, left string }
	hist := func(cust string) []interval {
		rows, err := s.db.SQL().Query(`SELECT entered_run, COALESCE(CAST(left_run AS VARCHAR), '-') FROM segment_history WHERE segment = 'big' AND customer_id = ? ORDER BY entered_run`, cust)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []interval
		for rows.Next() {
			var iv interval
			if err := rows.Scan(&iv.entered, &iv.left); err != nil {
				t.Fatal(err)
			}
			out = append(out, iv)
		}
		return out
	}
	if got := hist(m1); len(got) != 1 || got[0] != (interval{"1", "2"}) {
		t.Errorf("m1's history in big = %v, want entered in run 1, left in run 2", got)
	}
	if got := hist(m2); len(got) != 1 || got[0] != (interval{"2", "-"}) {
		t.Errorf("m2's history in big = %v, want entered in run 2, still a member", got)
	}
	if got := s.value(`SELECT left_at FROM segment_history WHERE segment = 'big' AND customer_id = ?`, m1); !strings.HasPrefix(got, "2024-03-11 10:00:00") {
		t.Errorf("m1 left at %s, want the second run's time 2024-03-11 10:00", got)
	}
	var big, frozen bool
	for _, st := range s.rep.Insights.Segments {
		switch st.Name {
		case "big":
			big = true
			if st.Members != 1 || st.Entered != 1 || st.Left != 1 || st.Previous != 1 {
				t.Errorf("report for big = %+v, want 1 member, 1 entered, 1 left, 1 before", st)
			}
		case "frozen":
			frozen = true
			if st.Members != 1 || st.Entered != 0 || st.Left != 0 {
				t.Errorf("report for static frozen = %+v, want its 1 member kept", st)
			}
		}
	}
	if !big || !frozen {
		t.Fatal("the report lacks segments")
	}
	if got := s.value(`SELECT customer_id FROM segment_members WHERE segment = 'frozen'`); got != m1 {
		t.Errorf("static segment member = %s, want m1 (%s) from run 1", got, m1)
	}
}

// Every did of a run is counted in one grouped pass over the activities;
// the members must be those of the rule as written, computed by hand.
func TestDidConditionsByHand(t *testing.T) {
	segs := `  buyers: did "Purchase"
  s1_twice: did "Purchase" where store = "S1" at least 2 times
  exactly_one: did "Purchase" exactly 1 time
  at_most_one: did "Purchase" at most 1 time
  recent: did "Purchase" in the last 8 days
  never_viewed: never did "View"
  both: did "Purchase" and did "View"
  big_s2: did "Purchase" where store = "S2", amount >= 10
  s1_or_none: did "Purchase" where store = "S1" at least 2 times or not did "Purchase"
`
	s := runShop(t, writeShop(t, shopEvents, segs), shopNow)
	// m1: purchases 10 S1 (Jan 1), 30 S2 (Feb 1), 20 S1 (Mar 1), a view
	// (Mar 5); m2: one purchase 5 S2 (Mar 2 10:00, exactly 8 days before
	// the run); m3: nothing.
	want := map[string]string{
		"buyers": "m1 m2", "s1_twice": "m1", "exactly_one": "m2", "at_most_one": "m2 m3", "recent": "m2",
		"never_viewed": "m2 m3", "both": "m1", "big_s2": "m1", "s1_or_none": "m1 m3",
	}
	for seg, members := range want {
		got := s.value(`SELECT COALESCE(string_agg(i.value, ' ' ORDER BY i.value), '') FROM segment_members m
JOIN identifiers i ON i.customer_id = m.customer_id AND i.type = 'member_id' WHERE m.segment = ?`, seg)
		if got != members {
			t.Errorf("segment %s = %q, want %q", seg, got, members)
		}
	}
}

// A run whose events, keys and settings did not change keeps the last
// run's activities instead of writing them again; a changed event is
// written.
func TestActivitiesReusedWhenNothingChanged(t *testing.T) {
	dir := writeShop(t, shopEvents, "")
	s := runShop(t, dir, shopNow)
	if s.rep.Insights.Activities.Reused {
		t.Fatal("the first run reused activities")
	}
	before := s.value(`SELECT string_agg(source || '/' || primary_key || ' ' || ks.customer_id || ' ' || CAST(known_at_time AS VARCHAR), ', ' ORDER BY primary_key) FROM activities a JOIN known_since ks ON ks.customer_key = a.customer_key`)
	s.db.Close()
	s = runShop(t, dir, shopNow.Add(time.Hour))
	if a := s.rep.Insights.Activities; !a.Reused || a.Activities["events"] != 5 {
		t.Fatalf("second run: %+v, want the 5 activities reused", a)
	}
	if got := s.value(`SELECT string_agg(source || '/' || primary_key || ' ' || ks.customer_id || ' ' || CAST(known_at_time AS VARCHAR), ', ' ORDER BY primary_key) FROM activities a JOIN known_since ks ON ks.customer_key = a.customer_key`); got != before {
		t.Errorf("activities after reuse = %s, want %s", got, before)
	}
	if got := s.value(`SELECT n_all FROM customer_measures WHERE customer_id = ?`, s.customer("m1")); got != "4" {
		t.Errorf("m1's n_all after reuse = %s, want 4", got)
	}
	s.db.Close()
	changed := strings.Replace(shopEvents, "e5,m2,2024-03-02 10:00:00,Purchase,5,S2", "e5,m2,2024-03-02 10:00:00,Purchase,6,S2", 1)
	writeProjectFile(t, dir, "events.csv", changed)
	s = runShop(t, dir, shopNow.Add(2*time.Hour))
	if s.rep.Insights.Activities.Reused {
		t.Fatal("a changed amount reused the old activities")
	}
	if got := s.value(`SELECT amount FROM activities WHERE source = 'events' AND primary_key = 'e5'`); got != "6" {
		t.Errorf("e5's amount = %s, want 6", got)
	}
}

// A run in which nobody entered or left a segment keeps the last run's
// history instead of copying it; the next run that changes a membership
// carries that kept history forward.
func TestSegmentHistoryKeptWhenNothingChanged(t *testing.T) {
	dir := writeShop(t, shopEvents, "")
	s := runShop(t, dir, shopNow)
	m1 := s.customer("m1")
	var err error
	hist := `SELECT string_agg(segment || ' ' || customer_id || ' ' || CAST(entered_run AS VARCHAR) || ' ' || COALESCE(CAST(left_run AS VARCHAR), '-'), ', '
  ORDER BY segment, customer_id, entered_run) FROM segment_history`
	before := s.value(hist)
	// The stage itself, over the last run's tables: nothing to stage.
	env := &insights.Env{Eng: s.db, Tables: insights.NewTables()}
	if env.Proj, err = config.Load(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := insights.BuildSegments(context.Background(), env, 2, shopNow.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if staged := env.StagedSegmentTables(); slices.Contains(staged, insights.SegmentHistoryTable) {
		t.Errorf("staged %v, want the history kept", staged)
	}
	if exists, err := s.db.TableExists(context.Background(), engine.StagedName(insights.SegmentHistoryTable)); err != nil || exists {
		t.Errorf("a staged history exists (%v, %v) although the history is kept", exists, err)
	}
	s.db.Close()
	s = runShop(t, dir, shopNow.Add(time.Hour))
	for _, st := range s.rep.Insights.Segments {
		if st.Entered != 0 || st.Left != 0 || st.Members != st.Previous {
			t.Errorf("unchanged second run: %+v, want nobody entered or left", st)
		}
	}
	if got := s.value(hist); got != before {
		t.Errorf("history after an unchanged run = %s, want %s", got, before)
	}
	if got := s.value(`SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE '%segment_history%'`); got != "1" {
		t.Errorf("%s tables named like segment_history, want 1 (nothing left staged)", got)
	}
	s.db.Close()
	third := strings.Replace(strings.Replace(shopEvents, "e2,m1,2024-02-01 10:00:00,Purchase,30,S2\n", "", 1),
		"e3,m1,2024-03-01 10:00:00,Purchase,20,S1\n", "", 1)
	writeProjectFile(t, dir, "events.csv", third)
	s = runShop(t, dir, shopNow.Add(2*time.Hour))
	if got := s.value(`SELECT CAST(entered_run AS VARCHAR) || ' ' || CAST(left_run AS VARCHAR) FROM segment_history WHERE segment = 'big' AND customer_id = ?`, m1); got != "1 3" {
		t.Errorf("m1 in big = %s, want entered in run 1 and left in run 3", got)
	}
	for _, st := range s.rep.Insights.Segments {
		if st.Name == "big" && (st.Left != 1 || st.Entered != 0 || st.Members != 0) {
			t.Errorf("third run's report for big = %+v, want m1 left, no member", st)
		}
	}
}

// Sums and averages of a float property are exact decimals, so they do
// not depend on the order the engine adds them in: 0.1 + 0.2 is 0.3 (as
// doubles it is 0.30000000000000004, and a parallel sum may differ from
// run to run in the last bit).
func TestFloatSumsAreExact(t *testing.T) {
	events := shopEvents + "e6,m3,2024-03-03 10:00:00,Purchase,0.1,S1\ne7,m3,2024-03-04 10:00:00,Purchase,0.2,S1\n"
	s := runShop(t, writeShop(t, events, "  tiny: revenue <= 0.3 and revenue > 0\n"), shopNow)
	m3 := s.customer("m3")
	if got := s.value(`SELECT CAST(revenue = 0.3 AS VARCHAR) || ' ' || CAST(avg_amount = 0.15 AS VARCHAR) FROM customer_measures WHERE customer_id = ?`, m3); got != "true true" {
		t.Errorf("m3's revenue = 0.3 and avg = 0.15: %s, want true true", got)
	}
	if got := s.value(`SELECT customer_id FROM segment_members WHERE segment = 'tiny'`); got != m3 {
		t.Errorf("tiny = %s, want m3 (%s)", got, m3)
	}
}

// Activities hold the customer's integer key, the bare primary key and no
// title copied from the type; the timeline and measures read the
// customer, activity ID and title through known_since and the derived
// columns, as before.
func TestActivitiesAreCompact(t *testing.T) {
	dir := writeShop(t, shopEvents, "")
	s := runShop(t, dir, shopNow)
	if got := s.value(`SELECT string_agg(column_name, ',' ORDER BY column_index) FROM duckdb_columns() WHERE table_name = 'activities'`); got != "customer_key,primary_key,source,type,ts,title,known_at_time,amount,store" {
		t.Errorf("activities columns = %s", got)
	}
	if got := s.value(`SELECT count(*) FROM activities WHERE title IS NOT NULL`); got != "0" {
		t.Errorf("%s titles stored for a source without a title column, want none", got)
	}
	m1 := s.customer("m1")
	if got := s.value(`SELECT count(*) FROM activities a JOIN known_since ks ON ks.customer_key = a.customer_key WHERE ks.customer_id = ?`, m1); got != "4" {
		t.Errorf("m1 has %s activities through known_since, want 4", got)
	}
	if got := s.value(`SELECT count(DISTINCT customer_key) = count(*) AND min(customer_key) = 1 AND max(customer_key) = count(*) FROM known_since`); got != "true" {
		t.Errorf("known_since's customer keys are not 1..n: %s", got)
	}
	acts, err := insights.Timeline(context.Background(), s.db, m1, insights.TimelineFilter{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(acts) != 2 || acts[0].ActivityID != "events/e4" || acts[0].Title != "View" || acts[1].ActivityID != "events/e3" || acts[1].Title != "Purchase" {
		t.Errorf("m1's newest activities = %+v, want events/e4 (View) then events/e3 (Purchase)", acts)
	}
}

// Segments built from segments are evaluated together in one statement
// ("in segment" reads the named segment's condition on the same row),
// except a static segment kept from an earlier run, whose members are
// read: run 1 has big = frozen = {m1}; in run 2 m1's revenue falls to 10
// and m2's rises to 45, so big = {m2} while the static frozen keeps {m1}.
func TestSegmentsOfSegmentsByHand(t *testing.T) {
	segs := `  big_not_frozen: in segment big and not in segment frozen
  frozen_not_big: in segment frozen and not in segment big
  buyers_or_big: did "Purchase" or in segment big
  nested: in segment buyers_or_big and not in segment big_not_frozen
  nobody: not (in segment nested or not in segment nested)
`
	dir := writeShop(t, shopEvents, segs)
	check := func(s *shop, want map[string]string) {
		t.Helper()
		for seg, members := range want {
			got := s.value(`SELECT COALESCE(string_agg(i.value, ' ' ORDER BY i.value), '') FROM segment_members m
JOIN identifiers i ON i.customer_id = m.customer_id AND i.type = 'member_id' WHERE m.segment = ?`, seg)
			if got != members {
				t.Errorf("segment %s = %q, want %q", seg, got, members)
			}
		}
	}
	s := runShop(t, dir, shopNow)
	check(s, map[string]string{"big": "m1", "frozen": "m1", "big_not_frozen": "", "frozen_not_big": "",
		"buyers_or_big": "m1 m2", "nested": "m1 m2", "nobody": ""})
	s.db.Close()
	second := strings.Replace(strings.Replace(shopEvents, "e2,m1,2024-02-01 10:00:00,Purchase,30,S2\n", "", 1),
		"e3,m1,2024-03-01 10:00:00,Purchase,20,S1\n", "e6,m2,2024-03-08 10:00:00,Purchase,40,S1\n", 1)
	writeProjectFile(t, dir, "events.csv", second)
	s = runShop(t, dir, shopNow.Add(24*time.Hour))
	check(s, map[string]string{"big": "m2", "frozen": "m1", "big_not_frozen": "m2", "frozen_not_big": "m1",
		"buyers_or_big": "m1 m2", "nested": "m1", "nobody": ""})
}

// A text property of at most 64 distinct values is aggregated as
// positions in their list, one of more values as text: both give the
// hand-computed answers (62 stores, S1 and S2 are 64 values; 63 are 65).
// m1 buys once at each of n stores, the i-th on day
// i for i + 1; the view e4 of the shop (store S1) counts as a store too.
func TestTextMeasuresFewAndManyValues(t *testing.T) {
	for _, n := range []int{62, 63, 200} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			var b strings.Builder
			b.WriteString("EventID,Member,TS,Type,Amount,Store\n")
			for i := range n {
				fmt.Fprintf(&b, "x%d,m1,%s,Purchase,%d,s%03d\n", i, time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i).Format("2006-01-02 15:04:05"), i+1, i)
			}
			b.WriteString("e4,m1,2024-03-05 10:00:00,View,,S1\ne5,m2,2024-03-02 10:00:00,Purchase,5,S2\n")
			s := runShop(t, writeShop(t, b.String(), ""), shopNow)
			s.checkMeasures(map[string][3]string{
				"stores":       {fmt.Sprint(n + 1), "1", "0"},
				"first_store":  {"s000", "S2", "NULL"},
				"last_type":    {"View", "Purchase", "NULL"},
				"top_store":    {fmt.Sprintf("s%03d", n-1), "S2", "NULL"},
				"bottom_store": {"s000", "S2", "NULL"},
			})
		})
	}
}

// Two activities of m2 at the same time: first takes the smallest value,
// last the largest, whichever row comes first in the file.
func TestFirstLastTiesTakeTheValueOrder(t *testing.T) {
	tie := "e6,m2,2024-03-02 10:00:00,View,,S1\n"
	for name, events := range map[string]string{"after": shopEvents + tie, "before": strings.Replace(shopEvents, "e5,", strings.TrimSuffix(tie, "\n")+"\ne5,", 1)} {
		t.Run(name, func(t *testing.T) {
			s := runShop(t, writeShop(t, events, ""), shopNow)
			s.checkMeasures(map[string][3]string{
				"first_store": {"S1", "S1", "NULL"},
				"last_type":   {"View", "View", "NULL"},
			})
		})
	}
}

// Two purchases of m2 with the same amount at the same time: argmax and
// argmin (by a float, and by the time) take the smallest value, whichever
// row comes first in the file.
func TestArgmaxTiesTakeTheValueOrder(t *testing.T) {
	tie := "e6,m2,2024-03-02 10:00:00,Purchase,5,S1\n"
	byTime := "  latest_store: {aggregate: argmax, of: store, by: ts}\n  earliest_store: {aggregate: argmin, of: store, by: ts}\n"
	for name, events := range map[string]string{"after": shopEvents + tie, "before": strings.Replace(shopEvents, "e5,", strings.TrimSuffix(tie, "\n")+"\ne5,", 1)} {
		t.Run(name, func(t *testing.T) {
			dir := writeShop(t, events, "")
			cfg, err := os.ReadFile(filepath.Join(dir, "knit.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			aov := "  aov: {formula: revenue / n_purchase}\n"
			if !strings.Contains(string(cfg), aov) {
				t.Fatal("the shop's configuration has no aov measure to add the time measures after")
			}
			writeProjectFile(t, dir, "knit.yaml", strings.Replace(string(cfg), aov, aov+byTime, 1))
			s := runShop(t, dir, shopNow)
			s.checkMeasures(map[string][3]string{
				"top_store":      {"S2", "S1", "NULL"},
				"bottom_store":   {"S1", "S1", "NULL"},
				"latest_store":   {"S1", "S1", "NULL"},
				"earliest_store": {"S1", "S1", "NULL"},
			})
		})
	}
}

// An event's key is matched as stored, against the distinct stored values
// (trimmed only to standardise them): a key with spaces around it
// resolves to the same customer as the bare key. On DuckDB the activity
// IDs, sources and types are written with the compression picked for
// them, not one DuckDB searched for.
func TestPaddedKeysAndActivityCompression(t *testing.T) {
	events := shopEvents + "e6,  m2 ,2024-03-03 10:00:00,View,,S1\n"
	s := runShop(t, writeShop(t, events, ""), shopNow)
	if got := s.value(`SELECT "Member" FROM src_events WHERE "EventID" = 'e6'`); got != "  m2 " {
		t.Fatalf("e6's stored key = %q, want it padded (the test needs the spaces)", got)
	}
	m2 := s.customer("m2")
	if got := s.value(`SELECT string_agg(primary_key, ',' ORDER BY primary_key) FROM activities a JOIN known_since ks ON ks.customer_key = a.customer_key WHERE ks.customer_id = ?`, m2); got != "e5,e6" {
		t.Errorf("m2's activities = %s, want e5,e6", got)
	}
	if a := s.rep.Insights.Activities; a.Activities["events"] != 6 || a.Unresolved["events"] != 0 {
		t.Errorf("activities %+v, want 6 written and none unresolved", a)
	}
	if got := s.value(`SELECT string_agg(DISTINCT column_name || ' ' || compression, ', ' ORDER BY column_name || ' ' || compression)
  FROM pragma_storage_info('activities') WHERE column_name IN ('primary_key', 'source', 'type') AND segment_type = 'VARCHAR'`); got != "primary_key FSST, source Dictionary, type Dictionary" {
		t.Errorf("compression of activities = %s", got)
	}
}
