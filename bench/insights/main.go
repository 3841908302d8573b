// Command insights times knit's activities, measures and segments stages
// and a Parquet export on a synthetic workload: 1,000,000 customers and
// 50,000,000 web events, 20 customer measures and 20 segments of mixed
// shapes. The unified tables (profiles, records, identifiers) and the raw
// event table are generated directly in DuckDB with SQL, which takes
// seconds where running the whole pipeline over 50M CSV rows would take
// many minutes; the stages timed are the real ones, reading the tables the
// pipeline would have written.
//
//	go run ./bench/insights -dir /tmp/knit-bench -customers 1000000 -events 50000000 -runs 3
//
// A folder holding a workload of the same size is reused (its earlier
// results dropped); -regenerate forces a new one, -runs 0 only generates.
// Run 1 writes the activities and starts the segment history; later runs
// over the unchanged events keep the activities (and, memberships being
// unchanged, the history); -fresh drops the results before every run, so
// each run is a first run. The medians are printed for all runs and, when
// both kinds occur, for the runs that wrote and that kept the activities.
// -trace prints every statement of the stages with its time, -explain
// DuckDB's EXPLAIN ANALYZE profile of every write.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/knit-cdp/knit/config"
	"github.com/knit-cdp/knit/duckdb"
	"github.com/knit-cdp/knit/engine"
	"github.com/knit-cdp/knit/export"
	"github.com/knit-cdp/knit/insights"
)

const benchConfig = `sources:
  members:
    file: members.csv
    primary_key: MemberID
    identifiers: {MemberID: member_id}
    attributes: {City: address.city}
  web:
    file: web.csv
    kind: events
    primary_key: EventID
    visitor_key: VisitorID
    timestamp: {column: TS, format: rfc3339}
    identifiers: {VisitorID: member_id}
    columns: {Amount: float}
unify:
  include_all_records: [members]
activities:
  web:
    type_column: EventName
    properties: {Amount: amount, Store: store}
measures:
  events_all: {aggregate: count}
  views: {aggregate: count, activity: Product view}
  checkouts: {aggregate: count, activity: Checkout}
  views_30d: {aggregate: count, activity: Product view, window: in the last 30 days}
  checkouts_90d: {aggregate: count, activity: Checkout, window: in the last 90 days}
  revenue: {aggregate: sum, of: amount, activity: Checkout}
  revenue_365d: {aggregate: sum, of: amount, activity: Checkout, window: in the last 1 year}
  revenue_s1: {aggregate: sum, of: amount, activity: Checkout, where: 'store = "S1"'}
  avg_order: {aggregate: avg, of: amount, activity: Checkout}
  min_order: {aggregate: min, of: amount, activity: Checkout}
  max_order: {aggregate: max, of: amount, activity: Checkout}
  stores: {aggregate: count_distinct, of: store}
  first_store: {aggregate: first, of: store}
  last_store: {aggregate: last, of: store}
  top_store: {aggregate: argmax, of: store, by: amount}
  days_since_first: {aggregate: days_since_first}
  days_since_last: {aggregate: days_since_last}
  big_orders: {aggregate: count, activity: Checkout, where: amount >= 50}
  revenue_2024: {aggregate: sum, of: amount, window: between 2024-01-01 and 2024-12-31}
  aov: {formula: revenue / checkouts}
segments:
  everyone: known or unknown
  known_buyers: known and did "Checkout"
  browsed_not_bought: known and did "Product view" and never did "Checkout"
  frequent: did "Checkout" at least 5 times
  recent_viewers: did "Product view" in the last 30 days
  lapsed: did "Checkout" and never did "Checkout" in the last 90 days
  s1_regulars: did "Checkout" where store = "S1" at least 3 times
  high_value: revenue >= 500
  high_aov: aov > 60
  new_customers: first seen in the last 90 days
  early_unknown: first seen before 6 months ago while unknown
  portland: address.city = "Portland"
  not_portland: address.city != "Portland" and known
  has_member_id: has member_id
  many_stores: stores >= 3
  dormant: days_since_last > 180
  vip: in segment high_value and in segment frequent
  at_risk: in segment high_value and not in segment recent_viewers
  reach: in segment recent_viewers or in segment known_buyers
  big_spenders_2024: revenue_2024 > 300 and did "Checkout" where amount >= 50
exports:
  everyone_parquet: {segment: everyone, to: parquet, path: exports}
`

func main() {
	dir := flag.String("dir", "/tmp/knit-bench", "project folder (its knit.duckdb is rebuilt)")
	customers := flag.Int("customers", 1_000_000, "customers")
	events := flag.Int("events", 50_000_000, "web events")
	runs := flag.Int("runs", 3, "timed repetitions (the median is reported); 0 only generates the workload")
	trace := flag.Bool("trace", false, "print every statement of the stages with its time (to stderr)")
	explain := flag.Bool("explain", false, "run every write statement under EXPLAIN ANALYZE and print its profile (to stderr)")
	regenerate := flag.Bool("regenerate", false, "generate the workload even when the folder holds one of the same size")
	fresh := flag.Bool("fresh", false, "drop the stages' results before every run: every run writes the activities and starts the history")
	flag.Parse()
	if err := run(*dir, *customers, *events, *runs, *regenerate, *fresh, *trace || *explain, *explain); err != nil {
		fmt.Fprintln(os.Stderr, "bench/insights:", err)
		os.Exit(1)
	}
}

func run(dir string, customers, events, runs int, regenerate, fresh, trace, explain bool) error {
	ctx := context.Background()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range []string{"knit.yaml", "members.csv", "web.csv"} {
		content := "x\n"
		if f == "knit.yaml" {
			content = benchConfig
		}
		if err := os.WriteFile(filepath.Join(dir, f), []byte(content), 0o644); err != nil {
			return err
		}
	}
	proj, err := config.Load(dir)
	if err != nil {
		return err
	}
	db, err := openWorkload(ctx, filepath.Join(dir, "knit.duckdb"), customers, events, regenerate)
	if err != nil {
		return err
	}
	defer db.Close()
	var eng engine.Engine = db
	if trace {
		eng = &tracing{Engine: db, explain: explain}
	}

	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	stageNames := []string{"activities", "measures", "segments"}
	times := map[string][]float64{}
	var wrote []bool // per run: whether the activities were written
	for i := 1; i <= runs; i++ {
		if fresh && i > 1 {
			if err := dropResults(ctx, db); err != nil {
				return err
			}
		}
		env := &insights.Env{Eng: eng, Proj: proj, Tables: insights.NewTables()}
		var staged []string
		total := time.Now()
		cpu0 := processCPU()
		for _, st := range stageNames {
			t0, c0 := time.Now(), processCPU()
			stageTables := insights.StageTables[st]
			switch st {
			case "activities":
				var acts *insights.ActivityStats
				if acts, err = insights.BuildActivities(ctx, env); err == nil {
					stageTables = acts.Staged()
					wrote = append(wrote, !acts.Reused)
					if acts.Reused {
						fmt.Println("  activities reused: the events, keys and settings did not change")
					}
				}
			case "measures":
				_, err = insights.BuildMeasures(ctx, env, now)
			case "segments":
				var segs []*insights.SegmentStats
				segs, err = insights.BuildSegments(ctx, env, int64(i), now)
				if err == nil {
					stageTables = env.StagedSegmentTables()
				}
				if err == nil && i == 1 {
					for _, s := range segs {
						fmt.Printf("  segment %-20s %9d members  %.2fs\n", s.Name, s.Members, s.Seconds)
					}
				}
			}
			if err != nil {
				return fmt.Errorf("%s: %w", st, err)
			}
			env.Tables.Staged(stageTables...)
			staged = append(staged, stageTables...)
			times[st] = append(times[st], time.Since(t0).Seconds())
			times[st+" cpu"] = append(times[st+" cpu"], processCPU()-c0)
		}
		times["total"] = append(times["total"], time.Since(total).Seconds())
		times["total cpu"] = append(times["total cpu"], processCPU()-cpu0)
		if err := eng.Swap(ctx, staged); err != nil {
			return err
		}
		x := &export.Env{Eng: eng, Proj: proj, RunID: int64(i), Now: now.Add(time.Duration(i) * time.Hour)}
		t0 := time.Now()
		res := export.Run(ctx, x)
		times["export"] = append(times["export"], time.Since(t0).Seconds())
		if res[0].Status != "succeeded" {
			return fmt.Errorf("export: %s", res[0].Error)
		}
		fmt.Printf("run %d: activities %.2fs, measures %.2fs, segments %.2fs, total %.2fs; parquet export of %d rows %.2fs\n", i,
			times["activities"][i-1], times["measures"][i-1], times["segments"][i-1], times["total"][i-1], res[0].Rows, times["export"][i-1])
		fmt.Printf("  cpu seconds: activities %.2f, measures %.2f, segments %.2f, total %.2f\n",
			times["activities cpu"][i-1], times["measures cpu"][i-1], times["segments cpu"][i-1], times["total cpu"][i-1])
	}
	if runs == 0 {
		return nil
	}
	fmt.Printf("median of %d: activities %.2fs, measures %.2fs, segments %.2fs, stages together %.2fs, parquet export %.2fs; peak RSS %s\n", runs,
		median(times["activities"]), median(times["measures"]), median(times["segments"]), median(times["total"]), median(times["export"]), peakRSS())
	for _, kind := range []struct {
		name  string
		wrote bool
	}{{"runs that wrote the activities", true}, {"runs that kept the activities", false}} {
		var n int
		sub := map[string][]float64{}
		for i, w := range wrote {
			if w != kind.wrote {
				continue
			}
			n++
			for k, v := range times {
				sub[k] = append(sub[k], v[i])
			}
		}
		if n > 0 && n < runs {
			fmt.Printf("  median of the %d %s: activities %.2fs, measures %.2fs, segments %.2fs, stages together %.2fs\n", n, kind.name,
				median(sub["activities"]), median(sub["measures"]), median(sub["segments"]), median(sub["total"]))
		}
	}
	return nil
}

// openWorkload opens the benchmark database, reusing a workload of the
// same size generated earlier (generating 50M events takes minutes) after
// dropping the results of the earlier benchmark, so every invocation
// starts from the same tables: run 1 builds segments without history.
func openWorkload(ctx context.Context, db string, customers, events int, regenerate bool) (*duckdb.DB, error) {
	if !regenerate {
		eng, err := duckdb.Open(db)
		if err != nil {
			return nil, err
		}
		if reusable(ctx, eng, customers, events) {
			fmt.Printf("reusing the workload of %d customers and %d events in %s\n", customers, events, db)
			if err := dropResults(ctx, eng); err != nil {
				eng.Close()
				return nil, err
			}
			return eng, nil
		}
		eng.Close()
	}
	os.Remove(db)
	os.Remove(db + ".wal")
	eng, err := duckdb.Open(db)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := generate(ctx, eng, customers, events); err != nil {
		eng.Close()
		return nil, err
	}
	fmt.Printf("generated %d customers and %d events in %.1fs\n", customers, events, time.Since(start).Seconds())
	return eng, nil
}

// dropResults drops every table the stages write, staged or swapped in.
func dropResults(ctx context.Context, eng *duckdb.DB) error {
	for _, tables := range insights.StageTables {
		for _, t := range tables {
			for _, name := range []string{t, engine.StagedName(t)} {
				if err := eng.Exec(ctx, "DROP TABLE IF EXISTS "+eng.Dialect().Quote(name)); err != nil {
					return err
				}
			}
		}
	}
	return eng.Exec(ctx, "CHECKPOINT")
}

// reusable reports whether the database holds a complete workload of this
// size: bench_meta is written last by generate.
func reusable(ctx context.Context, eng *duckdb.DB, customers, events int) bool {
	rows, err := eng.Query(ctx, "SELECT customers, events FROM bench_meta")
	if err != nil {
		return false
	}
	defer rows.Close()
	var c, e int
	return rows.Next() && rows.Scan(&c, &e) == nil && c == customers && e == events
}

// generate writes the tables a pipeline run would have left: profiles,
// records, identifiers and the raw events src_web. Every customer has one
// visitor key (v<i>); events are spread by hashing over 2023–2024, seven
// types (three of them product views), five stores.
func generate(ctx context.Context, eng engine.Engine, customers, events int) error {
	stmts := []string{
		fmt.Sprintf(`CREATE TABLE profiles AS SELECT 'c' || i AS customer_id, i %% 4 <> 0 AS known, 'members/' || i AS anchor_record,
  2::BIGINT AS record_count, 'members,web' AS sources,
  TIMESTAMP '2023-01-01' + INTERVAL (i %% 700) DAY AS first_seen, TIMESTAMP '2024-12-31' AS last_seen, 1::BIGINT AS created_run,
  (['Portland', 'Salem', 'Eugene', 'Bend'])[1 + i %% 4] AS "address.city"
FROM range(%d) t(i)`, customers),
		`CREATE TABLE records AS
  SELECT 'members/' || i AS record_key, 'members' AS source, customer_id, TIMESTAMP '2023-01-01' + INTERVAL (i % 700 + (i % 3) * 30) DAY AS first_seen
  FROM (SELECT customer_id, CAST(substr(customer_id, 2) AS BIGINT) AS i FROM profiles WHERE known)
  UNION ALL SELECT 'web/v' || substr(customer_id, 2), 'web', customer_id, first_seen FROM profiles`,
		`CREATE TABLE identifiers AS SELECT 'member_id' AS type, substr(customer_id, 2) AS value, customer_id FROM profiles WHERE known
  UNION ALL SELECT 'member_id', 'v' || substr(customer_id, 2), customer_id FROM profiles`,
		fmt.Sprintf(`CREATE TABLE src_web AS SELECT 'web.csv' AS _file, i + 2 AS _line, 'e' || i AS "EventID",
  'v' || CAST(hash(i) %% %d AS BIGINT) AS "VisitorID",
  TIMESTAMP '2023-01-01' + INTERVAL (CAST(hash(i + 1) %% 63072000 AS BIGINT)) SECOND AS "TS",
  (['Product view', 'Product view', 'Product view', 'Add to cart', 'Checkout', 'Search', 'Page view'])[1 + CAST(hash(i + 2) %% 7 AS BIGINT)] AS "EventName",
  CASE WHEN hash(i + 2) %% 7 = 4 THEN round((hash(i + 3) %% 10000) / 100.0, 2) END AS "Amount",
  'S' || (1 + CAST(hash(i + 4) %% 5 AS BIGINT)) AS "Store"
FROM range(%d) t(i)`, customers, events),
		fmt.Sprintf("CREATE TABLE bench_meta AS SELECT %d AS customers, %d AS events", customers, events),
		"CHECKPOINT",
	}
	for _, s := range stmts {
		if err := eng.Exec(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[len(s)/2]
}

// processCPU is the CPU time, user and system, the process has used so
// far (seconds): on a shared machine it compares variants better than
// wall time.
func processCPU() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// peakRSS is the process's high-water resident memory (Linux).
func peakRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			return strings.TrimSpace(strings.TrimPrefix(line, "VmHWM:"))
		}
	}
	return "unknown"
}
