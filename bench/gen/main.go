// Command gen writes a synthetic knit project with ground truth for
// benchmarks and accuracy tests:
//
//	go run ./bench/gen -preset unify-1m -out /tmp/unify1m
//
// It is package demo's Generate behind flags; see docs/demo-data.md.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/knit-cdp/knit/demo"
)

func main() {
	preset := flag.String("preset", "small", "workload: "+strings.Join(demo.PresetNames, ", "))
	customers := flag.Int("customers", 0, "number of customers (person records for people presets); 0 keeps the preset's")
	seed := flag.Int64("seed", 0, "random seed; 0 keeps the preset's; the same seed gives the same bytes")
	out := flag.String("out", "", "project folder to write (required)")
	flag.Parse()
	if *out == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: gen -preset NAME -out FOLDER [-customers N] [-seed S]")
		os.Exit(2)
	}
	opt, err := demo.Preset(*preset)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(2)
	}
	if *customers > 0 {
		if opt.Dataset == demo.People {
			opt.PersonRecords = *customers
		} else {
			opt.Customers = *customers
		}
	}
	if *seed != 0 {
		opt.Seed = *seed
	}
	start := time.Now()
	st, err := demo.Generate(*out, opt)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	elapsed := time.Since(start)
	fmt.Println(st)
	fmt.Printf("%d rows in %.2fs: %.0f rows/s, %.1f MB/s\n", st.Rows(), elapsed.Seconds(),
		float64(st.Rows())/elapsed.Seconds(), float64(st.Bytes)/1e6/elapsed.Seconds())
}
