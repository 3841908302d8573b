package source

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkCSV reads a generated 1,000,000-row file shaped like web events
// and reports rows per second.
func BenchmarkCSV(b *testing.B) {
	const rows = 1_000_000
	dir := b.TempDir()
	f, err := os.Create(filepath.Join(dir, "events.csv"))
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "EventID,AnonymousID,UserID,Email,EventType,EventTimeStamp,Url")
	for i := range rows {
		fmt.Fprintf(w, "ev-%d,anon-%d,user-%d,person%d@example.com,page_view,07-23-2022 10:%02d:%02d,\"https://shop.example.com/p/%d?a=1,b=2\"\n",
			i, i%50000, i%20000, i%20000, i%60, i%60, i%997)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	src := csvSource("events.csv")
	src.PrimaryKey = "EventID"
	b.ResetTimer()
	for b.Loop() {
		r, err := Open(dir, src)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			_, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		r.Close()
		if n != rows {
			b.Fatalf("read %d rows, want %d", n, rows)
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
